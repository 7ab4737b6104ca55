// These tests drive real whatsmeow clients against the fake server. Run them
// without -race: whatsmeow has known data races of its own (see WHATSAPP.md).
package fakewa_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types/events"
	_ "modernc.org/sqlite"

	"warden/core/fakewa"
)

// eventWait bounds every wait for a whatsmeow event.
const eventWait = 5 * time.Second

// TestMain shortens whatsmeow's keepalive timing for every client of the
// package: it is process-wide, so it is set once, before any client runs.
func TestMain(m *testing.M) {
	whatsmeow.KeepAliveIntervalMin = 50 * time.Millisecond
	whatsmeow.KeepAliveIntervalMax = 100 * time.Millisecond
	whatsmeow.KeepAliveResponseDeadline = 500 * time.Millisecond
	os.Exit(m.Run())
}

func newServer(t testing.TB, cfg fakewa.Config) *fakewa.Server {
	t.Helper()
	if cfg.OnUnknownIQ == nil {
		cfg.OnUnknownIQ = func(iq string) { t.Errorf("the client sent an IQ fakewa does not implement: %s", iq) }
	}
	s, err := fakewa.New(cfg)
	if err != nil {
		t.Fatalf("fakewa.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

var dbSeq atomic.Int64

// newContainer opens a fresh in-memory whatsmeow store.
func newContainer(t testing.TB) *sqlstore.Container {
	t.Helper()
	dsn := fmt.Sprintf("file:fakewa%d?mode=memory&cache=shared&_pragma=foreign_keys(1)", dbSeq.Add(1))
	container, err := sqlstore.New(context.Background(), "sqlite", dsn, nil)
	if err != nil {
		t.Fatalf("sqlstore.New: %v", err)
	}
	t.Cleanup(func() { _ = container.Close() })
	return container
}

// client is a bare whatsmeow client and the events it emitted.
type client struct {
	*whatsmeow.Client
	events chan any
}

func newClient(t testing.TB, s *fakewa.Server, dev *store.Device) *client {
	t.Helper()
	cli := whatsmeow.NewClient(dev, nil)
	cli.EnableAutoReconnect = false
	cli.SetPreLoginHTTPClient(s.HTTPClient())
	cli.SetWebsocketHTTPClient(s.HTTPClient())
	c := &client{Client: cli, events: make(chan any, 1024)}
	cli.AddEventHandler(func(evt any) {
		select {
		case c.events <- evt:
		default:
			t.Errorf("event buffer full, dropped %T", evt)
		}
	})
	t.Cleanup(cli.Disconnect)
	return c
}

// waitEvent waits for the next event of type T, skipping others.
func waitEvent[T any](t testing.TB, c *client) T {
	t.Helper()
	timeout := time.After(eventWait)
	for {
		select {
		case evt := <-c.events:
			if e, ok := evt.(T); ok {
				return e
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T within %v", zero, eventWait)
			return zero
		}
	}
}

// noEvent fails if an event of type T comes within d.
func noEvent[T any](t *testing.T, c *client, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case evt := <-c.events:
			if _, ok := evt.(T); ok {
				t.Fatalf("unexpected %T: %+v", evt, evt)
			}
		case <-timeout:
			return
		}
	}
}

// waitUntil polls cond until it holds or eventWait passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pairByQR pairs a new client by scanning the given code (1-based) of the six
// it shows, and waits until it is connected. It returns the client, its store
// and the device JID.
func pairByQR(t testing.TB, s *fakewa.Server, codeIndex int) (*client, *sqlstore.Container, string) {
	t.Helper()
	container := newContainer(t)
	c := newClient(t, s, container.NewDevice())
	qr, err := c.GetQRChannel(context.Background())
	if err != nil {
		t.Fatalf("GetQRChannel: %v", err)
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	codes := waitEvent[*events.QR](t, c).Codes
	if len(codes) != 6 {
		t.Fatalf("got %d QR codes, want 6", len(codes))
	}
	if first := <-qr; first.Event != whatsmeow.QRChannelEventCode || first.Code != codes[0] {
		t.Fatalf("first QR channel item = %+v, want code %q", first, codes[0])
	}
	jid, err := s.ScanQR(codes[codeIndex-1])
	if err != nil {
		t.Fatalf("ScanQR(code %d): %v", codeIndex, err)
	}
	success := waitEvent[*events.PairSuccess](t, c)
	if success.ID.String() != jid {
		t.Fatalf("PairSuccess.ID = %s, ScanQR returned %s", success.ID, jid)
	}
	waitEvent[*events.Connected](t, c)
	for item := range qr {
		if item != whatsmeow.QRChannelSuccess {
			t.Fatalf("QR channel ended with %+v, want success", item)
		}
	}
	return c, container, jid
}

func TestQRPairingThenLoginWithoutQR(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 1})
	container := newContainer(t)
	c := newClient(t, s, container.NewDevice())
	qr, err := c.GetQRChannel(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	codes := waitEvent[*events.QR](t, c).Codes
	refs := map[string]bool{}
	for _, code := range codes {
		refs[strings.Split(code, ",")[0]] = true
	}
	if len(codes) != 6 || len(refs) != 6 {
		t.Fatalf("got %d codes with %d distinct refs, want 6 and 6: %q", len(codes), len(refs), codes)
	}
	first := <-qr
	if first.Code != codes[0] || first.Timeout != 60*time.Second {
		t.Fatalf("first QR item = %q for %v, want the first code for 60s", first.Code, first.Timeout)
	}

	// The phone scans the second code, in the form other Web clients show.
	jid, err := s.ScanQR("https://wa.me/settings/linked_devices#" + codes[1] + ",1")
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	if !strings.HasPrefix(jid, "1555000") || !strings.HasSuffix(jid, ":1@s.whatsapp.net") {
		t.Fatalf("ScanQR returned %q, want a 1555000XXXX:1@s.whatsapp.net device", jid)
	}
	if got := waitEvent[*events.PairSuccess](t, c); got.ID.String() != jid || got.LID.IsEmpty() {
		t.Fatalf("PairSuccess = %+v, want ID %s and a LID", got, jid)
	}
	waitEvent[*events.Connected](t, c)
	if last := <-qr; last != whatsmeow.QRChannelSuccess {
		t.Fatalf("QR channel ended with %+v, want success", last)
	}
	if c.Store.ID == nil || c.Store.ID.String() != jid {
		t.Fatalf("client store ID = %v, want %s", c.Store.ID, jid)
	}
	if got := s.Devices(); len(got) != 1 || got[0] != jid {
		t.Fatalf("Devices() = %v, want [%s]", got, jid)
	}
	if s.Logins(jid) != 1 || s.LoggedIn(jid) != 1 {
		t.Fatalf("after pairing Logins = %d, LoggedIn = %d; want 1 and 1", s.Logins(jid), s.LoggedIn(jid))
	}

	// The other refs of that socket are spent.
	if _, err := s.ScanQR(codes[2]); !errors.Is(err, fakewa.ErrUnknownRef) {
		t.Fatalf("ScanQR of a spent ref = %v, want ErrUnknownRef", err)
	}

	// A new client from the same store logs in without QR codes.
	c.Disconnect()
	waitUntil(t, "the first socket closed", func() bool { return s.LoggedIn(jid) == 0 })
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again := newClient(t, s, dev)
	if err := again.Connect(); err != nil {
		t.Fatalf("Connect of the paired store: %v", err)
	}
	waitEvent[*events.Connected](t, again)
	if s.Logins(jid) != 2 || s.MaxConcurrentLogins(jid) != 1 {
		t.Fatalf("Logins = %d, MaxConcurrentLogins = %d; want 2 and 1", s.Logins(jid), s.MaxConcurrentLogins(jid))
	}
}

func TestScanQRRejectsBadCodes(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 2})
	container := newContainer(t)
	c := newClient(t, s, container.NewDevice())
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	code := waitEvent[*events.QR](t, c).Codes[0]
	parts := strings.Split(code, ",")
	otherKey := strings.Split(code, ",")[2] // the identity key where the noise key belongs

	for _, tc := range []struct {
		name string
		code string
		want error
	}{
		{"empty", "", fakewa.ErrBadCode},
		{"three fields", strings.Join(parts[:3], ","), fakewa.ErrBadCode},
		{"not base64", parts[0] + ",!!,!!,!!", fakewa.ErrBadCode},
		{"unknown ref", "2@nope," + strings.Join(parts[1:], ","), fakewa.ErrUnknownRef},
		{"wrong noise key", strings.Join([]string{parts[0], otherKey, parts[2], parts[3]}, ","), fakewa.ErrBadCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.ScanQR(tc.code); !errors.Is(err, tc.want) {
				t.Fatalf("ScanQR(%q) = %v, want %v", tc.code, err, tc.want)
			}
		})
	}
	if len(s.Devices()) != 0 {
		t.Fatalf("Devices() = %v after rejected scans, want none", s.Devices())
	}
	// The good code still works after the bad attempts.
	if _, err := s.ScanQR(code); err != nil {
		t.Fatalf("ScanQR of the right code: %v", err)
	}
	waitEvent[*events.PairSuccess](t, c)
}

