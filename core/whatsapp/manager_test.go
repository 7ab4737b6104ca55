package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

// testPolicy is the default policy with every delay shortened: a reconnect
// schedule of 50/80/100 ms, a takeover after 300 ms, a zombie after 500 ms.
func testPolicy() core.Policy {
	p := core.DefaultPolicy()
	p.Schedule = []core.Backoff{
		{UpTo: 1, Delay: 50 * time.Millisecond},
		{UpTo: 5, Delay: 80 * time.Millisecond},
		{UpTo: 6, Delay: 100 * time.Millisecond},
	}
	p.Jitter = 0.1
	p.StableAfter = time.Second
	p.TakeoverDelay = 300 * time.Millisecond
	p.ZombieAfter = 500 * time.Millisecond
	p.StartSpread = 10 * time.Millisecond
	p.StartWindow = time.Second
	return p
}

// rig is Warden's engine wired to fakewa: a Manager, the whatsmeow Dialer,
// an in-memory store.
type rig struct {
	t      testing.TB
	srv    *fakewa.Server
	d      *whatsapp.Dialer
	path   string // devices.db
	store  *coretest.Store
	m      *core.Manager
	policy core.Policy
}

func newRig(t testing.TB, seed int64, policy core.Policy) *rig {
	t.Helper()
	srv := newServer(t, seed)
	d, path := newDialer(t, srv)
	r := &rig{t: t, srv: srv, d: d, path: path, store: coretest.NewStore(), policy: policy}
	r.start()
	return r
}

// start makes and starts a Manager on the rig's store and dialer.
func (r *rig) start() {
	r.t.Helper()
	m, err := core.NewManager(core.Config{Dialer: r.d, Store: r.store, Policy: r.policy, Logger: testLogger(r.t)})
	if err != nil {
		r.t.Fatalf("NewManager: %v", err)
	}
	if err := m.Start(context.Background()); err != nil {
		r.t.Fatalf("Start: %v", err)
	}
	r.m = m
	r.t.Cleanup(func() { r.closeManager() })
}

func (r *rig) closeManager() {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.m.Close(ctx); err != nil {
		r.t.Errorf("Manager.Close: %v", err)
	}
}

// restart closes the Manager and the Dialer, and opens both again on the same
// files, as a restart of Warden does.
func (r *rig) restart() {
	r.t.Helper()
	r.closeManager()
	if err := r.d.Close(); err != nil {
		r.t.Fatalf("Dialer.Close: %v", err)
	}
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: r.path, Logger: testLogger(r.t), HTTPClient: r.srv.HTTPClient()})
	if err != nil {
		r.t.Fatalf("NewDialer again: %v", err)
	}
	r.t.Cleanup(func() { _ = d.Close() })
	r.d = d
	r.start()
}

// status returns the account's status; the account must exist.
func (r *rig) status(id core.AccountID) core.Status {
	r.t.Helper()
	st, ok := r.m.Status(id)
	if !ok {
		r.t.Fatalf("account %s is gone", id)
	}
	return st
}

