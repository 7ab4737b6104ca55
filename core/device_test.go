package core_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// An account being deleted still holds its device until its keys are gone:
// importing that device meanwhile is refused, and never dials a second
// session for it while the delete's logout keeps the first one live.
func TestImportDuringDeleteIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		old := r.paired("old")
		r.startManager()
		time.Sleep(r.m.Policy().StartWindow + time.Second)
		synctest.Wait()
		r.wantState(old, core.Connected)
		jid := r.status(old).Account.JID

		inLogout, release := make(chan struct{}), make(chan struct{})
		r.d.Lock()
		r.d.OnLogout = func(ctx context.Context, s *coretest.Session) error {
			close(inLogout)
			<-release // WhatsApp takes its time to unlink
			return nil
		}
		r.d.Unlock()
		deleted := make(chan error, 1)
		go func() { deleted <- r.m.Delete(context.Background(), old) }()
		<-inLogout

		_, err := r.m.AddExisting(context.Background(), core.Account{ID: "acct-imported", Name: "imported", JID: jid, AutoStart: true})
		if !errors.Is(err, core.ErrDuplicateAccount) {
			t.Errorf("importing the device of an account being deleted: %v, want ErrDuplicateAccount", err)
		}
		synctest.Wait()
		close(release)
		if err := <-deleted; err != nil {
			t.Fatalf("delete: %v", err)
		}
		synctest.Wait()
		if n := r.d.MaxOpenDevice(jid); n > 1 {
			t.Errorf("%d sessions of one device were open at once, want at most 1", n)
		}
		// Once the delete is done, the device is free again.
		if _, err := r.m.AddExisting(context.Background(), core.Account{ID: "acct-imported", Name: "imported", JID: jid}); err != nil {
			t.Errorf("importing the device after the delete finished: %v", err)
		}
	})
}

// Two accounts that hold the same WhatsApp device never both run on one
// node: the second waits while the first holds the device.
func TestTwoAccountsOfOneDeviceNeverBothRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		jid := "15550001111.0:1@s.whatsapp.net"
		r.d.AddDevice(jid)
		for _, id := range []core.AccountID{"acct-a", "acct-b"} {
			if err := r.s.PutAccount(context.Background(), core.Account{ID: id, Name: string(id), JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
				t.Fatal(err)
			}
		}
		r.startManager()
		time.Sleep(2 * time.Minute) // start-up, and a few retries
		synctest.Wait()
		if n := r.d.MaxOpenDevice(jid); n != 1 {
			t.Errorf("%d sessions of one device were open at once, want 1", n)
		}
		a, b := r.status("acct-a"), r.status("acct-b")
		if (a.State == core.Connected) == (b.State == core.Connected) {
			t.Fatalf("a is %v, b is %v: want exactly one Connected", a.State, b.State)
		}
		waiting := b
		if b.State == core.Connected {
			waiting = a
		}
		if waiting.Reason == "" {
			t.Error("the account that does not run gives no reason")
		}
		t.Logf("the other account: %v, %q", waiting.State, waiting.Reason)
	})
}

// The Gate is checked again once the session is made, right before its
// socket opens: a node that lost the account while its device store was slow
// opens no socket.
func TestGateCheckedAgainBeforeTheSocketOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, gate := newGatedRig(t)
		d := r.d
		id := r.paired("mine")
		gate.set(id, 7)
		inStore, release := make(chan struct{}), make(chan struct{})
		d.Lock()
		d.OnNewSession = func(context.Context, core.Account) error {
			select {
			case <-inStore:
			default:
				close(inStore)
				<-release // the device store (PostgreSQL) is slow
			}
			return nil
		}
		d.Unlock()
		r.startManager()
		<-inStore
		gate.set(id, 0) // the lease ran out meanwhile
		close(release)
		synctest.Wait()
		for _, sess := range d.Sessions(id) {
			if sess.Dialed() {
				t.Errorf("session %d opened its socket after the node lost the account", sess.N)
			}
		}
		if d.Open(id) != 0 {
			t.Errorf("%d sessions left open", d.Open(id))
		}
		st := r.status(id)
		if st.State != core.Idle || st.Reason != core.ReasonElsewhere || !st.Account.AutoStart {
			t.Errorf("after losing it: %v %q AutoStart %v; want Idle, %q, AutoStart kept", st.State, st.Reason, st.Account.AutoStart, core.ReasonElsewhere)
		}
	})
}