func TestPhoneCodePairing(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 3})
	container := newContainer(t)
	c := newClient(t, s, container.NewDevice())
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.QR](t, c)
	ctx := context.Background()

	if err := s.EnterPhoneCode("+1 555 123 4567", "ABCD-EFGH"); !errors.Is(err, fakewa.ErrNoPendingPair) {
		t.Fatalf("EnterPhoneCode before PairPhone = %v, want ErrNoPendingPair", err)
	}

	// A wrong code is refused, and spends the attempt.
	if _, err := c.PairPhone(ctx, "+1 555 123 4567", true, whatsmeow.PairClientChrome, "Chrome (Linux)"); err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := s.EnterPhoneCode("15551234567", "1111-1111"); !errors.Is(err, fakewa.ErrWrongCode) {
		t.Fatalf("EnterPhoneCode with a wrong code = %v, want ErrWrongCode", err)
	}

	// The right code links the device to that phone number.
	code, err := c.PairPhone(ctx, "+1 555 123 4567", true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := s.EnterPhoneCode("+1 555 123 4567", code); err != nil {
		t.Fatalf("EnterPhoneCode(%q): %v", code, err)
	}
	success := waitEvent[*events.PairSuccess](t, c)
	if want := "15551234567:1@s.whatsapp.net"; success.ID.String() != want {
		t.Fatalf("PairSuccess.ID = %s, want %s", success.ID, want)
	}
	waitEvent[*events.Connected](t, c)
	if s.LoggedIn(success.ID.String()) != 1 {
		t.Fatalf("LoggedIn = %d after code pairing, want 1", s.LoggedIn(success.ID.String()))
	}
}

