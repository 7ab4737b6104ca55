// The tests in this file and manager_test.go drive real whatsmeow clients
// against core/fakewa. Run them without -race: whatsmeow has known data races
// of its own (see WHATSAPP.md).
package whatsapp_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

func TestQRPairingThenLoginWithoutQR(t *testing.T) {
	srv := newServer(t, 1)
	d, _ := newDialer(t, srv)
	acct := core.Account{ID: "a1"}
	s, rec := connect(t, d, acct)

	before := time.Now()
	qr := rec.next(core.SessionQR)
	if qr.QRIndex != 1 || qr.QRTotal != 6 || qr.QRCode == "" {
		t.Fatalf("first QR = index %d of %d, code %q; want 1 of 6 with a code", qr.QRIndex, qr.QRTotal, qr.QRCode)
	}
	if left := qr.QRExpires.Sub(before); left < 59*time.Second || left > 61*time.Second+wait {
		t.Errorf("the first QR code expires in %v, want about 60 s", left)
	}
	jid, err := srv.ScanQR(qr.QRCode)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	if got := rec.next(core.SessionPairSuccess, core.SessionQRTimeout, core.SessionDisconnected); got.JID != jid {
		t.Fatalf("PairSuccess JID = %q, want %q", got.JID, jid)
	}
	rec.next(core.SessionConnected, core.SessionDisconnected)
	acct.JID = jid
	if ok, err := d.HasDevice(context.Background(), acct); !ok || err != nil {
		t.Fatalf("HasDevice after pairing = %v, %v; want true", ok, err)
	}

	s.Close()
	waitUntil(t, "no socket is left", func() bool { return srv.LiveSockets() == 0 })
	rec.none(core.SessionDisconnected, 100*time.Millisecond) // Close is not news

	// A new session for the stored JID logs in with no QR code.
	_, rec2 := connect(t, d, acct)
	rec2.next(core.SessionConnected, core.SessionQR, core.SessionDisconnected)
	if srv.Logins(jid) != 2 || srv.MaxConcurrentLogins(jid) != 1 {
		t.Fatalf("Logins = %d, MaxConcurrentLogins = %d; want 2 and 1", srv.Logins(jid), srv.MaxConcurrentLogins(jid))
	}
}

func TestPhoneCodePairing(t *testing.T) {
	srv := newServer(t, 2)
	d, _ := newDialer(t, srv)
	s, rec := connect(t, d, core.Account{ID: "a1"})
	const phone = "+1 555 000 4242"
	if _, err := s.PairPhone(context.Background(), "0123"); !errors.Is(err, core.ErrInvalidPhone) {
		t.Errorf("PairPhone with a bad number = %v, want ErrInvalidPhone", err)
	}
	code, err := s.PairPhone(context.Background(), phone)
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if len(code) != 9 || code[4] != '-' {
		t.Errorf("code = %q, want XXXX-XXXX", code)
	}
	if err := srv.EnterPhoneCode(phone, code); err != nil {
		t.Fatalf("EnterPhoneCode: %v", err)
	}
	got := rec.next(core.SessionPairSuccess, core.SessionPairError, core.SessionQRTimeout)
	if want := "15550004242:"; len(got.JID) < len(want) || got.JID[:len(want)] != want {
		t.Errorf("PairSuccess JID = %q, want a device of 15550004242", got.JID)
	}
	rec.next(core.SessionConnected, core.SessionDisconnected)
	if _, err := s.PairPhone(context.Background(), phone); !errors.Is(err, core.ErrNotPairing) {
		t.Errorf("PairPhone after pairing = %v, want ErrNotPairing", err)
	}
}

func TestLogoutOnline(t *testing.T) {
	srv := newServer(t, 3)
	d, _ := newDialer(t, srv)
	s, rec, acct := pair(t, srv, d, "a1")
	if err := s.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !srv.Unlinked(acct.JID) {
		t.Error("the server did not see the device unlink itself")
	}
	if ok, _ := d.HasDevice(context.Background(), acct); ok {
		t.Error("the device keys are still stored after Logout")
	}
	s.Close()
	waitUntil(t, "no socket is left", func() bool { return srv.LiveSockets() == 0 })
	rec.none(core.SessionDisconnected, 100*time.Millisecond)
}

func TestLogoutOffline(t *testing.T) {
	srv := newServer(t, 4)
	d, _ := newDialer(t, srv)
	s, rec, acct := pair(t, srv, d, "a1")
	if err := srv.Inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop}); err != nil {
		t.Fatal(err)
	}
	rec.next(core.SessionDisconnected)
	start := time.Now()
	err := s.Logout(context.Background())
	if !errors.Is(err, core.ErrNotConnected) {
		t.Fatalf("Logout after a drop = %v, want ErrNotConnected", err)
	}
	t.Logf("offline Logout returned in %v", time.Since(start))
	if srv.Unlinked(acct.JID) {
		t.Error("the server saw an unlink from an offline session")
	}
	if ok, _ := d.HasDevice(context.Background(), acct); !ok {
		t.Error("an offline Logout deleted the device keys")
	}
}

