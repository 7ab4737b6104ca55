package history_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
	"warden/core/history"
)

// TestAManagersNightReadsBack runs a real Manager through a night: connected
// for an hour, a drop, Warden closed while reconnecting, started again eight
// hours later on the same store. The events it recorded must read back with
// the night as a gap: neither downtime nor recovery time.
func TestAManagersNightReadsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d, s := coretest.NewDialer(), coretest.NewStore()
		p := core.DefaultPolicy()
		p.Jitter = 0
		noJitter := func() float64 { return 0 }

		m1, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p, Rand: noJitter})
		if err != nil {
			t.Fatal(err)
		}
		if err := m1.Start(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		acct, err := m1.Add(ctx, "Night shift")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		d.Last(acct.ID).Pair()
		synctest.Wait()

		time.Sleep(time.Hour)
		d.Last(acct.ID).Emit(core.SessionEvent{Kind: core.SessionDisconnected, Code: 503})
		synctest.Wait()
		time.Sleep(2 * time.Second) // waiting for attempt 1 when Warden is closed
		if err := m1.Close(ctx); err != nil {
			t.Fatal(err)
		}

		time.Sleep(8 * time.Hour)
		m2, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p, Rand: noJitter})
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close(ctx)
		if err := m2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Hour)
		now := time.Now()

		evs, err := m2.Events(ctx, acct.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		segs := history.Segments(evs, start, now, now)
		var gaps []history.Segment
		for _, sg := range segs {
			if sg.Gap {
				gaps = append(gaps, sg)
			}
		}
		if len(gaps) != 1 || gaps[0].Duration() != 8*time.Hour || gaps[0].Reason != history.ReasonStopped {
			t.Fatalf("the night reads as gaps %+v, want one of 8 h while Warden was not running", gaps)
		}

		st := history.StatsOf(evs, start, now, now)
		if st.Running != 2*time.Hour+2*time.Second {
			t.Errorf("Warden watched %v, want the 2 h 2 s it ran", st.Running)
		}
		if st.Disconnects != 1 || st.Recoveries != 1 {
			t.Errorf("%d disconnects and %d recoveries, want the one drop, recovered", st.Disconnects, st.Recoveries)
		}
		// 2 s before Warden closed; after the start, Connected at once.
		if st.RecoverWorst != 2*time.Second {
			t.Errorf("time to recover %v, want the 2 s Warden was running", st.RecoverWorst)
		}
		if want := 2 * time.Hour; st.Connected != want {
			t.Errorf("connected %v of %v, want %v", st.Connected, st.Running, want)
		}
	})
}
