package core_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// fakeGate allows the accounts it holds tokens for.
type fakeGate struct {
	mu     sync.Mutex
	tokens map[core.AccountID]int64
}

func (g *fakeGate) Allowed(id core.AccountID) (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tokens[id]
	return t, ok
}

func (g *fakeGate) set(id core.AccountID, token int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if token == 0 {
		delete(g.tokens, id)
		return
	}
	g.tokens[id] = token
}

func TestGateDialsOnlyOwnedAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, s := coretest.NewDialer(), coretest.NewStore()
		gate := &fakeGate{tokens: map[core.AccountID]int64{}}
		m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter(), Gate: gate})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = m.Close(context.Background()) })
		r := &rig{t: t, m: m, d: d, s: s}
		mine, theirs := r.paired("mine"), r.paired("theirs")
		gate.set(mine, 41)
		r.startManager()
		time.Sleep(m.Policy().StartWindow + time.Second) // every start dial is due
		synctest.Wait()

		r.wantState(mine, core.Connected)
		st := r.wantState(theirs, core.Idle)
		if st.Reason != "run by another Warden node" || !st.Account.AutoStart {
			t.Errorf("the account of another node: %q, AutoStart %v; want the reason and AutoStart kept", st.Reason, st.Account.AutoStart)
		}
		if d.Created() != 1 || d.MaxOpen(theirs) != 0 {
			t.Errorf("%d sessions, %d for the other node's account; want 1 and 0", d.Created(), d.MaxOpen(theirs))
		}
		if stored, _ := s.Account(theirs); !stored.AutoStart {
			t.Error("refusing the dial cleared AutoStart in the store")
		}
		for _, ev := range r.notes(mine, core.SessionConnected.String()) {
			if ev.Token != 41 {
				t.Errorf("event %v carries token %d, want 41", ev.Cause, ev.Token)
			}
		}
		evs, _ := m.Events(context.Background(), mine, 100)
		if last := evs[len(evs)-1]; last.Token != 41 {
			t.Errorf("the last event carries token %d, want 41", last.Token)
		}

		// The node takes the other account over: Connect dials it.
		gate.set(theirs, 57)
		if err := m.Connect(context.Background(), theirs); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(theirs, core.Connected)

		// The node loses its first account: Yield closes the session at
		// once and keeps AutoStart; a later dial is refused again.
		gate.set(mine, 0)
		if err := m.Yield(context.Background(), mine, "taken over by node b"); err != nil {
			t.Fatal(err)
		}
		st = r.wantState(mine, core.Idle)
		if st.Reason != "taken over by node b" || !st.Account.AutoStart || d.Open(mine) != 0 {
			t.Errorf("after Yield: %q, AutoStart %v, %d open; want the reason, AutoStart, no session", st.Reason, st.Account.AutoStart, d.Open(mine))
		}
		if err := m.Connect(context.Background(), mine); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := r.wantState(mine, core.Idle); st.Reason != "run by another Warden node" || d.Open(mine) != 0 {
			t.Errorf("a Connect without ownership: %q, %d open", st.Reason, d.Open(mine))
		}
	})
}
