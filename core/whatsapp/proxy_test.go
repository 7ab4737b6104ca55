package whatsapp_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	socks5 "github.com/armon/go-socks5"

	"warden/core"
	"warden/core/fakewa"
)

// socksServer is a real SOCKS5 server on 127.0.0.1 for the test. Every host
// resolves to 127.0.0.1 and every connection it relays goes to the fake
// WhatsApp server, as if WhatsApp's names pointed there; it counts them.
type socksServer struct {
	ln net.Listener

	mu      sync.Mutex
	relayed int
	targets []string
}

type loopbackResolver struct{}

func (loopbackResolver) Resolve(ctx context.Context, name string) (context.Context, net.IP, error) {
	return ctx, net.IPv4(127, 0, 0, 1), nil
}

func newSOCKS(t testing.TB, srv *fakewa.Server, creds map[string]string) *socksServer {
	t.Helper()
	s := &socksServer{}
	cfg := &socks5.Config{
		Resolver: loopbackResolver{},
		Logger:   log.New(io.Discard, "", 0),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			s.mu.Lock()
			s.relayed++
			s.targets = append(s.targets, addr)
			s.mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Addr())
		},
	}
	if creds != nil {
		cfg.Credentials = socks5.StaticCredentials(creds)
	}
	server, err := socks5.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	go func() { _ = server.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	return s
}

func (s *socksServer) url(userinfo string) string {
	if userinfo != "" {
		userinfo += "@"
	}
	return "socks5://" + userinfo + s.ln.Addr().String()
}

func (s *socksServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.relayed
}

