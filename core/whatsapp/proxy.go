package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/proxy"

	"warden/core"
)

// Proxies. A session goes out through its account's proxy, or the Dialer's
// default one when the account has none (and not at all for
// core.ProxyDirect): the websocket, the pre-login requests and media alike.
// Warden builds the transports itself instead of calling whatsmeow's
// SetProxy, which would replace the Dialer's websocket transport (the one
// without a connection pool, see websocketClient).
//
// With Config.HTTPClient (the demo and tests), which sends every connection
// to the fake server and stands plain TCP in for TLS, a SOCKS5 proxy carries
// those plain connections. An HTTP proxy cannot: net/http speaks TLS itself
// after CONNECT, and the fake server has none.

// proxyDialTimeout bounds reaching the proxy itself.
const proxyDialTimeout = 20 * time.Second

// SetDefaultProxy sets the proxy of accounts without one of their own, from
// their next connection on. "" means none.
func (d *Dialer) SetDefaultProxy(raw string) error {
	p, err := core.NormalizeProxy(raw)
	if err != nil {
		return err
	}
	if p == core.ProxyDirect {
		p = ""
	}
	d.defaultProxy.Store(&p)
	return nil
}

// proxyFor returns the proxy acct's sessions use, "" for none.
func (d *Dialer) proxyFor(acct core.Account) string {
	switch acct.Proxy {
	case core.ProxyDirect:
		return ""
	case "":
		if p := d.defaultProxy.Load(); p != nil {
			return *p
		}
		return ""
	}
	return acct.Proxy
}

// proxied returns a copy of base (nil: net/http's default transport) whose
// connections go through the proxy.
func proxied(base *http.Client, raw string) (*http.Client, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", core.RedactProxy(raw), err)
	}
	if base == nil {
		base = &http.Client{}
	}
	bt, ok := base.Transport.(*http.Transport)
	if !ok || bt == nil {
		bt = http.DefaultTransport.(*http.Transport)
	}
	t := bt.Clone()
	direct := &net.Dialer{Timeout: proxyDialTimeout}
	switch u.Scheme {
	case "socks5", "socks5h":
		px, err := proxy.FromURL(u, direct)
		if err != nil {
			return nil, fmt.Errorf("proxy %s: %w", core.RedactProxy(raw), err)
		}
		dial := px.(proxy.ContextDialer).DialContext
		t.Proxy = nil
		t.DialContext = dial
		if t.DialTLSContext != nil { // the fake server's plain TCP for TLS
			t.DialTLSContext = dial
		}
	case "http", "https":
		t.Proxy = http.ProxyURL(u)
		t.DialContext = direct.DialContext
		t.DialTLSContext = nil
		// net/http reports a CONNECT that is not answered 200 with the
		// status text alone; this keeps the status for classifyProxyError.
		t.OnProxyConnectResponse = func(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
			if resp.StatusCode != http.StatusOK {
				return &connectError{code: resp.StatusCode, status: resp.Status}
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("proxy %s: unsupported kind %q", core.RedactProxy(raw), u.Scheme)
	}
	c := *base
	c.Transport = t
	return &c, nil
}

// connectError is an HTTP proxy's answer to CONNECT other than 200.
type connectError struct {
	code   int
	status string // "407 Proxy Authentication Required"
}

func (e *connectError) Error() string { return "the proxy answered " + e.status }

// proxyError says what went wrong with the proxy in an operator's words, or
// returns nil when err is not the proxy's doing.
type proxyError struct {
	what  string // "refused the connection"
	proxy string // redacted
	auth  bool   // it refused (or asked for) a user name and password
	down  bool   // the proxy itself cannot be reached
	err   error
}

func (e *proxyError) Error() string { return "the proxy " + e.proxy + " " + e.what }
func (e *proxyError) Unwrap() error { return e.err }

// DialProblem implements core.DialProblemer: the proxy's own words name it.
func (e *proxyError) DialProblem() core.DialProblem {
	switch {
	case e.auth:
		return core.ProblemProxyAuth
	case e.down:
		return core.ProblemProxyDown
	}
	return core.ProblemProxy
}

func classifyProxyError(err error, raw string) error {
	if err == nil || raw == "" {
		return nil
	}
	msg := err.Error()
	var what string
	auth, down := false, false
	var netErr net.Error
	var connErr *connectError
	switch {
	// An HTTP proxy says 407 to both; it refused what it was given, if
	// anything.
	case errors.As(err, &connErr) && connErr.code == http.StatusProxyAuthRequired:
		what, auth = "needs a user name and password", true
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			what = "refused the user name or password"
		}
	case errors.As(err, &connErr):
		what = "could not reach WhatsApp (" + connErr.status + ")"
	case strings.Contains(msg, "no acceptable authentication methods"):
		what, auth = "needs a user name and password", true
	case strings.Contains(msg, "username/password authentication failed"):
		what, auth = "refused the user name or password", true
	case errors.Is(err, syscall.ECONNREFUSED):
		what, down = "refused the connection: is it running, and is the port right?", true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		what, down = "cannot be reached from this machine", true
	// The proxy answered, but could not reach WhatsApp for us.
	case strings.Contains(msg, "socks connect") && (strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "host unreachable") || strings.Contains(msg, "network unreachable") ||
		strings.Contains(msg, "general SOCKS server failure") || strings.Contains(msg, "connection not allowed")):
		what = "could not reach WhatsApp (" + socksReply(msg) + ")"
	case strings.Contains(msg, "no such host") && strings.Contains(msg, "dial tcp"):
		what, down = "has a host name that does not resolve", true
	case errors.As(err, &netErr) && netErr.Timeout():
		what = "did not answer in time"
	case strings.Contains(msg, "proxyconnect") || strings.Contains(msg, "socks connect"):
		what = "failed: " + msg
	default:
		return nil
	}
	return &proxyError{what: what, proxy: core.RedactProxy(raw), auth: auth, down: down, err: err}
}

// socksReply picks the SOCKS server's reply out of x/net's error text.
func socksReply(msg string) string {
	for _, r := range []string{"connection refused", "host unreachable", "network unreachable",
		"general SOCKS server failure", "connection not allowed by ruleset"} {
		if strings.Contains(msg, r) {
			return r
		}
	}
	return "it said no"
}