// waitState waits until the account is in state and cond (if any) holds.
func (r *rig) waitState(id core.AccountID, state core.State, cond ...func(core.Status) bool) core.Status {
	r.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st := r.status(id)
		ok := st.State == state
		for _, c := range cond {
			ok = ok && c(st)
		}
		if ok {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s is %v (%s), not %v after %v; timeline:\n%s", id, st.State, st.Reason, state, wait, r.timeline(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stays fails if the account leaves state within d.
func (r *rig) stays(id core.AccountID, state core.State, d time.Duration) {
	r.t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if st := r.status(id); st.State != state {
			r.t.Fatalf("%s went %v → %v (%s); timeline:\n%s", id, state, st.State, st.Reason, r.timeline(id))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *rig) events(id core.AccountID) []core.Event {
	r.t.Helper()
	evs, err := r.m.Events(context.Background(), id, 10000)
	if err != nil {
		r.t.Fatalf("Events: %v", err)
	}
	return evs
}

func (r *rig) timeline(id core.AccountID) string {
	evs, err := r.m.Events(context.Background(), id, 10000)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %s %v → %v  %s: %s (attempt %d, delay %v, epoch %d)\n",
			ev.At.Format("15:04:05.000"), ev.From, ev.To, ev.Cause, ev.Reason, ev.Attempt, ev.Delay, ev.Epoch)
	}
	return b.String()
}

// transition returns the first event after index from that moves the account
// into state to, and its index; -1 when there is none.
func transition(evs []core.Event, from int, to core.State) (core.Event, int) {
	for i := from; i < len(evs); i++ {
		if evs[i].To == to && evs[i].From != to {
			return evs[i], i
		}
	}
	return core.Event{}, -1
}

// add adds an account and pairs it by QR code, and waits until it is
// connected. It returns the account.
func (r *rig) add(name string) core.Account {
	r.t.Helper()
	acct, err := r.m.Add(context.Background(), name)
	if err != nil {
		r.t.Fatalf("Add: %v", err)
	}
	st := r.waitState(acct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	jid, err := r.srv.ScanQR(st.QRCode)
	if err != nil {
		r.t.Fatalf("ScanQR: %v", err)
	}
	st = r.waitState(acct.ID, core.Connected)
	if st.Account.JID != jid {
		r.t.Fatalf("the connected account has JID %q, the phone linked %q", st.Account.JID, jid)
	}
	return st.Account
}

func (r *rig) inject(jid string, f fakewa.Fault) {
	r.t.Helper()
	if err := r.srv.Inject(jid, f); err != nil {
		r.t.Fatalf("Inject %v: %v", f.Kind, err)
	}
}

func (r *rig) hasKeys(acct core.Account) bool {
	r.t.Helper()
	ok, err := r.d.HasDevice(context.Background(), acct)
	if err != nil {
		r.t.Fatalf("HasDevice: %v", err)
	}
	return ok
}

// oneClient checks the invariant on the server: the device never had two
// logged-in sockets at once.
func (r *rig) oneClient(jid string) {
	r.t.Helper()
	if n := r.srv.MaxConcurrentLogins(jid); n != 1 {
		r.t.Errorf("MaxConcurrentLogins(%s) = %d, want 1", jid, n)
	}
}

// 1. QR pairing, then a restart of Warden logs in again without a QR code.
func TestManagerQRPairingAndRestart(t *testing.T) {
	r := newRig(t, 201, testPolicy())
	acct, err := r.m.Add(context.Background(), "Alice")
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	st := r.waitState(acct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	if st.QRIndex != 1 || st.QRTotal != 6 || st.QRExpires.Before(time.Now().Add(50*time.Second)) {
		t.Errorf("pairing shows code %d of %d expiring %v from now; want 1 of 6, about 60 s", st.QRIndex, st.QRTotal, time.Until(st.QRExpires))
	}
	jid, err := r.srv.ScanQR(st.QRCode)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	st = r.waitState(acct.ID, core.Connected)
	if st.Account.JID != jid {
		t.Fatalf("JID = %q, want %q", st.Account.JID, jid)
	}
	if stored, _ := r.store.Account(acct.ID); stored.JID != jid {
		t.Errorf("stored JID = %q, want %q", stored.JID, jid)
	}

	r.restart()
	r.waitState(acct.ID, core.Connected)
	evs := r.events(acct.ID)
	restarted := 0
	for i, ev := range evs {
		if ev.Cause == core.CauseStartup {
			restarted = i
		}
	}
	if _, i := transition(evs, restarted, core.Pairing); i >= 0 {
		t.Errorf("after the restart the account paired again; timeline:\n%s", r.timeline(acct.ID))
	}
	if r.srv.Logins(jid) != 2 {
		t.Errorf("Logins = %d, want 2 (pairing, restart)", r.srv.Logins(jid))
	}
	r.oneClient(jid)
}

// 2. Pairing by phone code.
func TestManagerPhoneCodePairing(t *testing.T) {
	r := newRig(t, 202, testPolicy())
	acct, err := r.m.Add(context.Background(), "Bob")
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	r.waitState(acct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	const phone = "+1 (555) 000-7777"
	code, err := r.m.PairPhone(context.Background(), acct.ID, phone)
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := r.srv.EnterPhoneCode(phone, code); err != nil {
		t.Fatalf("EnterPhoneCode(%q): %v", code, err)
	}
	st := r.waitState(acct.ID, core.Connected)
	if st.Account.Phone() != "15550007777" {
		t.Errorf("paired phone = %q (JID %q), want 15550007777", st.Account.Phone(), st.Account.JID)
	}
	r.oneClient(st.Account.JID)
}

// 3. A conflict: Warden closes at once, takes the account over once after the
// takeover delay, and parks it on a second conflict.
func TestManagerConflict(t *testing.T) {
	r := newRig(t, 203, testPolicy())
	acct := r.add("Carol")
	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultReplaced})
	st := r.waitState(acct.ID, core.Replaced)
	if st.NextAttempt.IsZero() {
		t.Fatalf("first conflict: no takeover scheduled (%s)", st.Reason)
	}
	waitUntil(t, "the replaced socket is closed", func() bool { return r.srv.LiveSockets() == 0 })
	r.waitState(acct.ID, core.Connected)
	evs := r.events(acct.ID)
	replaced, i := transition(evs, 0, core.Replaced)
	dial, _ := transition(evs, i, core.Connecting)
	if gap := dial.At.Sub(replaced.At); gap < r.policy.TakeoverDelay {
		t.Errorf("took over %v after the conflict, before the takeover delay %v", gap, r.policy.TakeoverDelay)
	}

	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultReplaced})
	st = r.waitState(acct.ID, core.Replaced)
	if !st.NextAttempt.IsZero() || !st.NeedsAction() {
		t.Fatalf("second conflict: want parked, got next attempt at %v (%s)", st.NextAttempt, st.Reason)
	}
	r.stays(acct.ID, core.Replaced, 2*r.policy.TakeoverDelay)
	if r.srv.Logins(acct.JID) != 2 || r.srv.LiveSockets() != 0 {
		t.Errorf("Logins = %d, LiveSockets = %d; want 2 (pairing, one takeover) and 0", r.srv.Logins(acct.JID), r.srv.LiveSockets())
	}
	r.oneClient(acct.JID)
}