func TestCloseDuringPairingAndTwice(t *testing.T) {
	srv := newServer(t, 6)
	d, _ := newDialer(t, srv)
	s, rec := connect(t, d, core.Account{ID: "a1"})
	rec.next(core.SessionQR)
	if srv.LiveSockets() != 1 {
		t.Fatalf("LiveSockets = %d while pairing, want 1", srv.LiveSockets())
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	s.Close()
	<-done
	waitUntil(t, "no socket is left", func() bool { return srv.LiveSockets() == 0 })
	rec.none(core.SessionQRTimeout, 100*time.Millisecond)
	if err := s.Connect(context.Background()); err == nil {
		t.Error("Connect after Close: got nil error")
	}
}

func TestDeleteDevice(t *testing.T) {
	srv := newServer(t, 7)
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	if err := d.DeleteDevice(context.Background(), acct); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	if ok, _ := d.HasDevice(context.Background(), acct); ok {
		t.Fatal("the keys are still there after DeleteDevice")
	}
	if err := d.DeleteDevice(context.Background(), acct); err != nil {
		t.Errorf("DeleteDevice twice: %v", err)
	}
	// With its keys gone, the account pairs again.
	_, rec := connect(t, d, acct)
	rec.next(core.SessionQR, core.SessionConnected)
}

// Each fault of the server produces the mapped session event.
func TestFaults(t *testing.T) {
	tests := []struct {
		fault fakewa.Fault
		// login: the fault answers the next login, so the test connects a
		// new session after injecting it.
		login bool
		want  core.SessionEventKind
		code  int
		check func(t *testing.T, e faultEnv)
	}{
		{fault: fakewa.Fault{Kind: fakewa.FaultReplaced}, want: core.SessionReplaced, code: 440,
			check: func(t *testing.T, e faultEnv) {
				// The adapter closes the socket at once, and says nothing more.
				waitUntil(t, "the replaced socket is closed", func() bool { return e.srv.LiveSockets() == 0 })
				e.rec.none(core.SessionDisconnected, 200*time.Millisecond)
			}},
		{fault: fakewa.Fault{Kind: fakewa.FaultRestart}, want: core.SessionConnected,
			check: func(t *testing.T, e faultEnv) {
				if e.srv.Logins(e.acct.JID) != 2 || e.srv.MaxConcurrentLogins(e.acct.JID) != 1 {
					t.Errorf("after 515: Logins = %d, MaxConcurrentLogins = %d; want 2 and 1",
						e.srv.Logins(e.acct.JID), e.srv.MaxConcurrentLogins(e.acct.JID))
				}
			}},
		{fault: fakewa.Fault{Kind: fakewa.FaultDeviceRemoved}, want: core.SessionLoggedOut, code: 401,
			check: keysGone},
		{fault: fakewa.Fault{Kind: fakewa.FaultStream503}, want: core.SessionDisconnected},
		{fault: fakewa.Fault{Kind: fakewa.FaultDrop}, want: core.SessionDisconnected},
		{fault: fakewa.Fault{Kind: fakewa.FaultStall}, want: core.SessionKeepAliveTimeout,
			check: func(t *testing.T, e faultEnv) {
				if e.srv.LoggedIn(e.acct.JID) != 1 {
					t.Errorf("LoggedIn = %d on a stalled socket, want 1", e.srv.LoggedIn(e.acct.JID))
				}
			}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail401}, login: true, want: core.SessionLoggedOut, code: 401, check: keysGone},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail402, Expire: time.Hour, Code: 102}, login: true,
			want: core.SessionTemporaryBan, code: 102,
			check: func(t *testing.T, e faultEnv) {
				if left := time.Until(e.ev.Until); left < time.Hour-wait || left > time.Hour {
					t.Errorf("ban until %v from now, want about 1 h", left)
				}
				waitUntil(t, "the banned socket is closed", func() bool { return e.srv.LiveSockets() == 0 })
			}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail405}, login: true, want: core.SessionOutdated, code: 405},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail500}, login: true, want: core.SessionDisconnected},
	}
	for i, tt := range tests {
		t.Run(tt.fault.Kind.String(), func(t *testing.T) {
			srv := newServer(t, 100+int64(i))
			d, _ := newDialer(t, srv)
			s, rec, acct := pair(t, srv, d, "a1")
			if err := srv.Inject(acct.JID, tt.fault); err != nil {
				t.Fatalf("Inject: %v", err)
			}
			if tt.login {
				s.Close()
				_, rec = connect(t, d, acct)
			}
			ev := rec.next(tt.want)
			if ev.Code != tt.code {
				t.Errorf("%v event code = %d, want %d", ev.Kind, ev.Code, tt.code)
			}
			if tt.check != nil {
				tt.check(t, faultEnv{srv: srv, d: d, acct: acct, ev: ev, rec: rec})
			}
		})
	}
}

