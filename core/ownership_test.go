package core_test

import (
	"context"
	"errors"
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

func (g *fakeGate) Allowed(id core.AccountID) (core.Grant, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tokens[id]
	return core.Grant{Token: t}, ok
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

// newGatedRig is a rig whose Manager dials only what gate allows.
func newGatedRig(t *testing.T) (*rig, *fakeGate) {
	t.Helper()
	d, s := coretest.NewDialer(), coretest.NewStore()
	gate := &fakeGate{tokens: map[core.AccountID]int64{}}
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter(), Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return &rig{t: t, m: m, d: d, s: s}, gate
}

func TestGateDialsOnlyOwnedAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, gate := newGatedRig(t)
		d, s, m := r.d, r.s, r.m
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
		// Nothing ran here, so this node writes nothing in the other
		// node's timeline, and no command of this node changes the account.
		if evs, _ := m.Events(context.Background(), theirs, 100); len(evs) != 0 {
			t.Errorf("this node wrote %d events in another node's timeline: %v", len(evs), evs)
		}
		ctx := context.Background()
		for name, cmd := range map[string]func() error{
			"Connect":    func() error { return m.Connect(ctx, theirs) },
			"Disconnect": func() error { return m.Disconnect(ctx, theirs) },
			"Log out":    func() error { return m.Logout(ctx, theirs) },
			"Delete":     func() error { return m.Delete(ctx, theirs) },
			"Rename":     func() error { return m.Rename(ctx, theirs, "mine now") },
			"SetProxy":   func() error { return m.SetProxy(ctx, theirs, "socks5://127.0.0.1:1080") },
			"PairPhone":  func() error { _, err := m.PairPhone(ctx, theirs, "+1 555 123 4567"); return err },
		} {
			if err := cmd(); !errors.Is(err, core.ErrNotOwned) {
				t.Errorf("%s of another node's account: %v, want ErrNotOwned", name, err)
			}
		}
		synctest.Wait()
		if stored, _ := s.Account(theirs); stored.Name != "theirs" || !stored.AutoStart || stored.Proxy != "" || d.Created() != 1 {
			t.Errorf("refused commands changed the account: %+v, %d sessions", stored, d.Created())
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
		if err := m.Connect(context.Background(), mine); !errors.Is(err, core.ErrNotOwned) {
			t.Errorf("a Connect without ownership: %v", err)
		}
		synctest.Wait()
		if st := r.wantState(mine, core.Idle); st.Reason != "taken over by node b" || d.Open(mine) != 0 {
			t.Errorf("a Connect without ownership: %q, %d open", st.Reason, d.Open(mine))
		}
	})
}

