package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// proxyRefusal is the error of a dial its proxy refused, as core/whatsapp
// returns it.
type proxyRefusal struct{}

func (proxyRefusal) Error() string {
	return "the proxy socks5://127.0.0.1:1080 refused the user name or password"
}
func (proxyRefusal) DialProblem() core.DialProblem { return core.ProblemProxyAuth }

// A proxy that keeps refusing the password: after three refusals in a row
// /v1/health says the account needs the operator, with the proxy's words,
// while Warden keeps trying.
func TestHealthProxyRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.d.Lock()
	h.d.OnConnect = func(ctx context.Context, s *coretest.Session) error { return proxyRefusal{} }
	h.d.Unlock()
	h.start()
	// The schedule's delays (3 s, 5 s) before the second and third dials.
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := h.m.Status(id) // before the health: stuck then, needing action in it
		a := h.get("/v1/health")
		if a.status == http.StatusServiceUnavailable {
			if body := string(a.body); !strings.Contains(body, `"needs_action":true`) || !strings.Contains(body, "refused the user name or password") {
				t.Errorf("health = %s, want the account needing action, with the proxy's words", body)
			}
			break
		}
		if st.Refusals >= core.RefusalLimit {
			t.Fatalf("refused %d times and health still says %d %s", st.Refusals, a.status, a.body)
		}
		if time.Now().After(deadline) {
			t.Fatal("no three refusals within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, _ := h.m.Status(id); st.NextAttempt.IsZero() && st.State != core.Connecting {
		t.Errorf("Warden stopped trying: %v", st.State)
	}
}