func TestSecondLoginReplacesFirst(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 4})
	first, container, jid := pairByQR(t, s, 1)

	// A second client with the same device keys: the seed failure.
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second := newClient(t, s, dev)
	if err := second.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	waitEvent[*events.Connected](t, second)
	waitEvent[*events.StreamReplaced](t, first)
	waitUntil(t, "the replaced socket closed", func() bool { return s.LoggedIn(jid) == 1 })
	if got := s.MaxConcurrentLogins(jid); got != 2 {
		t.Fatalf("MaxConcurrentLogins = %d, want 2", got)
	}
	noEvent[*events.StreamReplaced](t, second, 200*time.Millisecond)
}

func TestSerialReconnectsKeepOneLogin(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 5})
	c, _, jid := pairByQR(t, s, 1)
	const reconnects = 10
	for i := range reconnects {
		c.Disconnect()
		if err := c.Connect(); err != nil {
			t.Fatalf("reconnect %d: %v", i, err)
		}
		waitEvent[*events.Connected](t, c)
	}
	if s.Logins(jid) != 1+reconnects || s.MaxConcurrentLogins(jid) != 1 {
		t.Fatalf("Logins = %d, MaxConcurrentLogins = %d; want %d and 1", s.Logins(jid), s.MaxConcurrentLogins(jid), 1+reconnects)
	}
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		fault fakewa.Fault
		// reconnect: the fault answers the next login, so drop and log in again.
		reconnect bool
		check     func(t *testing.T, s *fakewa.Server, c *client, jid string)
	}{
		{fault: fakewa.Fault{Kind: fakewa.FaultReplaced}, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.StreamReplaced](t, c)
			noEvent[*events.Connected](t, c, 300*time.Millisecond)
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultRestart}, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.Connected](t, c) // whatsmeow reconnects by itself
			if s.Logins(jid) != 2 || s.MaxConcurrentLogins(jid) != 1 {
				t.Fatalf("after 515: Logins = %d, MaxConcurrentLogins = %d; want 2 and 1", s.Logins(jid), s.MaxConcurrentLogins(jid))
			}
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultDeviceRemoved}, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			if got := waitEvent[*events.LoggedOut](t, c); got.OnConnect {
				t.Fatalf("LoggedOut = %+v, want OnConnect false", got)
			}
			if len(s.Devices()) != 0 {
				t.Fatalf("Devices() = %v, want the removed device gone", s.Devices())
			}
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultStream503}, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.Disconnected](t, c)
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultDrop}, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.Disconnected](t, c)
			if s.LoggedIn(jid) != 0 {
				t.Fatalf("LoggedIn = %d after a drop, want 0", s.LoggedIn(jid))
			}
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail401}, reconnect: true, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			if got := waitEvent[*events.LoggedOut](t, c); !got.OnConnect {
				t.Fatalf("LoggedOut = %+v, want OnConnect true", got)
			}
			if len(s.Devices()) != 0 {
				t.Fatalf("Devices() = %v, want the device forgotten", s.Devices())
			}
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail402, Expire: 90 * time.Second, Code: 102}, reconnect: true, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			got := waitEvent[*events.TemporaryBan](t, c)
			if got.Code != events.TempBanBlockedByUsers || got.Expire != 90*time.Second {
				t.Fatalf("TemporaryBan = %+v, want code 102 expiring in 90s", got)
			}
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail405}, reconnect: true, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.ClientOutdated](t, c)
		}},
		{fault: fakewa.Fault{Kind: fakewa.FaultFail500}, reconnect: true, check: func(t *testing.T, s *fakewa.Server, c *client, jid string) {
			waitEvent[*events.Disconnected](t, c) // the auto-reconnect path
			if s.LoggedIn(jid) != 0 || s.Logins(jid) != 1 {
				t.Fatalf("LoggedIn = %d, Logins = %d after a 500 failure; want 0 and 1", s.LoggedIn(jid), s.Logins(jid))
			}
		}},
	} {
		t.Run(tc.fault.Kind.String(), func(t *testing.T) {
			s := newServer(t, fakewa.Config{Seed: 10 + int64(tc.fault.Kind)})
			c, _, jid := pairByQR(t, s, 1)
			if err := s.Inject(jid, tc.fault); err != nil {
				t.Fatalf("Inject: %v", err)
			}
			if tc.reconnect {
				noEvent[*events.Disconnected](t, c, 100*time.Millisecond) // a login fault leaves the live socket alone
				c.Disconnect()
				if err := c.Connect(); err != nil {
					t.Fatalf("Connect: %v", err)
				}
			}
			tc.check(t, s, c, jid)
		})
	}
}

