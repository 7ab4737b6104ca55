package core_test

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// lockedBuffer is a bytes.Buffer for a logger that many goroutines write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// At shutdown an account that waits for the operator keeps its state: the
// log notes that Warden stopped at Info, and names no transition of a state
// to itself, least of all as a warning ("Failed → Failed").
func TestShutdownOfAnAccountThatWaitsForTheOperator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs lockedBuffer
		d, s := coretest.NewDialer(), coretest.NewStore()
		m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter(),
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		jid := "15550001111.0:1@s.whatsapp.net"
		d.AddDevice(jid)
		if err := s.PutAccount(ctx, core.Account{ID: "running", Name: "Running", JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		failed, err := m.Add(ctx, "Failed")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		d.Last(failed.ID).Emit(core.SessionEvent{Kind: core.SessionPairError, Reason: "the phone said no"})
		synctest.Wait()
		for id, want := range map[core.AccountID]core.State{"running": core.Connected, failed.ID: core.Failed} {
			if st, _ := m.Status(id); st.State != want {
				t.Fatalf("%s is %v (%s), want %v", id, st.State, st.Reason, want)
			}
		}
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}

		out := logs.String()
		selfLoop := regexp.MustCompile(`msg="state (\S+) → (\S+)"`)
		noted := false
		for _, line := range strings.Split(out, "\n") {
			if m := selfLoop.FindStringSubmatch(line); m != nil && m[1] == m[2] {
				t.Errorf("a state to itself is logged as a transition: %s", line)
			}
			if strings.Contains(line, "account="+string(failed.ID)) && strings.Contains(line, `cause="`+core.CauseShutdown+`"`) {
				noted = true
				if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "Failed") {
					t.Errorf("the shutdown of a Failed account is logged as %s; want it at INFO, naming its state", line)
				}
			}
			if strings.Contains(line, "account=running") && strings.Contains(line, `cause="`+core.CauseShutdown+`"`) &&
				!(strings.Contains(line, "level=INFO") && strings.Contains(line, "Connected → Idle")) {
				t.Errorf("the shutdown of a running account is logged as %s; want Connected → Idle at INFO", line)
			}
		}
		if !noted {
			t.Errorf("the shutdown of the Failed account is not logged:\n%s", out)
		}
	})
}