// deadPort returns a loopback address nothing listens on.
func deadPort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// An account with a proxy goes through it, for pairing and every login
// after; an account without one does not.
func TestManagerAccountGoesThroughItsProxy(t *testing.T) {
	r := newRig(t, 330, testPolicy())
	px := newSOCKS(t, r.srv, nil)

	ctx := context.Background()
	acct, err := r.m.Add(ctx, "Proxied", core.WithProxy(px.url("")))
	if err != nil {
		t.Fatal(err)
	}
	st := r.waitState(acct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	if px.count() != 1 {
		t.Fatalf("pairing made %d connections through the proxy, want 1", px.count())
	}
	if _, err := r.srv.ScanQR(st.QRCode); err != nil {
		t.Fatal(err)
	}
	st = r.waitState(acct.ID, core.Connected)
	if px.count() != 2 {
		t.Errorf("pairing and the login after made %d connections through the proxy, want 2", px.count())
	}
	for _, target := range px.targets {
		if !strings.HasSuffix(target, ":443") {
			t.Errorf("the proxy was asked for %q, want WhatsApp's port 443", target)
		}
	}

	before := px.count()
	other := r.add("Direct")
	if px.count() != before {
		t.Errorf("an account without a proxy went through it (%d connections)", px.count()-before)
	}

	// A drop: the reconnect goes through the proxy too.
	epoch := st.Epoch
	r.inject(st.Account.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(acct.ID, core.Connected, func(st core.Status) bool { return st.Epoch > epoch })
	if px.count() != before+1 {
		t.Errorf("the reconnect made %d connections through the proxy, want 1", px.count()-before)
	}
	r.oneClient(st.Account.JID)
	r.oneClient(other.JID)
}

// A dead proxy, one that wants a password, and a wrong password each give
// their own reason, follow the schedule, and leave the other accounts alone.
func TestManagerProxyFailures(t *testing.T) {
	p := testPolicy()
	p.Schedule = []core.Backoff{{UpTo: 1, Delay: 50 * time.Millisecond}, {UpTo: 100, Delay: 200 * time.Millisecond}}
	r := newRig(t, 331, p)
	guarded := newSOCKS(t, r.srv, map[string]string{"warden": "s3cret"})
	ctx := context.Background()

	bystander := r.add("Bystander")
	cases := []struct {
		name, proxy, want string
	}{
		{"Dead", "socks5://" + deadPort(t), "refused the connection"},
		{"NoPassword", guarded.url(""), "needs a user name and password"},
		{"WrongPassword", guarded.url("warden:wrong"), "refused the user name or password"},
	}
	accts := make([]core.Account, len(cases))
	for i, c := range cases {
		accts[i] = r.add(c.name)
		if err := r.m.SetProxy(ctx, accts[i].ID, c.proxy); err != nil {
			t.Fatal(err)
		}
		// The proxy applies from the next connection.
		if err := r.m.Disconnect(ctx, accts[i].ID); err != nil {
			t.Fatal(err)
		}
		if err := r.m.Connect(ctx, accts[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cases {
		st := r.waitState(accts[i].ID, core.Waiting, func(st core.Status) bool { return st.Attempt >= 2 })
		t.Logf("%s: %s", c.name, st.Reason)
		// Refused three times in a row, it needs the operator; Warden
		// keeps trying, in case the proxy is fixed on its side.
		st = r.waitState(accts[i].ID, core.Waiting, func(st core.Status) bool { return st.Refusals >= core.RefusalLimit })
		if !st.NeedsAction() || st.NextAttempt.IsZero() {
			t.Errorf("%s: refused %d times in a row: needs action %v, next attempt %v; want needing the operator, still trying",
				c.name, st.Refusals, st.NeedsAction(), st.NextAttempt)
		}
		if want := map[string]core.DialProblem{"Dead": core.ProblemProxyDown}[c.name]; want == 0 && st.Problem != core.ProblemProxyAuth ||
			want != 0 && st.Problem != want {
			t.Errorf("%s: problem %v", c.name, st.Problem)
		}
		if !strings.Contains(st.Reason, c.want) {
			t.Errorf("%s: reason %q, want it to say %q", c.name, st.Reason, c.want)
		}
		if strings.Contains(st.Reason, "wrong") || strings.Contains(r.timeline(accts[i].ID), "warden:wrong") {
			t.Errorf("%s: the password shows: %q", c.name, st.Reason)
		}
		if r.srv.LoggedIn(accts[i].JID) != 0 {
			t.Errorf("%s logged in despite its proxy", c.name)
		}
	}
	r.stays(bystander.ID, core.Connected, 300*time.Millisecond)

	// The right password gets it through.
	if err := r.m.SetProxy(ctx, accts[2].ID, guarded.url("warden:s3cret")); err != nil {
		t.Fatal(err)
	}
	r.waitState(accts[2].ID, core.Connected)
	if guarded.count() == 0 {
		t.Error("the account with the right password did not go through the proxy")
	}
	r.oneClient(accts[2].JID)
}

// The default proxy carries accounts without one of their own, from their
// next connection, but not an account set to direct.
func TestDefaultProxy(t *testing.T) {
	r := newRig(t, 332, testPolicy())
	px := newSOCKS(t, r.srv, nil)
	if err := r.d.SetDefaultProxy("nonsense"); err == nil {
		t.Error("SetDefaultProxy accepted nonsense")
	}
	if err := r.d.SetDefaultProxy(px.url("")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	direct, err := r.m.Add(ctx, "Direct", core.WithProxy(core.ProxyDirect))
	if err != nil {
		t.Fatal(err)
	}
	r.waitState(direct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	if px.count() != 0 {
		t.Errorf("a direct account went through the default proxy")
	}
	r.add("Default")
	if px.count() != 2 {
		t.Errorf("an account without a proxy made %d connections through the default, want 2", px.count())
	}
	if err := r.d.SetDefaultProxy(""); err != nil {
		t.Fatal(err)
	}
	before := px.count()
	r.add("After")
	if px.count() != before {
		t.Error("the default proxy was still used after it was removed")
	}
}

// httpProxy is an HTTP proxy on 127.0.0.1 that answers every CONNECT with
// the same status, and remembers whether the last one carried credentials.
type httpProxy struct {
	addr string

	mu      sync.Mutex
	asked   int
	withPwd bool
}

func newHTTPProxy(t testing.TB, status int) *httpProxy {
	t.Helper()
	p := &httpProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.asked++
		p.withPwd = r.Header.Get("Proxy-Authorization") != ""
		p.mu.Unlock()
		if status == http.StatusProxyAuthRequired {
			w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		}
		w.WriteHeader(status)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

func (p *httpProxy) last() (asked int, withPwd bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked, p.withPwd
}

// An HTTP proxy's 407 reads as the SOCKS5 proxy's refusals do: it needs a
// user name and password, or it refused the ones given. Another answer to
// CONNECT is named.
func TestManagerHTTPProxyRefuses(t *testing.T) {
	p := testPolicy()
	p.Schedule = []core.Backoff{{UpTo: 1, Delay: 50 * time.Millisecond}, {UpTo: 100, Delay: 200 * time.Millisecond}}
	r := newRig(t, 333, p)
	ctx := context.Background()
	for _, c := range []struct {
		name, userinfo string
		status         int
		want           string
	}{
		{"NoPassword", "", http.StatusProxyAuthRequired, "needs a user name and password"},
		{"WrongPassword", "warden:wrong@", http.StatusProxyAuthRequired, "refused the user name or password"},
		{"Forbidden", "warden:right@", http.StatusForbidden, "could not reach WhatsApp (403 Forbidden)"},
	} {
		px := newHTTPProxy(t, c.status)
		acct := r.add(c.name)
		if err := r.m.SetProxy(ctx, acct.ID, "http://"+c.userinfo+px.addr); err != nil {
			t.Fatal(err)
		}
		// The proxy applies from the next connection.
		if err := r.m.Disconnect(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.m.Connect(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		st := r.waitState(acct.ID, core.Waiting, func(st core.Status) bool { return st.Attempt >= 1 })
		t.Logf("%s: %s", c.name, st.Reason)
		if want := "the proxy http://" + strings.NewReplacer("wrong", "•••", "right", "•••").Replace(c.userinfo) + px.addr + " " + c.want; !strings.Contains(st.Reason, want) {
			t.Errorf("%s: reason %q, want it to say %q", c.name, st.Reason, want)
		}
		if asked, withPwd := px.last(); asked == 0 || withPwd != (c.userinfo != "") {
			t.Errorf("%s: the proxy was asked %d times, with a password: %v", c.name, asked, withPwd)
		}
	}
}