func TestFaultOnOfflineDeviceHitsNextLogin(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 20})
	c, _, jid := pairByQR(t, s, 1)
	c.Disconnect()
	waitUntil(t, "the socket closed", func() bool { return s.LoggedIn(jid) == 0 })
	if err := s.Inject(jid, fakewa.Fault{Kind: fakewa.FaultReplaced}); err != nil {
		t.Fatalf("Inject: %v", err)
	}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.StreamReplaced](t, c)
}

func TestStallTimesOutKeepalives(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 21})
	c, _, jid := pairByQR(t, s, 1)
	noEvent[*events.KeepAliveTimeout](t, c, time.Second) // answered keepalives: no timeout
	if err := s.Inject(jid, fakewa.Fault{Kind: fakewa.FaultStall}); err != nil {
		t.Fatal(err)
	}
	if got := waitEvent[*events.KeepAliveTimeout](t, c); got.ErrorCount != 1 {
		t.Fatalf("first KeepAliveTimeout = %+v, want ErrorCount 1", got)
	}
	if s.LoggedIn(jid) != 1 {
		t.Fatalf("LoggedIn = %d on a stalled socket, want 1 (it stays open)", s.LoggedIn(jid))
	}
}

func TestRefusedUpgradeFailsConnect(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 22})
	c, _, jid := pairByQR(t, s, 1)
	c.Disconnect()
	s.RefuseUpgrades(1)
	err := c.Connect()
	var status socket.ErrWithStatusCode
	if !errors.As(err, &status) || status.StatusCode != 503 {
		t.Fatalf("Connect during a refusal = %v, want HTTP 503", err)
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect after the refusal: %v", err)
	}
	waitEvent[*events.Connected](t, c)
	if s.Logins(jid) != 2 {
		t.Fatalf("Logins = %d, want 2", s.Logins(jid))
	}
}