// 4. A 515 ends Connected again; a hard drop reconnects on the schedule; a
// refused upgrade counts as a failed attempt.
func TestManagerRestartDropAndRefusal(t *testing.T) {
	r := newRig(t, 204, testPolicy())
	acct := r.add("Dave")

	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultRestart})
	waitUntil(t, "whatsmeow logged in again after 515", func() bool { return r.srv.Logins(acct.JID) == 2 })
	r.waitState(acct.ID, core.Connected)
	r.stays(acct.ID, core.Connected, 100*time.Millisecond)

	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(acct.ID, core.Connected, func(core.Status) bool { return r.srv.Logins(acct.JID) == 3 })
	evs := r.events(acct.ID)
	waiting, i := transition(evs, 0, core.Waiting)
	if i < 0 || waiting.Attempt != 1 {
		t.Fatalf("a drop did not wait for attempt 1; timeline:\n%s", r.timeline(acct.ID))
	}
	dial, _ := transition(evs, i, core.Connecting)
	if gap := dial.At.Sub(waiting.At); gap < r.policy.Delay(1) {
		t.Errorf("redialled %v after the drop, before the schedule's %v", gap, r.policy.Delay(1))
	}

	r.srv.RefuseUpgrades(1)
	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(acct.ID, core.Connected, func(core.Status) bool { return r.srv.Logins(acct.JID) == 4 })
	evs = r.events(acct.ID)
	failed := false
	for _, ev := range evs[i+1:] {
		if ev.Cause == core.CauseDialFailed && ev.To == core.Waiting && ev.Attempt >= 2 {
			failed = true
		}
	}
	if !failed {
		t.Errorf("the refused upgrade did not count as a failed attempt; timeline:\n%s", r.timeline(acct.ID))
	}
	r.oneClient(acct.JID)
}

