package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// noJitter is the default policy without jitter, so instants are exact.
func noJitter() core.Policy {
	p := core.DefaultPolicy()
	p.Jitter = 0
	return p
}

type rig struct {
	t     *testing.T
	m     *core.Manager
	d     *coretest.Dialer
	s     *coretest.Store
	start time.Time
}

func newRig(t *testing.T, p core.Policy) *rig {
	t.Helper()
	d, s := coretest.NewDialer(), coretest.NewStore()
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return &rig{t: t, m: m, d: d, s: s, start: time.Now()}
}

// paired stores a paired account that was running, so Start dials it.
func (r *rig) paired(name string) core.AccountID {
	r.t.Helper()
	id := core.AccountID("acct-" + name)
	jid := "1555" + fmt.Sprint(len(name)) + "000" + name + ".0:1@s.whatsapp.net"
	r.d.AddDevice(jid)
	err := r.s.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// startManager starts the Manager: it loads the stored accounts and dials
// those that were running.
func (r *rig) startManager() {
	r.t.Helper()
	if err := r.m.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) status(id core.AccountID) core.Status {
	r.t.Helper()
	st, ok := r.m.Status(id)
	if !ok {
		r.t.Fatalf("account %s not found", id)
	}
	return st
}

func (r *rig) wantState(id core.AccountID, want core.State) core.Status {
	r.t.Helper()
	st := r.status(id)
	if st.State != want {
		r.t.Fatalf("state = %v (%s), want %v", st.State, st.Reason, want)
	}
	return st
}

// elapsed is the virtual time since the rig started.
func (r *rig) elapsed() time.Duration { return time.Since(r.start) }

func TestScheduleDialInstants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("alpha")
		var mu sync.Mutex
		var dials []time.Duration
		r.d.OnConnect = func(_ context.Context, s *coretest.Session) error {
			mu.Lock()
			dials = append(dials, r.elapsed())
			n := len(dials)
			mu.Unlock()
			if n == 1 {
				s.Emit(core.SessionEvent{Kind: core.SessionConnected})
				return nil
			}
			return errors.New("network is unreachable")
		}
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connected)
		time.Sleep(10 * time.Second) // connected for 10 s: not stable, yet irrelevant: attempt is 0
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		drop := r.elapsed()
		time.Sleep(10 * time.Minute)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		want := []time.Duration{3, 5, 5, 5, 5, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 30, 30, 30}
		prev := drop
		for i, w := range want {
			if i+1 >= len(dials) {
				t.Fatalf("only %d redials, want at least %d", len(dials)-1, len(want))
			}
			got := dials[i+1] - prev
			if got != w*time.Second {
				t.Errorf("delay before attempt %d = %v, want %v", i+1, got, w*time.Second)
			}
			prev = dials[i+1]
		}
		st := r.wantState(id, core.Waiting)
		if st.Attempt < len(want) || !st.NextAttempt.After(time.Now()) {
			t.Errorf("after the run: attempt %d next %v, want a later attempt in the future", st.Attempt, st.NextAttempt)
		}
		if n := r.d.MaxOpen(id); n != 1 {
			t.Errorf("MaxOpen = %d, want 1", n)
		}
	})
}

func TestJitterNeverBelowTable(t *testing.T) {
	p := core.DefaultPolicy()
	for n := 1; n <= 20; n++ {
		for _, r := range []float64{0, 0.3, 0.999} {
			d := p.JitteredDelay(n, r)
			base := p.Delay(n)
			if d < base || d > base+base/10 {
				t.Errorf("JitteredDelay(%d, %v) = %v, want within [%v, %v]", n, r, d, base, base+base/10)
			}
		}
	}
}