// RefuseAfterPairing refuses the reconnect that the pairing's 515 asks for:
// the device is paired but not logged in, until a later connect.
func TestRefuseAfterPairingFailsTheRestart(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 24})
	c := newClient(t, s, newContainer(t).NewDevice())
	if _, err := c.GetQRChannel(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	codes := waitEvent[*events.QR](t, c).Codes
	s.RefuseAfterPairing(1)
	if s.Refusals() != 0 {
		t.Fatal("refused before the pairing")
	}
	jid, err := s.ScanQR(codes[0])
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	waitEvent[*events.PairSuccess](t, c)
	waitUntil(t, "the reconnect after the 515 is refused", func() bool { return s.Refusals() == 1 })
	if s.Logins(jid) != 0 || c.IsConnected() {
		t.Fatalf("after the refused restart: Logins = %d, connected = %v; want 0, false", s.Logins(jid), c.IsConnected())
	}
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect after the refusal: %v", err)
	}
	waitEvent[*events.Connected](t, c)
	if s.Logins(jid) != 1 || s.Refusals() != 1 {
		t.Fatalf("Logins = %d, Refusals = %d; want 1 and 1", s.Logins(jid), s.Refusals())
	}
}

func TestLogoutUnlinksDevice(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 23})
	c, _, jid := pairByQR(t, s, 1)
	if s.Unlinked(jid) {
		t.Fatal("Unlinked before Logout")
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if !s.Unlinked(jid) {
		t.Fatal("Unlinked is false after Logout")
	}
	if len(s.Devices()) != 0 {
		t.Fatalf("Devices() = %v after Logout, want none", s.Devices())
	}
	waitUntil(t, "no socket left", func() bool { return s.LiveSockets() == 0 })
	if err := s.Inject(jid, fakewa.Fault{Kind: fakewa.FaultDrop}); !errors.Is(err, fakewa.ErrUnknownDevice) {
		t.Fatalf("Inject on an unlinked device = %v, want ErrUnknownDevice", err)
	}
}

func TestUnknownDeviceGetsLoggedOut(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 24})
	_, container, _ := pairByQR(t, s, 1)
	other := newServer(t, fakewa.Config{Seed: 25}) // has never seen this device
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, other, dev)
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	if got := waitEvent[*events.LoggedOut](t, c); !got.OnConnect {
		t.Fatalf("LoggedOut = %+v, want OnConnect true", got)
	}
}