// 4b. After pairing, WhatsApp asks for a reconnect (515) to log in with the
// new keys. When that reconnect fails, the account does not stay on "paired:
// logging in": the adapter reports it at once, and core retries on its
// schedule with the keys just made. The login timeout is set far off, so that
// only the adapter's report can end Connecting within the test.
func TestManagerRestartAfterPairingFails(t *testing.T) {
	p := testPolicy()
	p.LoginTimeout = time.Hour
	r := newRig(t, 205, p)
	acct, err := r.m.Add(context.Background(), "Erin")
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	st := r.waitState(acct.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	r.srv.RefuseAfterPairing(1)
	jid, err := r.srv.ScanQR(st.QRCode)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	st = r.waitState(acct.ID, core.Connected)
	if st.Account.JID != jid {
		t.Fatalf("JID = %q, want %q", st.Account.JID, jid)
	}
	if n := r.srv.Refusals(); n != 1 {
		t.Fatalf("Refusals = %d: the reconnect after pairing was not refused", n)
	}
	evs := r.events(acct.ID)
	paired, i := transition(evs, 0, core.Connecting)
	waiting, j := transition(evs, i, core.Waiting)
	if i < 0 || paired.Cause != core.SessionPairSuccess.String() || j < 0 {
		t.Fatalf("want pair success → Connecting → Waiting; timeline:\n%s", r.timeline(acct.ID))
	}
	if waiting.Cause != core.SessionDisconnected.String() || !strings.Contains(waiting.Reason, "after pairing") {
		t.Errorf("Waiting for %q: %q, want the failed reconnect after pairing in the reason", waiting.Cause, waiting.Reason)
	}
	if r.srv.Logins(jid) != 1 {
		t.Errorf("Logins = %d, want 1 (the retry)", r.srv.Logins(jid))
	}
	r.oneClient(jid)
}

// 5. The permanent ends: a device removed on the phone and a 401 at login end
// in LoggedOut with the keys gone; 402 is a ban with its expiry; 405 is
// Outdated.
func TestManagerPermanentFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault fakewa.Fault
		state core.State
		check func(t *testing.T, r *rig, acct core.Account, st core.Status)
	}{
		{"device removed", fakewa.Fault{Kind: fakewa.FaultDeviceRemoved}, core.LoggedOut, nil},
		{"401 at login", fakewa.Fault{Kind: fakewa.FaultFail401}, core.LoggedOut, nil},
		{"402 at login", fakewa.Fault{Kind: fakewa.FaultFail402, Code: 102, Expire: time.Hour}, core.Banned,
			func(t *testing.T, r *rig, acct core.Account, st core.Status) {
				if until := time.Until(st.NextAttempt); until < time.Hour-wait || until > time.Hour+time.Hour/10 {
					t.Errorf("banned: next attempt in %v, want after the 1 h expiry", until)
				}
				if !r.hasKeys(acct) {
					t.Error("a ban deleted the device keys")
				}
			}},
		{"405 at login", fakewa.Fault{Kind: fakewa.FaultFail405}, core.Outdated,
			func(t *testing.T, r *rig, acct core.Account, st core.Status) {
				if !st.NeedsAction() {
					t.Error("Outdated does not ask for the operator")
				}
			}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 210+int64(i), testPolicy())
			acct := r.add("Erin")
			r.inject(acct.JID, tt.fault)
			if tt.fault.Kind != fakewa.FaultDeviceRemoved {
				// A login fault answers the next login: drop the socket,
				// and Warden's reconnect meets it.
				r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
			}
			st := r.waitState(acct.ID, tt.state)
			waitUntil(t, "no socket is left", func() bool { return r.srv.LiveSockets() == 0 })
			if tt.state == core.LoggedOut {
				waitUntil(t, "the device keys are deleted", func() bool { return !r.hasKeys(acct) })
			}
			if tt.check != nil {
				tt.check(t, r, acct, st)
			}
			r.stays(acct.ID, tt.state, 200*time.Millisecond)
			r.oneClient(acct.JID)
		})
	}
}

// 6. Log out: online it unlinks the device; offline it says so at once.
func TestManagerLogout(t *testing.T) {
	r := newRig(t, 220, testPolicy())
	acct := r.add("Frank")
	if err := r.m.Logout(context.Background(), acct.ID); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !r.srv.Unlinked(acct.JID) {
		t.Error("the server did not see the device unlink itself")
	}
	r.waitState(acct.ID, core.LoggedOut)
	if r.hasKeys(acct) {
		t.Error("the device keys survived the logout")
	}
	waitUntil(t, "no socket is left", func() bool { return r.srv.LiveSockets() == 0 })

	other := r.add("Grace")
	if err := r.m.Disconnect(context.Background(), other.ID); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := r.m.Logout(ctx, other.ID)
	if !errors.Is(err, core.ErrNotConnected) {
		t.Fatalf("Logout while disconnected = %v, want ErrNotConnected", err)
	}
	if r.srv.Unlinked(other.JID) || !r.hasKeys(other) {
		t.Error("an offline logout touched the device")
	}
}