// faultEnv is what a fault check looks at.
type faultEnv struct {
	srv  *fakewa.Server
	d    *whatsapp.Dialer
	acct core.Account
	ev   core.SessionEvent // the mapped event
	rec  *recorder
}

func keysGone(t *testing.T, e faultEnv) {
	t.Helper()
	waitUntil(t, "the device keys are deleted", func() bool {
		ok, err := e.d.HasDevice(context.Background(), e.acct)
		return err == nil && !ok
	})
	waitUntil(t, "the socket is closed", func() bool { return e.srv.LiveSockets() == 0 })
	e.rec.none(core.SessionDisconnected, 100*time.Millisecond)
}

// whatsmeow would reconnect by itself after a 515 and say nothing when that
// reconnect fails. The session makes that reconnect and reports its failure.
func TestSilentLossAfterRestartIsReported(t *testing.T) {
	srv := newServer(t, 8)
	d, _ := newDialer(t, srv)
	_, rec, acct := pair(t, srv, d, "a1")
	srv.RefuseUpgrades(1)
	if err := srv.Inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultRestart}); err != nil {
		t.Fatal(err)
	}
	ev := rec.next(core.SessionDisconnected, core.SessionConnected)
	if !strings.Contains(ev.Reason, "515") {
		t.Errorf("reason = %q, want the failed reconnect after the 515", ev.Reason)
	}
	// The report comes as soon as the reconnect is refused; the server
	// notices the old socket's close a moment later.
	waitUntil(t, "no socket is left", func() bool { return srv.LiveSockets() == 0 })
}

// The reconnect after pairing (515) is the session's too: when it fails, the
// session says so at once, instead of leaving the device paired and never
// logged in.
func TestRestartAfterPairingFailureIsReported(t *testing.T) {
	srv := newServer(t, 10)
	d, _ := newDialer(t, srv)
	s, rec := connect(t, d, core.Account{ID: "a1"})
	qr := rec.next(core.SessionQR)
	srv.RefuseAfterPairing(1)
	jid, err := srv.ScanQR(qr.QRCode)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	if got := rec.next(core.SessionPairSuccess); got.JID != jid {
		t.Fatalf("PairSuccess JID = %q, want %q", got.JID, jid)
	}
	ev := rec.next(core.SessionDisconnected, core.SessionConnected)
	if !strings.Contains(ev.Reason, "after pairing") || !strings.Contains(ev.Reason, "503") {
		t.Errorf("reason = %q, want the failed reconnect after pairing and why", ev.Reason)
	}
	s.Close()
	// The keys were kept: a new session logs in without pairing.
	_, rec = connect(t, d, core.Account{ID: "a1", JID: jid})
	rec.next(core.SessionConnected, core.SessionQR)
	if srv.Logins(jid) != 1 || srv.MaxConcurrentLogins(jid) != 1 {
		t.Errorf("Logins = %d, MaxConcurrentLogins = %d; want 1 and 1", srv.Logins(jid), srv.MaxConcurrentLogins(jid))
	}
}

// The QR codes rotate on whatsmeow's clock: the first lasts 60 s, the others
// 20 s. The phone scans the second one. This takes over a minute, so it runs
// with the soak: WARDEN_SOAK=1.
func TestQRCodesRotate(t *testing.T) {
	if os.Getenv("WARDEN_SOAK") != "1" {
		t.Skip("waits 60 s for the second QR code; set WARDEN_SOAK=1 to run it")
	}
	srv := newServer(t, 9)
	d, _ := newDialer(t, srv)
	_, rec := connect(t, d, core.Account{ID: "a1"})
	first := rec.next(core.SessionQR)
	var second core.SessionEvent
	select {
	case second = <-rec.ch:
	case <-time.After(60*time.Second + wait):
		t.Fatalf("no second event within 60 s + %v", wait)
	}
	if second.Kind != core.SessionQR || second.QRIndex != 2 || second.QRTotal != 6 || second.QRCode == first.QRCode {
		t.Fatalf("second event = %v, code %d of %d (same code: %v); want QR code 2 of 6, a new one",
			second.Kind, second.QRIndex, second.QRTotal, second.QRCode == first.QRCode)
	}
	if shown := second.QRExpires.Sub(first.QRExpires); shown < 19*time.Second || shown > 21*time.Second {
		t.Errorf("code 2 expires %v after code 1, want 20 s", shown)
	}
	jid, err := srv.ScanQR(second.QRCode)
	if err != nil {
		t.Fatalf("ScanQR(code 2): %v", err)
	}
	if got := rec.next(core.SessionPairSuccess, core.SessionQRTimeout); got.JID != jid {
		t.Fatalf("PairSuccess JID = %q, want %q", got.JID, jid)
	}
	rec.next(core.SessionConnected, core.SessionDisconnected)
}