func TestChaosInjectsUntilStopped(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 26})
	c, _, jid := pairByQR(t, s, 1)
	s.StartChaos(7, 50*time.Millisecond, fakewa.FaultDrop)
	waitEvent[*events.Disconnected](t, c)
	s.StopChaos()
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](t, c)
	noEvent[*events.Disconnected](t, c, 300*time.Millisecond)
	if s.LoggedIn(jid) != 1 {
		t.Fatalf("LoggedIn = %d after StopChaos, want 1", s.LoggedIn(jid))
	}
}

func TestCloseEndsEverySocket(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 27})
	c, _, _ := pairByQR(t, s, 1)
	if s.LiveSockets() != 1 {
		t.Fatalf("LiveSockets = %d, want 1", s.LiveSockets())
	}
	s.Close()
	waitEvent[*events.Disconnected](t, c)
	if s.LiveSockets() != 0 {
		t.Fatalf("LiveSockets = %d after Close, want 0", s.LiveSockets())
	}
	s.Close() // safe twice
}

func TestFaultKindNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range fakewa.FaultKinds {
		name := k.String()
		if strings.HasPrefix(name, "FaultKind(") || seen[name] {
			t.Errorf("%d.String() = %q: want a distinct name", int(k), name)
		}
		seen[name] = true
	}
}

func TestStatePathKeepsDevicesAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fakewa.json")
	first := newServer(t, fakewa.Config{Seed: 28, StatePath: path})
	c, container, jid := pairByQR(t, first, 1)
	_, _, unlinked := pairByQR(t, first, 1)
	c.Disconnect()
	first.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, mode %v; want it with mode 0600", err, info.Mode().Perm())
	}

	// A restarted server still knows the device: the client logs in as before.
	second := newServer(t, fakewa.Config{Seed: 28, StatePath: path})
	if got := second.Devices(); len(got) != 2 {
		t.Fatalf("restarted server knows %v, want 2 devices", got)
	}
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again := newClient(t, second, dev)
	if err := again.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](t, again)
	if err := second.Inject(unlinked, fakewa.Fault{Kind: fakewa.FaultDeviceRemoved}); err != nil {
		t.Fatal(err)
	}
	second.Close()

	third := newServer(t, fakewa.Config{Seed: 28, StatePath: path})
	if got := third.Devices(); len(got) != 1 || got[0] != jid {
		t.Fatalf("after a removal and a restart the server knows %v, want [%s]", got, jid)
	}
}

func TestStatePathRejectsDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fakewa.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := fakewa.New(fakewa.Config{StatePath: path}); err == nil {
		s.Close()
		t.Fatal("New with a damaged state file succeeded, want an error")
	}
}

func TestDeviceRemovedWhileOfflineFailsNextLogin(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 29})
	c, _, jid := pairByQR(t, s, 1)
	c.Disconnect()
	if err := s.Inject(jid, fakewa.Fault{Kind: fakewa.FaultDeviceRemoved}); err != nil {
		t.Fatal(err)
	}
	if len(s.Devices()) != 0 {
		t.Fatalf("Devices() = %v, want the removed device gone at once", s.Devices())
	}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	if got := waitEvent[*events.LoggedOut](t, c); !got.OnConnect {
		t.Fatalf("LoggedOut = %+v, want OnConnect true", got)
	}
}

// BenchmarkReconnect measures a whatsmeow client's close and new login against
// the fake server: the cost of one reconnection on loopback.
func BenchmarkReconnect(b *testing.B) {
	s := newServer(b, fakewa.Config{Seed: 30})
	c, _, jid := pairByQR(b, s, 1)
	for b.Loop() {
		c.Disconnect()
		if err := c.Connect(); err != nil {
			b.Fatal(err)
		}
		waitEvent[*events.Connected](b, c)
	}
	if got := s.MaxConcurrentLogins(jid); got != 1 {
		b.Fatalf("MaxConcurrentLogins = %d after serial reconnects, want 1", got)
	}
}

