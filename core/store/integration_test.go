package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

func noJitter() core.Policy {
	p := core.DefaultPolicy()
	p.Jitter = 0
	return p
}

func causes(evs []core.Event) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Cause)
	}
	return strings.Join(out, ", ")
}

// The Manager runs on the real store; a new Manager on a reopened file gets
// the accounts and their timelines back and goes on where the first stopped.
func TestManagerRestartsOnStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), DBFile)
		d := coretest.NewDialer()

		db := openAt(t, path)
		m, err := core.NewManager(core.Config{Dialer: d, Store: db, Policy: noJitter(), Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		support, err := m.Add(ctx, "Support")
		if err != nil {
			t.Fatal(err)
		}
		sales, err := m.Add(ctx, "Sales")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		jids := map[core.AccountID]string{}
		for _, id := range []core.AccountID{support.ID, sales.ID} {
			jids[id] = d.Last(id).Pair()
		}
		synctest.Wait()
		// Support drops and comes back through the schedule (3 s).
		d.Last(support.ID).Emit(core.SessionEvent{Kind: core.SessionDisconnected, Reason: "stream error 503"})
		synctest.Wait()
		time.Sleep(4 * time.Second)
		synctest.Wait()
		for _, st := range m.Statuses() {
			if st.State != core.Connected {
				t.Fatalf("%s is %v (%s) before the restart, want Connected", st.Account.Name, st.State, st.Reason)
			}
		}
		before := map[core.AccountID][]core.Event{}
		for _, id := range []core.AccountID{support.ID, sales.ID} {
			if before[id], err = m.Events(ctx, id, 1000); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		// What the first Manager wrote is on disk.
		db = openAt(t, path)
		accts, err := db.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := map[core.AccountID]string{support.ID: "Support", sales.ID: "Sales"}
		if len(accts) != 2 {
			t.Fatalf("stored accounts after restart = %+v, want 2", accts)
		}
		for _, a := range accts {
			if a.Name != names[a.ID] || a.JID != jids[a.ID] || !a.AutoStart {
				t.Errorf("stored account %+v, want name %q, JID %q and AutoStart", a, names[a.ID], jids[a.ID])
			}
		}
		for _, id := range []core.AccountID{support.ID, sales.ID} {
			stored, err := db.Events(ctx, id, 1000)
			if err != nil {
				t.Fatal(err)
			}
			// Close records "warden stopped" after what the Manager showed.
			n := len(before[id])
			if len(stored) != n+1 || fmt.Sprint(stored[:n]) != fmt.Sprint(utc(before[id])) || stored[n].Cause != core.CauseShutdown {
				t.Errorf("%s: stored timeline\n %v\nwant what the Manager showed before closing\n %v\nand %q", id, stored, before[id], core.CauseShutdown)
			}
			before[id] = stored
		}
		if got := causes(before[support.ID]); !strings.Contains(got, "disconnected, timer, connected") {
			t.Errorf("Support's timeline lacks the reconnection: %s", got)
		}

		m2, err := core.NewManager(core.Config{Dialer: d, Store: db, Policy: noJitter(), Logger: discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.Start(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Minute) // the start-up spread
		synctest.Wait()
		for _, id := range []core.AccountID{support.ID, sales.ID} {
			st, ok := m2.Status(id)
			if !ok || st.State != core.Connected || st.Account.JID != jids[id] {
				t.Errorf("after the restart %s is %v (%s), want Connected with its pairing", id, st.State, st.Reason)
			}
			evs, err := m2.Events(ctx, id, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) <= len(before[id]) || fmt.Sprint(evs[:len(before[id])]) != fmt.Sprint(before[id]) {
				t.Fatalf("%s: the timeline after the restart does not continue the old one:\n%s", id, causes(evs))
			}
			for i, ev := range evs {
				if ev.Seq != uint64(i+1) {
					t.Fatalf("%s: event %d has seq %d: the new Manager broke the sequence", id, i, ev.Seq)
				}
			}
			if got := causes(evs[len(before[id]):]); !strings.HasPrefix(got, core.CauseStartup) {
				t.Errorf("%s: after the restart the timeline goes on with %q, want %q first", id, got, core.CauseStartup)
			}
		}

		// Deleting through the Manager wipes the account and its timeline from the file.
		if err := m2.Delete(ctx, sales.ID); err != nil {
			t.Fatal(err)
		}
		if err := m2.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if accts, _ := db.Accounts(ctx); len(accts) != 1 || accts[0].ID != support.ID {
			t.Errorf("accounts after Delete = %+v, want Support only", accts)
		}
		if evs, _ := db.Events(ctx, sales.ID, 10); len(evs) != 0 {
			t.Errorf("the deleted account still has %d events", len(evs))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// utc returns evs with their times in UTC, as the store gives them back.
func utc(evs []core.Event) []core.Event {
	out := make([]core.Event, len(evs))
	for i, ev := range evs {
		ev.At = ev.At.UTC()
		out[i] = ev
	}
	return out
}
