package core

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Proxies. Each account can go out through its own proxy (Account.Proxy);
// an account without one uses the default proxy of the settings, if any.
// "direct" makes an account bypass that default.

// ProxyDirect is the Account.Proxy value that means no proxy, even when a
// default proxy is set.
const ProxyDirect = "direct"

// ErrInvalidProxy is wrapped by NormalizeProxy's errors.
var ErrInvalidProxy = errors.New("invalid proxy")

// MaxProxyLen bounds a proxy URL, in bytes: a kind, a host, a port and
// user:password fit well within it.
const MaxProxyLen = 2048

// NormalizeProxy checks a proxy URL as an operator types it and returns it in
// canonical form: socks5://, socks5h://, http:// or https://, a host and a
// port, and optionally user:password. "" (no proxy of its own) and "direct"
// are returned as they are.
func NormalizeProxy(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || strings.EqualFold(raw, ProxyDirect) {
		return strings.ToLower(raw), nil
	}
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrInvalidProxy, fmt.Sprintf(format, args...))
	}
	if len(raw) > MaxProxyLen {
		return bad("the proxy URL is longer than %d bytes; a proxy URL holds only the kind, the host, the port and perhaps user:password", MaxProxyLen)
	}
	if !strings.Contains(raw, "://") {
		return bad("start with the kind of proxy, for example socks5://127.0.0.1:1080 or http://proxy.example.com:3128")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("%q is not a URL", RedactProxy(raw))
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "socks5", "socks5h", "http", "https":
	default:
		return bad("%q proxies are not supported: use socks5, socks5h, http or https", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case host == "":
		return bad("the proxy has no host")
	case port == "":
		return bad("the proxy has no port: add it after a colon, for example %s:1080", u.Scheme+"://"+host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad("port %q is not between 1 and 65535", port)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return bad("a proxy URL has no path or query: only the kind, the host and the port")
	}
	if u.User != nil {
		if u.User.Username() == "" {
			return bad("the proxy has a password but no user name")
		}
		if _, set := u.User.Password(); !set {
			return bad("the proxy has a user name but no password: write user:password@")
		}
	}
	u.Path = ""
	u.Host = net.JoinHostPort(strings.ToLower(host), port)
	return u.String(), nil
}

// AccountOption sets something of a new account (see Manager.Add).
type AccountOption func(*Account) error

// WithProxy gives a new account its own proxy (see NormalizeProxy).
func WithProxy(proxy string) AccountOption {
	return func(a *Account) error {
		p, err := NormalizeProxy(proxy)
		if err != nil {
			return err
		}
		a.Proxy = p
		return nil
	}
}

// SetProxy changes the account's proxy. It applies from the account's next
// connection on: a session that is up keeps its socket, so that changing a
// field never drops an account by surprise.
func (m *Manager) SetProxy(ctx context.Context, id AccountID, proxy string) error {
	proxy, err := NormalizeProxy(proxy)
	if err != nil {
		return err
	}
	if err := m.mayRun(id); err != nil {
		return err
	}
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	a.mu.Lock()
	if a.m.deleted {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	if a.m.Account.Proxy == proxy {
		a.mu.Unlock()
		return nil
	}
	a.m.Account.Proxy = proxy
	m.apply(a, []action{{kind: actSave, account: a.m.Account}})
	m.hub.publish(a.m.Status)
	a.mu.Unlock()
	a.log.Info("proxy changed; it applies from the next connection", "proxy", RedactProxy(proxy))
	return m.barrier(ctx, id)
}