// BenchmarkPairByQR measures a whole QR pairing: registration, scan, signing,
// 515 and the first login.
func BenchmarkPairByQR(b *testing.B) {
	s := newServer(b, fakewa.Config{Seed: 31})
	for b.Loop() {
		c, _, _ := pairByQR(b, s, 1)
		c.Disconnect()
	}
}

func TestManyDevicesAtOnce(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 32})
	const devices = 6
	type result struct {
		jid string
		err error
	}
	results := make(chan result, devices)
	done := make(chan struct{})
	defer close(done)
	for range devices {
		c := newClient(t, s, newContainer(t).NewDevice())
		// pairByQR calls t.Fatalf, which must not run off the test goroutine:
		// pair by hand and report errors instead.
		go func() {
			if err := c.Connect(); err != nil {
				results <- result{err: err}
				return
			}
			var jid string
			for {
				var evt any
				select {
				case evt = <-c.events:
				case <-done:
					return
				}
				switch e := evt.(type) {
				case *events.QR:
					var err error
					if jid, err = s.ScanQR(e.Codes[0]); err != nil {
						results <- result{err: err}
						return
					}
				case *events.Connected:
					c.Disconnect()
					if err := c.Connect(); err != nil {
						results <- result{err: err}
						return
					}
					if s.Logins(jid) >= 3 {
						results <- result{jid: jid}
						return
					}
				}
			}
		}()
	}
	seen := map[string]bool{}
	for range devices {
		select {
		case r := <-results:
			if r.err != nil {
				t.Fatal(r.err)
			}
			seen[r.jid] = true
			if got := s.MaxConcurrentLogins(r.jid); got != 1 {
				t.Errorf("MaxConcurrentLogins(%s) = %d, want 1", r.jid, got)
			}
		case <-time.After(3 * eventWait):
			t.Fatal("devices did not pair and reconnect in time")
		}
	}
	if len(seen) != devices || len(s.Devices()) != devices {
		t.Fatalf("%d distinct JIDs, server knows %d devices; want %d and %d", len(seen), len(s.Devices()), devices, devices)
	}
}

func TestQRCodesExpireAsTheyRotate(t *testing.T) {
	var offset atomic.Int64 // nanoseconds the fake clock is ahead
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := newServer(t, fakewa.Config{Seed: 33, Now: now})
	c := newClient(t, s, newContainer(t).NewDevice())
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	codes := waitEvent[*events.QR](t, c).Codes

	offset.Store(int64(61 * time.Second)) // the first code was shown for 60 s
	if _, err := s.ScanQR(codes[0]); !errors.Is(err, fakewa.ErrUnknownRef) {
		t.Fatalf("ScanQR of the first code after 61 s = %v, want ErrUnknownRef", err)
	}
	offset.Store(int64(161 * time.Second)) // all six are gone after 160 s
	if _, err := s.ScanQR(codes[5]); !errors.Is(err, fakewa.ErrUnknownRef) {
		t.Fatalf("ScanQR of the last code after 161 s = %v, want ErrUnknownRef", err)
	}
	offset.Store(int64(79 * time.Second)) // the second is shown from 60 s to 80 s
	if _, err := s.ScanQR(codes[1]); err != nil {
		t.Fatalf("ScanQR of the second code after 79 s: %v", err)
	}
	waitEvent[*events.PairSuccess](t, c)
}

// After a login the server tells the client its offline queue is empty and
// drained: whatsmeow emits OfflineSyncPreview and OfflineSyncCompleted.
func TestLoginEndsWithTheOfflineQueueDrained(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 53})
	c, _, _ := pairByQR(t, s, 1)
	c.Disconnect()
	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if p := waitEvent[*events.OfflineSyncPreview](t, c); p.Total != 0 || p.Messages != 0 {
		t.Errorf("OfflineSyncPreview = %+v, want nothing queued", p)
	}
	if done := waitEvent[*events.OfflineSyncCompleted](t, c); done.Count != 0 {
		t.Errorf("OfflineSyncCompleted = %+v, want a count of 0", done)
	}
}
