package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// wrapped wraps err as whatsmeow and its websocket library do.
func wrapped(err error) error {
	return fmt.Errorf("connect a1: failed to dial whatsapp web websocket: failed to WebSocket dial: %w", err)
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// silentPort returns a loopback address that accepts connections and never
// says a word.
func silentPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	return ln.Addr().String()
}

// proxyRefusal is an adapter's proxy error, as core/whatsapp's.
type proxyRefusal struct{ err error }

func (e proxyRefusal) Error() string {
	return "the proxy socks5://127.0.0.1:1080 refused the user name or password"
}
func (e proxyRefusal) Unwrap() error            { return e.err }
func (e proxyRefusal) DialProblem() DialProblem { return ProblemProxyAuth }

// TestClassifyDialError classifies real errors of real dials: a name that
// cannot resolve, a closed port, a TLS server whose certificate nobody
// trusts, a server that never answers, each as whatsmeow wraps them.
func TestClassifyDialError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d net.Dialer

	_, dnsErr := d.DialContext(ctx, "tcp", "web.nonexistent.invalid:443")
	_, refused := d.DialContext(ctx, "tcp", closedPort(t))

	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, untrusted := (&http.Client{Timeout: 20 * time.Second}).Get(srv.URL) // *url.Error around x509's

	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	_, silent := (&tls.Dialer{}).DialContext(short, "tcp", silentPort(t))

	// A plain-text server where TLS was expected.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	_, noTLS := (&http.Client{Timeout: 20 * time.Second}).Get(strings.Replace(plain.URL, "http:", "https:", 1))

	tests := []struct {
		name string
		err  error
		want DialProblem
		line string // what the line says, in part
	}{
		{"a name that does not resolve", dnsErr, ProblemNoDNS, "no internet or DNS"},
		{"a refused connection", refused, ProblemRefused, "refused the connection"},
		{"an untrusted certificate", untrusted, ProblemTLS, "untrusted certificate"},
		{"no TLS where TLS was expected", noTLS, ProblemTLS, "secure connection"},
		{"no answer in time", silent, ProblemTimeout, "did not answer in time"},
		{"a proxy's refusal, in its own words", wrapped(proxyRefusal{errors.New("username/password authentication failed")}), ProblemProxyAuth,
			"the proxy socks5://127.0.0.1:1080 refused the user name or password"},
		{"a device in use is no network problem", fmt.Errorf("%w: %q", ErrDeviceInUse, "Sales"), ProblemNone, ""},
		{"a cancelled dial is no network problem", wrapped(context.Canceled), ProblemNone, ""},
		{"no error", nil, ProblemNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil && tt.name != "no error" {
				t.Fatal("the dial did not fail")
			}
			for _, err := range []error{tt.err, wrapped(tt.err)} {
				if err != nil && tt.err == nil {
					continue
				}
				got, line := ClassifyDialError(err)
				if got != tt.want || !strings.Contains(line, tt.line) || (tt.line == "") != (line == "") {
					t.Errorf("ClassifyDialError(%v) = %v, %q; want %v, a line with %q", err, got, line, tt.want, tt.line)
				}
			}
		})
	}
}

// TestDialProblemSteps follows an account whose dials keep failing: the
// status says the problem in one line and keeps the error as its detail;
// a proxy refusing the password three times in a row needs the operator
// while Warden keeps trying; a network problem never does; a connection
// clears it all.
func TestDialProblemSteps(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = 0
	auth := wrapped(proxyRefusal{errors.New("username/password authentication failed")})
	noDNS := wrapped(&net.DNSError{Err: "no such host", Name: "web.whatsapp.com", IsNotFound: true})

	run := func(t *testing.T, m machine, ins ...input) machine {
		t.Helper()
		now := t0
		for _, in := range ins {
			if in.kind == inTick {
				in.at = m.deadline[timerDial]
				now = in.at
			}
			in.epoch = m.Epoch
			var err error
			if m, _, err = step(m, in, now, p); err != nil {
				t.Fatalf("step(%v): %v", in, err)
			}
		}
		return m
	}
	fail := func(err error) input { return input{kind: inDialFailed, err: err} }
	tick := input{kind: inTick, timer: timerDial}

	m := run(t, fixture(Connecting), fail(auth), tick, fail(auth))
	if m.State != Waiting || m.Problem != ProblemProxyAuth || m.Refusals != 2 || m.NeedsAction() {
		t.Fatalf("two refusals: %v, %v ×%d, needs action %v; want Waiting, the proxy's refusal ×2, not yet", m.State, m.Problem, m.Refusals, m.NeedsAction())
	}
	if !strings.Contains(m.Reason, "refused the user name or password") || strings.Contains(m.Reason, "failed to dial") {
		t.Errorf("reason %q, want the proxy's refusal in one line", m.Reason)
	}
	if !strings.Contains(m.Detail, "refused") {
		t.Errorf("detail %q, want the error", m.Detail)
	}
	m = run(t, m, tick)
	if m.State != Connecting || m.Problem != ProblemProxyAuth {
		t.Fatalf("retrying: %v, %v; want Connecting with the problem kept", m.State, m.Problem)
	}
	m = run(t, m, fail(auth))
	if !m.NeedsAction() || m.State != Waiting || m.NextAttempt.IsZero() {
		t.Errorf("three refusals in a row: %v, needs action %v, next attempt %v; want Waiting, needing the operator, still trying", m.State, m.NeedsAction(), m.NextAttempt)
	}
	if m = run(t, m, tick); !m.NeedsAction() {
		t.Error("the account stops needing the operator while its next dial runs")
	}
	if m = run(t, m, fail(noDNS)); m.Problem != ProblemNoDNS || m.Refusals != 1 || m.NeedsAction() {
		t.Errorf("another problem: %v ×%d, needs action %v; want no DNS ×1, not needing action", m.Problem, m.Refusals, m.NeedsAction())
	}
	if want := "this computer cannot reach WhatsApp: no internet or DNS"; m.Reason != want {
		t.Errorf("reason %q, want %q", m.Reason, want)
	}
	m = run(t, m, tick, fail(noDNS), tick, fail(noDNS), tick, fail(noDNS))
	if m.Refusals != 4 || m.NeedsAction() {
		t.Errorf("no DNS four times: ×%d, needs action %v; want ×4, Warden's to handle", m.Refusals, m.NeedsAction())
	}
	m = run(t, m, tick, input{kind: inSession, ev: SessionEvent{Kind: SessionConnected}})
	if m.State != Connected || m.Problem != ProblemNone || m.Refusals != 0 || m.Detail != "" {
		t.Errorf("connected: %v, %v ×%d, detail %q; want Connected and no problem", m.State, m.Problem, m.Refusals, m.Detail)
	}

	// An account that was never paired stops, saying why in one line.
	unpaired := fixture(Connecting)
	unpaired.Account.JID = ""
	m = run(t, unpaired, fail(noDNS))
	if m.State != Idle || m.Problem != ProblemNoDNS || !strings.HasPrefix(m.Reason, "this computer cannot reach WhatsApp: no internet or DNS") {
		t.Errorf("unpaired: %v, %v, %q; want Idle, no DNS, the line", m.State, m.Problem, m.Reason)
	}
	if m = run(t, m, input{kind: inConnect}); m.State != Pairing || m.Problem != ProblemNone {
		t.Errorf("Connect again: %v, %v; want Pairing, the old problem gone", m.State, m.Problem)
	}
}