// Two nodes over one shared store: what one changes, the other's Refresh
// brings in; the account's timeline continues where its last owner left it
// (Resync), with no sequence number written twice.
func TestRefreshAndResyncShareOneStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, s := coretest.NewDialer(), coretest.NewStore()
		ctx := context.Background()
		node := func() (*core.Manager, *fakeGate) {
			gate := &fakeGate{tokens: map[core.AccountID]int64{}}
			m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter(), Gate: gate})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close(ctx) })
			if err := m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			return m, gate
		}
		a, gateA := node()
		b, gateB := node()
		r := &rig{t: t, m: a, d: d, s: s}
		id := r.paired("shared") // as if node a had paired it
		gateA.set(id, 10)
		if added, _, err := a.Refresh(ctx); err != nil || added != 1 {
			t.Fatalf("a's Refresh: %d added, %v", added, err)
		}
		if added, _, err := b.Refresh(ctx); err != nil || added != 1 {
			t.Fatalf("b's Refresh: %d added, %v", added, err)
		}
		if st, ok := b.Status(id); !ok || st.State != core.Idle || st.Reason != "run by another Warden node" {
			t.Fatalf("b after Refresh: %+v", st)
		}
		if err := a.Connect(ctx, id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := a.Rename(ctx, id, "renamed on a"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := b.Status(id); st.Account.Name != "renamed on a" {
			t.Errorf("b's copy after a's rename: %q", st.Account.Name)
		}
		// b's Refresh leaves a's running copy alone.
		if _, _, err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := a.Status(id); st.State != core.Connected {
			t.Errorf("a's Refresh touched its running account: %v", st.State)
		}

		// a hands the account to b: close, flush, then b resyncs and runs it.
		gateA.set(id, 0)
		if err := a.Yield(ctx, id, "handed over to b"); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		aEvents, _ := a.Events(ctx, id, 1000)
		gateB.set(id, 20)
		if err := b.Resync(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := b.Connect(ctx, id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st, _ := b.Status(id); st.State != core.Connected || st.Epoch <= aEvents[len(aEvents)-1].Epoch {
			t.Errorf("on b: %v, epoch %d after a's %d", st.State, st.Epoch, aEvents[len(aEvents)-1].Epoch)
		}
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		all, _ := b.Events(ctx, id, 1000)
		if len(all) <= len(aEvents) {
			t.Fatalf("b's events did not reach the shared timeline: %d then %d", len(aEvents), len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].Seq != all[i-1].Seq+1 {
				t.Errorf("the shared timeline skips or repeats: #%d after #%d", all[i].Seq, all[i-1].Seq)
			}
		}
		if last := all[len(all)-1]; last.Token != 20 {
			t.Errorf("b's last event carries token %d, want 20", last.Token)
		}
		if d.MaxOpen(id) != 1 {
			t.Errorf("%d sessions at once", d.MaxOpen(id))
		}

		// a closes: it notes nothing in the timeline of an account b runs
		// (its stale copy's event would be refused, and others' with it).
		before, _ := b.Events(ctx, id, 1000)
		if err := a.Close(ctx); err != nil {
			t.Fatalf("closing a: %v", err)
		}
		if after, _ := b.Events(ctx, id, 1000); len(after) != len(before) {
			t.Errorf("closing a wrote %d events in b's account's timeline", len(after)-len(before))
		}
		a, gateA = node()
		if _, _, err := a.Refresh(ctx); err != nil {
			t.Fatal(err)
		}

		// Deleted on b (its owner): a's Refresh lets it go.
		if err := b.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, removed, err := a.Refresh(ctx); err != nil || removed != 1 {
			t.Errorf("a's Refresh after the delete: %d removed, %v", removed, err)
		}
		if _, ok := a.Status(id); ok {
			t.Error("a still lists the account deleted on b")
		}
	})
}

// blockingStore holds Accounts, once armed, after reading, until released.
type blockingStore struct {
	*coretest.Store
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Accounts(ctx context.Context) ([]core.Account, error) {
	s.mu.Lock()
	armed := s.armed
	s.armed = false
	s.mu.Unlock()
	accts, err := s.Store.Accounts(ctx)
	if armed { // read, then held: what is added meanwhile is not in accts
		close(s.entered)
		<-s.release
	}
	return accts, err
}

// An account added while Refresh reads the store is not taken for one
// deleted on another node.
func TestRefreshDoesNotDropAnAddInFlight(t *testing.T) {
	// Real time, not a synctest bubble: an Add waiting on a mutex is not
	// "durably blocked" there.
	s := &blockingStore{Store: coretest.NewStore(), entered: make(chan struct{}), release: make(chan struct{})}
	gate := &fakeGate{tokens: map[core.AccountID]int64{}}
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: s, Policy: noJitter(), Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
	refreshed := make(chan error, 1)
	go func() { _, _, err := m.Refresh(ctx); refreshed <- err }()
	<-s.entered
	added := make(chan core.Account, 1)
	go func() {
		acct, err := m.Add(ctx, "New phone")
		if err != nil {
			t.Error(err)
		}
		added <- acct
	}()
	// Give the Add the time to land while Refresh reads (without the lock,
	// it does, and Refresh then drops it); with the lock it waits.
	time.Sleep(50 * time.Millisecond)
	close(s.release)
	if err := <-refreshed; err != nil {
		t.Fatal(err)
	}
	acct := <-added
	if _, ok := m.Status(acct.ID); !ok {
		t.Error("Refresh dropped an account added while it read the store")
	}
}