// A brief connect must not reset the attempt counter; 60 s of Connected does.
func TestAttemptResetsOnlyAfterStableMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("beta")
		fail := true
		var mu sync.Mutex
		r.d.OnConnect = func(_ context.Context, s *coretest.Session) error {
			mu.Lock()
			f := fail
			mu.Unlock()
			if f {
				return errors.New("refused")
			}
			s.Emit(core.SessionEvent{Kind: core.SessionConnected})
			return nil
		}
		r.startManager()
		// start-up dial fails at 0, then attempts 1..4 at 3, 8, 13, 18 s.
		time.Sleep(19 * time.Second)
		synctest.Wait()
		st := r.wantState(id, core.Waiting)
		if st.Attempt != 5 {
			t.Fatalf("attempt = %d, want 5", st.Attempt)
		}
		mu.Lock()
		fail = false
		mu.Unlock()
		time.Sleep(st.NextAttempt.Sub(time.Now()))
		synctest.Wait()
		r.wantState(id, core.Connected)

		// A brief connect (30 s) keeps the counter: the next wait is attempt 6's 10 s.
		time.Sleep(30 * time.Second)
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		st = r.wantState(id, core.Waiting)
		if st.Attempt != 6 || st.NextAttempt.Sub(time.Now()) != 10*time.Second {
			t.Fatalf("after a brief connect: attempt %d in %v, want attempt 6 in 10s", st.Attempt, st.NextAttempt.Sub(time.Now()))
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)

		// 60 s of Connected resets it: the next wait is attempt 1's 3 s.
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if st := r.wantState(id, core.Connected); st.Attempt != 0 {
			t.Fatalf("after 61 s connected: attempt = %d, want 0", st.Attempt)
		}
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		st = r.wantState(id, core.Waiting)
		if st.Attempt != 1 || st.NextAttempt.Sub(time.Now()) != 3*time.Second {
			t.Fatalf("after a stable connection: attempt %d in %v, want attempt 1 in 3s", st.Attempt, st.NextAttempt.Sub(time.Now()))
		}
	})
}

func TestConflictBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("gamma")
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connected)

		// First conflict: closed at once, one takeover after exactly 30 s.
		first := r.d.Last(id)
		first.Emit(core.SessionEvent{Kind: core.SessionReplaced})
		synctest.Wait()
		if !first.Closed() {
			t.Fatal("the replaced session was not closed at once")
		}
		st := r.wantState(id, core.Replaced)
		if got := st.NextAttempt.Sub(time.Now()); got != 30*time.Second {
			t.Fatalf("takeover in %v, want 30s", got)
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if n := len(r.d.Sessions(id)); n != 1 {
			t.Fatalf("%d sessions after 29 s, want no takeover yet", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		if n := len(r.d.Sessions(id)); n != 2 {
			t.Fatalf("%d sessions after the takeover, want 2", n)
		}

		// A second conflict within 10 minutes parks the account.
		time.Sleep(5 * time.Minute)
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
		synctest.Wait()
		st = r.wantState(id, core.Replaced)
		if !st.NextAttempt.IsZero() || !st.NeedsAction() {
			t.Fatalf("second conflict: next attempt %v, needs action %v; want parked", st.NextAttempt, st.NeedsAction())
		}
		if !strings.Contains(st.Reason, "another client is using this account since") {
			t.Errorf("reason = %q", st.Reason)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.d.Sessions(id)); n != 2 {
			t.Fatalf("a parked account dialled again by itself: %d sessions", n)
		}
		// The operator takes over.
		if err := r.m.Connect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(id, core.Connected)
		if n := r.d.MaxOpen(id); n != 1 {
			t.Errorf("MaxOpen = %d, want 1", n)
		}
	})
}

func TestConflictsFarApartEachTakeOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("delta")
		r.startManager()
		for i := range 3 {
			synctest.Wait()
			r.wantState(id, core.Connected)
			r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
			if st := r.wantState(id, core.Replaced); st.NextAttempt.IsZero() {
				t.Fatalf("conflict %d, 11 minutes after the last: parked, want a takeover", i+1)
			}
			time.Sleep(11 * time.Minute)
		}
	})
}

func TestTemporaryBanOneAttemptAtExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("eps")
		r.startManager()
		synctest.Wait()
		until := time.Now().Add(2 * time.Hour)
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionTemporaryBan, Code: 101, Until: until})
		st := r.wantState(id, core.Banned)
		if !st.NextAttempt.Equal(until.Add(3 * time.Second)) {
			t.Fatalf("retry at %v, want expiry + 3 s", st.NextAttempt.Sub(time.Now()))
		}
		time.Sleep(2*time.Hour + 2*time.Second)
		synctest.Wait()
		if n := len(r.d.Sessions(id)); n != 1 {
			t.Fatalf("dialled before the ban expired: %d sessions", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
	})
}

func TestZombieSessionIsReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("zeta")
		r.startManager()
		synctest.Wait()
		s := r.d.Last(id)
		// Failing keepalives that recover in time change nothing.
		s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
		time.Sleep(2 * time.Minute)
		s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
		s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveRestored})
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		r.wantState(id, core.Connected)
		if s.Closed() {
			t.Fatal("closed a session whose keepalives recovered")
		}
		// Failing for 3 minutes closes it and reconnects through the schedule.
		s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
		time.Sleep(3*time.Minute - time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		time.Sleep(time.Second)
		synctest.Wait()
		if !s.Closed() {
			t.Fatal("zombie session not closed after 3 minutes")
		}
		st := r.wantState(id, core.Waiting)
		if st.Attempt != 1 {
			t.Errorf("attempt = %d, want 1", st.Attempt)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
	})
}

func TestDisconnectDuringWaitingLeavesNoTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("eta")
		r.startManager()
		synctest.Wait()
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		r.wantState(id, core.Waiting)
		if err := r.m.Disconnect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		st := r.wantState(id, core.Idle)
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(r.d.Sessions(id)); n != 1 {
			t.Fatalf("a timer dialled after Disconnect: %d sessions", n)
		}
		if got := r.status(id); got != st {
			t.Fatalf("status changed with nothing happening: %+v", got)
		}
		if acct, _ := r.s.Account(id); acct.AutoStart {
			t.Error("Disconnect left AutoStart on: a restart would reconnect it")
		}
	})
}

func TestDeleteDuringDialLeavesNoSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("theta")
		entered := make(chan struct{})
		// A dial that only its context can end.
		r.d.OnConnect = func(ctx context.Context, s *coretest.Session) error {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		}
		r.startManager()
		<-entered
		r.wantState(id, core.Connecting)
		done := make(chan error, 1)
		go func() { done <- r.m.Delete(context.Background(), id) }()
		err := <-done
		if !errors.Is(err, core.ErrStillLinked) {
			t.Errorf("Delete = %v, want ErrStillLinked (it was never logged in, so not unlinked)", err)
		}
		if n := r.d.Open(id); n != 0 {
			t.Fatalf("%d sessions open after Delete", n)
		}
		if _, ok := r.m.Status(id); ok {
			t.Error("the account is still listed")
		}
		if _, ok := r.s.Account(id); ok {
			t.Error("the account is still stored")
		}
		if evs := r.s.AllEvents(id); len(evs) != 0 {
			t.Errorf("%d events left in the store", len(evs))
		}
	})
}

func TestLateEventOfOldEpochChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.paired("iota")
		r.startManager()
		synctest.Wait()
		old := r.d.Last(id)
		old.Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		st := r.wantState(id, core.Connected)
		if st.Epoch != 2 {
			t.Fatalf("epoch = %d, want 2", st.Epoch)
		}
		// The dying client reports late: a disconnect, a conflict, a logout.
		for _, k := range []core.SessionEventKind{core.SessionDisconnected, core.SessionReplaced, core.SessionLoggedOut, core.SessionConnected} {
			old.Emit(core.SessionEvent{Kind: k})
		}
		synctest.Wait()
		if got := r.status(id); got != st {
			t.Fatalf("a stale event changed the status:\n got %+v\nwant %+v", got, st)
		}
		if c := r.m.Counters(); c.StaleDropped != 4 {
			t.Errorf("StaleDropped = %d, want 4", c.StaleDropped)
		}
		evs, err := r.m.Events(context.Background(), id, 10)
		if err != nil {
			t.Fatal(err)
		}
		stale := 0
		for _, ev := range evs {
			if ev.Cause == core.CauseStale {
				stale++
			}
		}
		if stale != 4 {
			t.Errorf("%d stale-event notes in the timeline, want 4", stale)
		}
	})
}