// 7. Delete leaves no socket open, whether the account is connected, waiting
// or pairing.
func TestManagerDelete(t *testing.T) {
	r := newRig(t, 230, testPolicy())
	ctx := context.Background()

	connected := r.add("Connected")
	if err := r.m.Delete(ctx, connected.ID); err != nil {
		t.Fatalf("Delete while connected: %v", err)
	}
	if !r.srv.Unlinked(connected.JID) {
		t.Error("Delete of a connected account did not unlink the device")
	}

	waiting := r.add("Waiting")
	r.srv.RefuseUpgrades(1000)
	r.inject(waiting.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(waiting.ID, core.Waiting)
	if err := r.m.Delete(ctx, waiting.ID); !errors.Is(err, core.ErrStillLinked) {
		t.Errorf("Delete while waiting = %v, want ErrStillLinked (the phone still lists the device)", err)
	}
	r.srv.RefuseUpgrades(0)

	pairing, err := r.m.Add(ctx, "Pairing")
	if err != nil {
		t.Fatal(err)
	}
	r.waitState(pairing.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	if err := r.m.Delete(ctx, pairing.ID); err != nil {
		t.Errorf("Delete while pairing: %v", err)
	}

	for _, acct := range []core.Account{connected, waiting, pairing} {
		if _, ok := r.m.Status(acct.ID); ok {
			t.Errorf("%s still exists after Delete", acct.Name)
		}
		if acct.JID != "" && r.hasKeys(acct) {
			t.Errorf("%s: the device keys survived Delete", acct.Name)
		}
	}
	waitUntil(t, "no socket is left", func() bool { return r.srv.LiveSockets() == 0 })
	r.oneClient(connected.JID)
	r.oneClient(waiting.JID)
}

// 8. A stalled socket (keepalives unanswered) is closed and replaced after the
// zombie threshold.
func TestManagerZombie(t *testing.T) {
	r := newRig(t, 240, testPolicy())
	acct := r.add("Heidi")
	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultStall})
	r.waitState(acct.ID, core.Connected, func(st core.Status) bool { return !st.KeepAliveFailingSince.IsZero() })
	r.waitState(acct.ID, core.Connected, func(core.Status) bool { return r.srv.Logins(acct.JID) == 2 })
	evs := r.events(acct.ID)
	var zombie core.Event
	for _, ev := range evs {
		if ev.Cause == core.CauseZombie {
			zombie = ev
		}
	}
	if zombie.Cause == "" {
		t.Fatalf("no zombie event; timeline:\n%s", r.timeline(acct.ID))
	}
	waitUntil(t, "one socket is left", func() bool { return r.srv.LiveSockets() == 1 })
	r.oneClient(acct.JID)
}

// 9. The soak: 20 accounts under random faults from a fixed seed. No device
// ever has two logged-in sockets, and every account ends Connected once the
// faults stop. WARDEN_SOAK=1 runs it for 2 minutes instead of 15 s.
func TestManagerSoak(t *testing.T) {
	duration := 15 * time.Second
	if os.Getenv("WARDEN_SOAK") == "1" {
		duration = 2 * time.Minute
	}
	p := testPolicy()
	// Conflicts come from chaos here, not from another client: always take
	// the account back, so that it can end Connected.
	p.ConflictLimit = 1 << 20
	r := newRig(t, 250, p)
	const n = 20
	accts := make([]core.Account, n)
	for i := range accts {
		accts[i] = r.add(fmt.Sprintf("Soak %02d", i))
	}

	// Every fault that Warden recovers from by itself.
	r.srv.StartChaos(250, duration/300, fakewa.FaultReplaced, fakewa.FaultRestart, fakewa.FaultStream503,
		fakewa.FaultDrop, fakewa.FaultStall, fakewa.FaultFail402, fakewa.FaultFail500)
	time.Sleep(duration)
	r.srv.StopChaos()

	deadline := time.Now().Add(4 * wait)
	for _, acct := range accts {
		for {
			st := r.status(acct.ID)
			if st.State == core.Connected && r.srv.LoggedIn(acct.JID) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is %v (%s) after the faults stopped; timeline:\n%s", acct.Name, st.State, st.Reason, r.timeline(acct.ID))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// One socket per account: none leaked by a close that went wrong.
	waitUntil(t, "one socket per account", func() bool { return r.srv.LiveSockets() == n })
	logins := 0
	for _, acct := range accts {
		r.oneClient(acct.JID)
		logins += r.srv.Logins(acct.JID)
	}
	c := r.m.Counters()
	t.Logf("%d accounts, %v of chaos: %d logins, %d stale events dropped, %d reconnections skipped",
		n, duration, logins, c.StaleDropped, c.Skipped)
	if logins < 2*n {
		t.Errorf("only %d logins for %d accounts: the chaos did not bite", logins, n)
	}
}
