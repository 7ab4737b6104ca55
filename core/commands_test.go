package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

func TestAddPairAndRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		r.startManager()
		acct, err := r.m.Add(context.Background(), "  Support desk  ")
		if err != nil {
			t.Fatal(err)
		}
		if acct.Name != "Support desk" {
			t.Errorf("name = %q, want it trimmed", acct.Name)
		}
		synctest.Wait()
		st := r.wantState(acct.ID, core.Pairing)
		if st.QRCode == "" || st.QRIndex != 1 || st.QRTotal != 6 {
			t.Fatalf("pairing status without its QR code: %+v", st)
		}
		jid := r.d.Last(acct.ID).Pair()
		synctest.Wait()
		st = r.wantState(acct.ID, core.Connected)
		if st.Account.JID != jid || st.QRCode != "" {
			t.Fatalf("after pairing: JID %q QR %q", st.Account.JID, st.QRCode)
		}
		if stored, _ := r.s.Account(acct.ID); stored.JID != jid || !stored.AutoStart {
			t.Fatalf("stored account %+v, want the JID and AutoStart", stored)
		}
		if err := r.m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := r.d.Open(acct.ID); n != 0 {
			t.Fatalf("%d sessions open after Close", n)
		}

		// A new Manager on the same store logs in again without a QR code.
		m2, err := core.NewManager(core.Config{Dialer: r.d, Store: r.s, Policy: noJitter()})
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close(context.Background())
		if err := m2.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st2, _ := m2.Status(acct.ID)
		if st2.State != core.Connected || st2.Account.Name != "Support desk" {
			t.Fatalf("after restart: %v %q", st2.State, st2.Account.Name)
		}
		if st2.Epoch <= st.Epoch {
			t.Errorf("epoch went back after restart: %d, was %d", st2.Epoch, st.Epoch)
		}
		evs, err := m2.Events(context.Background(), acct.ID, 100)
		if err != nil {
			t.Fatal(err)
		}
		var causes []string
		for i, ev := range evs {
			causes = append(causes, ev.Cause)
			if i > 0 && ev.Seq != evs[i-1].Seq+1 {
				t.Errorf("sequence hole: %d after %d", ev.Seq, evs[i-1].Seq)
			}
		}
		want := "connect pair success connected warden stopped warden started timer connected"
		if got := strings.Join(causes, " "); got != want {
			t.Errorf("timeline causes:\n got %s\nwant %s", got, want)
		}
	})
}

func TestQRExpiryAndNewCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		acct, err := r.m.Add(context.Background(), "Kiosk")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.d.Last(acct.ID).Emit(core.SessionEvent{Kind: core.SessionQRTimeout})
		synctest.Wait()
		st := r.wantState(acct.ID, core.Idle)
		if st.Reason != "QR code expired" {
			t.Errorf("reason = %q", st.Reason)
		}
		if !r.d.Last(acct.ID).Closed() {
			t.Error("the expired pairing session is still open")
		}
		if err := r.m.Connect(context.Background(), acct.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st := r.wantState(acct.ID, core.Pairing); st.QRCode != r.d.Last(acct.ID).QR(1) {
			t.Errorf("new code %q, want the new session's first code", st.QRCode)
		}
	})
}

func TestPairPhone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		acct, err := r.m.Add(context.Background(), "Phone pairing")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := r.m.PairPhone(context.Background(), acct.ID, "0123"); !errors.Is(err, core.ErrInvalidPhone) {
			t.Errorf("PairPhone(0123) = %v, want ErrInvalidPhone", err)
		}
		code, err := r.m.PairPhone(context.Background(), acct.ID, "+44 7700 900123")
		if err != nil || code != "ABCD-EFGH" {
			t.Fatalf("PairPhone = %q, %v", code, err)
		}
		r.d.Last(acct.ID).Pair()
		synctest.Wait()
		r.wantState(acct.ID, core.Connected)
		if _, err := r.m.PairPhone(context.Background(), acct.ID, "+44 7700 900123"); !errors.Is(err, core.ErrNotPairing) {
			t.Errorf("PairPhone while connected = %v, want ErrNotPairing", err)
		}
	})
}

func TestLogout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("lima")
		r.startManager()
		synctest.Wait()
		// Offline: a clear error, nothing changes.
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		before := r.wantState(id, core.Waiting)
		if err := r.m.Logout(context.Background(), id); !errors.Is(err, core.ErrNotConnected) {
			t.Fatalf("Logout while waiting = %v, want ErrNotConnected", err)
		}
		if got := r.status(id); got != before {
			t.Fatal("a refused Logout changed the status")
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)

		// A logout that WhatsApp does not answer fails and keeps the session.
		r.d.Lock()
		r.d.LogoutErr = errors.New("no answer from WhatsApp")
		r.d.Unlock()
		if err := r.m.Logout(context.Background(), id); err == nil || !strings.Contains(err.Error(), "no answer") {
			t.Fatalf("Logout = %v, want the failure", err)
		}
		r.wantState(id, core.Connected)

		// Online: unlinked, LoggedOut, session closed, not restarted later.
		r.d.Lock()
		r.d.LogoutErr = nil
		r.d.Unlock()
		s := r.d.Last(id)
		if err := r.m.Logout(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		r.wantState(id, core.LoggedOut)
		if !s.LoggedOut() || !s.Closed() {
			t.Fatalf("session logged out %v, closed %v", s.LoggedOut(), s.Closed())
		}
		if acct, _ := r.s.Account(id); acct.AutoStart {
			t.Error("a logged-out account would be restarted")
		}
		// Pair again: the keys are gone, so it pairs.
		if err := r.m.Connect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(id, core.Pairing)
	})
}

func TestDeleteConnectedLogsOutFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("mike")
		r.startManager()
		synctest.Wait()
		updates, cancel := r.m.Subscribe()
		defer cancel()
		s := r.d.Last(id)
		if err := r.m.Delete(context.Background(), id); err != nil {
			t.Fatalf("Delete = %v", err)
		}
		if !s.LoggedOut() || !s.Closed() {
			t.Errorf("session logged out %v, closed %v", s.LoggedOut(), s.Closed())
		}
		if got := r.d.DeletedDevices(); len(got) != 1 || got[0] != id {
			t.Errorf("device keys wiped for %v", got)
		}
		for st := range updates {
			if st.Account.ID == id && st.Removed {
				break
			}
		}
		if err := r.m.Connect(context.Background(), id); !errors.Is(err, core.ErrUnknownAccount) {
			t.Errorf("Connect after Delete = %v, want ErrUnknownAccount", err)
		}
	})
}

func TestDeleteWaitingTellsToUnlinkOnPhone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("nov")
		r.startManager()
		synctest.Wait()
		s := r.d.Last(id)
		s.Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		err := r.m.Delete(context.Background(), id)
		if !errors.Is(err, core.ErrStillLinked) || !strings.Contains(err.Error(), "Linked devices") {
			t.Fatalf("Delete = %v, want ErrStillLinked telling where to unlink", err)
		}
		if s.LoggedOut() {
			t.Error("Logout was called on a closed session")
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.d.Sessions(id)); n != 1 {
			t.Errorf("the reconnect timer survived Delete: %d sessions", n)
		}
	})
}

func TestDeleteFailureKeepsAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("oscar")
		r.startManager()
		synctest.Wait()
		r.d.Lock()
		r.d.DeleteDeviceErr = errors.New("disk full")
		r.d.Unlock()
		if err := r.m.Delete(context.Background(), id); err == nil || errors.Is(err, core.ErrStillLinked) {
			t.Fatalf("Delete = %v, want a failure", err)
		}
		st := r.wantState(id, core.Idle)
		if !strings.Contains(st.Reason, "disk full") {
			t.Errorf("reason = %q", st.Reason)
		}
		if _, ok := r.s.Account(id); !ok {
			t.Fatal("the account was lost although the delete failed")
		}
	})
}

func TestBadCommandsChangeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("papa")
		r.startManager()
		synctest.Wait()
		ctx := context.Background()
		if _, err := r.m.Add(ctx, "   "); !errors.Is(err, core.ErrInvalidName) {
			t.Errorf("Add(blank) = %v", err)
		}
		if _, err := r.m.Add(ctx, strings.Repeat("x", 65)); !errors.Is(err, core.ErrInvalidName) {
			t.Errorf("Add(65 chars) = %v", err)
		}
		if err := r.m.Rename(ctx, id, "a\x00b"); !errors.Is(err, core.ErrInvalidName) {
			t.Errorf("Rename(control char) = %v", err)
		}
		for name, err := range map[string]error{
			"Connect":    r.m.Connect(ctx, "nope"),
			"Disconnect": r.m.Disconnect(ctx, "nope"),
			"Logout":     r.m.Logout(ctx, "nope"),
			"Delete":     r.m.Delete(ctx, "nope"),
			"Rename":     r.m.Rename(ctx, "nope", "x"),
		} {
			if !errors.Is(err, core.ErrUnknownAccount) {
				t.Errorf("%s(unknown) = %v, want ErrUnknownAccount", name, err)
			}
		}
		if err := r.m.Connect(ctx, id); !errors.Is(err, core.ErrAlreadyConnected) {
			t.Errorf("Connect while connected = %v", err)
		}
		if err := r.m.Disconnect(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := r.m.Disconnect(ctx, id); !errors.Is(err, core.ErrNotConnected) {
			t.Errorf("Disconnect while idle = %v", err)
		}
		if err := r.m.Logout(ctx, id); !errors.Is(err, core.ErrNotConnected) {
			t.Errorf("Logout while idle = %v", err)
		}
		if n := len(r.m.Statuses()); n != 1 {
			t.Errorf("%d accounts, want 1", n)
		}
		if err := r.m.Rename(ctx, id, "Papa 2"); err != nil {
			t.Fatal(err)
		}
		if acct, _ := r.s.Account(id); acct.Name != "Papa 2" {
			t.Errorf("stored name %q", acct.Name)
		}
	})
}

func TestConnectWhileConnectingIsSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("quebec")
		r.d.OnConnect = func(ctx context.Context, s *coretest.Session) error {
			<-ctx.Done()
			return ctx.Err()
		}
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connecting)
		for range 3 {
			if err := r.m.Connect(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		if n := r.d.Created(); n != 1 {
			t.Fatalf("%d sessions created, want 1", n)
		}
		if c := r.m.Counters(); c.Skipped != 3 {
			t.Errorf("Skipped = %d, want 3", c.Skipped)
		}
		evs, _ := r.m.Events(context.Background(), id, 10)
		if last := evs[len(evs)-1]; last.Cause != core.CauseSkipped {
			t.Errorf("last event %q, want the skip on the timeline", last.Cause)
		}
	})
}

func TestSubscribeCoalescesAndNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("romeo")
		updates, cancel := r.m.Subscribe() // never read until the end
		r.startManager()
		synctest.Wait()
		s := r.d.Last(id)
		for range 1000 {
			s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
			s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveRestored})
		}
		s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
		synctest.Wait() // the Manager finished: a reader that never reads did not block it
		var last core.Status
		n := 0
		for n < 3 {
			last = <-updates
			n++
			if !last.KeepAliveFailingSince.IsZero() {
				break
			}
		}
		if last.KeepAliveFailingSince.IsZero() || last.State != core.Connected {
			t.Fatalf("after %d reads the newest status is missing: %+v", n, last)
		}
		cancel()
		if _, ok := <-updates; ok {
			t.Error("the channel stayed open after cancel")
		}
	})
}

// TestStress fires random commands at 20 accounts from 50 goroutines while
// their sessions emit random events; no account may ever have two sessions.
func TestStress(t *testing.T) {
	d, s := coretest.NewDialer(), coretest.NewStore()
	p := noJitter()
	p.Schedule = []core.Backoff{{UpTo: 1, Delay: time.Millisecond}, {UpTo: 2, Delay: 2 * time.Millisecond}}
	p.TakeoverDelay = 3 * time.Millisecond
	p.StableAfter = 5 * time.Millisecond
	p.ZombieAfter = 4 * time.Millisecond
	d.OnConnect = func(ctx context.Context, sess *coretest.Session) error {
		if rand.IntN(5) == 0 {
			return errors.New("random dial failure")
		}
		go func() { // events arrive from other goroutines, like whatsmeow's
			if rand.IntN(2) == 0 {
				sess.Pair()
			} else {
				_ = coretest.Behave(ctx, sess)
			}
		}()
		return nil
	}
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []core.AccountID
	for range 20 {
		a, err := m.Add(ctx, "stress")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	kinds := []core.SessionEventKind{core.SessionConnected, core.SessionDisconnected, core.SessionReplaced,
		core.SessionLoggedOut, core.SessionTemporaryBan, core.SessionConnectFailure, core.SessionKeepAliveTimeout,
		core.SessionKeepAliveRestored, core.SessionQRTimeout, core.SessionPairError}
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				id := ids[rand.IntN(len(ids))]
				if g%2 == 0 { // a session event, possibly from an old session
					ss := d.Sessions(id)
					if len(ss) == 0 {
						continue
					}
					k := kinds[rand.IntN(len(kinds))]
					ev := core.SessionEvent{Kind: k}
					if k == core.SessionTemporaryBan {
						ev.Until = time.Now().Add(5 * time.Millisecond)
					}
					ss[rand.IntN(len(ss))].Emit(ev)
					continue
				}
				switch rand.IntN(10) {
				case 0, 1, 2, 3:
					_ = m.Connect(ctx, id)
				case 4, 5:
					_ = m.Disconnect(ctx, id)
				case 6:
					_ = m.Logout(ctx, id)
				case 7:
					_, _ = m.PairPhone(ctx, id, "+15550001234")
				case 8:
					_ = m.Rename(ctx, id, "renamed")
				case 9:
					_ = m.IsConnectionActive(id)
				}
				if d.MaxOpenAny() > 1 {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if n := d.MaxOpen(id); n > 1 {
			t.Errorf("account %s had %d sessions open at once", id, n)
		}
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.TotalOpen(); n != 0 {
		t.Errorf("%d sessions open after Close", n)
	}
	t.Logf("%d sessions created; stale events dropped: %d", d.Created(), m.Counters().StaleDropped)
}

func TestSubscribeEventsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("sierra")
		evs, cancel := r.m.SubscribeEvents()
		r.startManager()
		synctest.Wait()
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		var got []string
		var seqs []uint64
		for range 4 {
			ev := <-evs
			got = append(got, ev.From.String()+"→"+ev.To.String()+" "+ev.Cause)
			seqs = append(seqs, ev.Seq)
		}
		want := []string{"Idle→Waiting warden started", "Waiting→Connecting timer", "Connecting→Connected connected", "Connected→Waiting disconnected"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("live events:\n got %q\nwant %q", got, want)
		}
		if seqs[0] != 1 || seqs[3] != 4 {
			t.Errorf("sequence numbers %v, want 1..4", seqs)
		}
		cancel()
		if _, ok := <-evs; ok {
			t.Error("channel open after cancel")
		}
	})
}