// A session whose socket is up but that never logs in is closed after the
// login timeout and retried on the schedule; the retry logs in.
func TestLoginTimeoutRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := noJitter()
		r := newRig(t, p)
		id := r.paired("kappa")
		// The first session's socket comes up, but WhatsApp never logs it in.
		r.d.OnConnect = func(ctx context.Context, s *coretest.Session) error {
			if s.N == 1 {
				return nil
			}
			return coretest.Behave(ctx, s)
		}
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connecting)
		first := r.d.Last(id)

		time.Sleep(p.LoginTimeout - time.Second)
		synctest.Wait()
		r.wantState(id, core.Connecting)
		time.Sleep(time.Second)
		synctest.Wait()
		st := r.wantState(id, core.Waiting)
		if !first.Closed() {
			t.Fatal("the session that did not log in was not closed")
		}
		if st.Attempt != 1 || st.NextAttempt.Sub(time.Now()) != 3*time.Second {
			t.Errorf("after the login timeout: attempt %d in %v, want attempt 1 in 3s", st.Attempt, st.NextAttempt.Sub(time.Now()))
		}
		if want := "logging in took longer than 60 s"; !strings.Contains(st.Reason, want) {
			t.Errorf("reason = %q, want it to say %q", st.Reason, want)
		}

		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		// Logged in: the timer of the login is gone with it.
		time.Sleep(2 * p.LoginTimeout)
		synctest.Wait()
		r.wantState(id, core.Connected)
		if n := len(r.d.Sessions(id)); n != 2 {
			t.Errorf("%d sessions, want 2", n)
		}
		if n := r.d.MaxOpen(id); n != 1 {
			t.Errorf("MaxOpen = %d, want 1", n)
		}
		evs, err := r.m.Events(context.Background(), id, 100)
		if err != nil {
			t.Fatal(err)
		}
		var timeouts int
		for _, ev := range evs {
			if ev.Cause == core.CauseLoginTimeout {
				timeouts++
				if ev.From != core.Connecting || ev.To != core.Waiting {
					t.Errorf("login timeout event %v → %v, want Connecting → Waiting", ev.From, ev.To)
				}
			}
		}
		if timeouts != 1 {
			t.Errorf("%d login timeouts on the timeline, want 1", timeouts)
		}
	})
}

// After pairing, the session must log in again (WhatsApp's 515 restart). If
// that never finishes, the account does not stay on "paired: logging in": it
// is retried on the schedule with the keys it just got, and logs in.
func TestLoginTimeoutAfterPairing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := noJitter()
		r := newRig(t, p)
		r.startManager()
		acct, err := r.m.Add(context.Background(), "Lambda")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(acct.ID, core.Pairing)
		// The phone links the device; the login after it never comes.
		r.d.Last(acct.ID).Emit(core.SessionEvent{Kind: core.SessionPairSuccess, JID: "15550009999.0:1@s.whatsapp.net"})
		synctest.Wait()
		st := r.wantState(acct.ID, core.Connecting)
		if st.Reason != "paired: logging in" {
			t.Fatalf("reason = %q", st.Reason)
		}

		time.Sleep(p.LoginTimeout - time.Second)
		synctest.Wait()
		r.wantState(acct.ID, core.Connecting)
		time.Sleep(time.Second)
		synctest.Wait()
		st = r.wantState(acct.ID, core.Waiting)
		if want := "paired, but logging in after pairing did not finish within 60 s"; !strings.Contains(st.Reason, want) {
			t.Errorf("reason = %q, want it to say %q", st.Reason, want)
		}
		if st.Account.JID == "" {
			t.Fatal("the pairing was forgotten")
		}

		time.Sleep(3 * time.Second)
		synctest.Wait()
		st = r.wantState(acct.ID, core.Connected)
		if n := len(r.d.Sessions(acct.ID)); n != 2 {
			t.Errorf("%d sessions, want 2 (pairing, retry)", n)
		}
		if n := r.d.MaxOpen(acct.ID); n != 1 {
			t.Errorf("MaxOpen = %d, want 1", n)
		}
	})
}

func TestLoginTimeoutValidate(t *testing.T) {
	p := core.DefaultPolicy()
	if p.LoginTimeout != core.DefaultLoginTimeout {
		t.Errorf("DefaultPolicy().LoginTimeout = %v, want %v", p.LoginTimeout, core.DefaultLoginTimeout)
	}
	for _, c := range []struct {
		timeout time.Duration
		ok      bool
	}{{0, true}, {time.Second, true}, {core.DefaultLoginTimeout, true}, {-time.Second, false}} {
		p.LoginTimeout = c.timeout
		if err := p.Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(LoginTimeout %v) = %v, want ok %v", c.timeout, err, c.ok)
		}
	}
}
