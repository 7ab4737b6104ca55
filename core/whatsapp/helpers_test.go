package whatsapp_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

// wait bounds every wait for an event or a condition. It is a bound against
// hangs, not a timing target: on loopback everything takes milliseconds.
const wait = 10 * time.Second

// testLogger returns a logger that writes to the test log when WARDEN_TEST_LOG
// is set, and discards otherwise. WARDEN_TEST_LOGFILE=path appends Info and
// above to a file instead: it catches a rare failure of a -count=N run
// without the test log's panic at a whatsmeow line logged after its test.
func testLogger(t testing.TB) *slog.Logger {
	if p := os.Getenv("WARDEN_TEST_LOGFILE"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if os.Getenv("WARDEN_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func newServer(t testing.TB, seed int64) *fakewa.Server {
	t.Helper()
	return newServerConfig(t, fakewa.Config{Seed: seed})
}

// newServerConfig starts a fake server with cfg, logging to the test and
// failing it on an IQ the server does not know.
func newServerConfig(t testing.TB, cfg fakewa.Config) *fakewa.Server {
	t.Helper()
	needsWhatsmeow(t)
	cfg.Logger = testLogger(t)
	cfg.OnUnknownIQ = func(iq string) {
		t.Errorf("whatsmeow sent an IQ fakewa does not implement: %s", iq)
	}
	s, err := fakewa.New(cfg)
	if err != nil {
		t.Fatalf("fakewa.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// newDialer returns a Dialer on a fresh devices.db that dials s.
func newDialer(t testing.TB, s *fakewa.Server) (*whatsapp.Dialer, string) {
	t.Helper()
	path := t.TempDir() + "/devices.db"
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: path, Logger: testLogger(t), HTTPClient: s.HTTPClient()})
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d, path
}

// The keepalive settings of whatsmeow, before TestMain shortens them.
var (
	keepAliveDeadline = whatsmeow.KeepAliveResponseDeadline
	keepAliveMin      = whatsmeow.KeepAliveIntervalMin
	keepAliveMax      = whatsmeow.KeepAliveIntervalMax
)

func TestMain(m *testing.M) {
	// whatsmeow pings every 50–80 ms and gives up on a ping after 100 ms, so
	// that a stalled socket shows within a second. These are process-wide
	// variables read by whatsmeow's goroutines: set before any client
	// exists. Benchmarks put whatsmeow's defaults back (defaultKeepAlive).
	whatsmeow.KeepAliveResponseDeadline = 100 * time.Millisecond
	whatsmeow.KeepAliveIntervalMin, whatsmeow.KeepAliveIntervalMax = 50*time.Millisecond, 80*time.Millisecond
	whatsapp.WatchInterval = 100 * time.Millisecond
	whatsapp.AckTimeout = time.Second
	os.Exit(m.Run())
}

// defaultKeepAlive gives whatsmeow its own keepalive timing for the rest of
// a benchmark, so that pings every 65 ms do not weigh on what it measures.
// (The write races with whatsmeow's goroutines of earlier tests, which only
// run without -race: see needsWhatsmeow.)
func defaultKeepAlive(b *testing.B) {
	needsWhatsmeow(b)
	whatsmeow.KeepAliveResponseDeadline = keepAliveDeadline
	whatsmeow.KeepAliveIntervalMin, whatsmeow.KeepAliveIntervalMax = keepAliveMin, keepAliveMax
	b.Cleanup(func() {
		whatsmeow.KeepAliveResponseDeadline = 100 * time.Millisecond
		whatsmeow.KeepAliveIntervalMin, whatsmeow.KeepAliveIntervalMax = 50*time.Millisecond, 80*time.Millisecond
	})
}

// needsWhatsmeow skips a test that drives real whatsmeow clients when the
// race detector is on: whatsmeow has data races of its own (WHATSAPP.md), so
// those tests run in the ordinary, race-free `go test` run.
func needsWhatsmeow(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("drives real whatsmeow clients, whose own data races the detector reports: run without -race")
	}
}

// recorder collects a session's events.
type recorder struct {
	t  testing.TB
	ch chan core.SessionEvent

	mu  sync.Mutex
	all []core.SessionEvent
	// refuse, when set, is the answer to every message: core's store
	// failing.
	refuse error
}

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, ch: make(chan core.SessionEvent, 1024)}
}

func (r *recorder) emit(ev core.SessionEvent) error {
	r.mu.Lock()
	r.all = append(r.all, ev)
	refuse := r.refuse
	r.mu.Unlock()

	select {
	case r.ch <- ev:
	default:
		r.t.Errorf("event buffer full, dropped %v", ev.Kind)
	}
	if ev.Kind == core.SessionMessage && refuse != nil {
		return refuse
	}
	return nil
}

// kinds returns the kinds of every event so far.
func (r *recorder) kinds() []core.SessionEventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]core.SessionEventKind, len(r.all))
	for i, ev := range r.all {
		out[i] = ev.Kind
	}
	return out
}

// next waits for the next event of kind k, skipping others except those in
// fatal, which fail the test.
func (r *recorder) next(k core.SessionEventKind, fatal ...core.SessionEventKind) core.SessionEvent {
	r.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case ev := <-r.ch:
			if ev.Kind == k {
				return ev
			}
			for _, f := range fatal {
				if ev.Kind == f {
					r.t.Fatalf("got %v (%+v) while waiting for %v", ev.Kind, ev, k)
				}
			}
		case <-timeout:
			r.t.Fatalf("no %v event within %v; events so far: %v", k, wait, r.kinds())
			return core.SessionEvent{}
		}
	}
}

// none fails if an event of kind k comes within d.
func (r *recorder) none(k core.SessionEventKind, d time.Duration) {
	r.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-r.ch:
			if ev.Kind == k {
				r.t.Fatalf("unexpected %v event: %+v", k, ev)
			}
		case <-timeout:
			return
		}
	}
}

// waitUntil polls cond until it holds, failing after wait.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connect makes a session for acct and connects it.
func connect(t testing.TB, d *whatsapp.Dialer, acct core.Account) (core.Session, *recorder) {
	t.Helper()
	rec := newRecorder(t)
	s, err := d.NewSession(context.Background(), acct, rec.emit)
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return s, rec
}

// pair pairs a new account by QR code and returns its session, connected,
// and the account with its JID.
func pair(t testing.TB, srv *fakewa.Server, d *whatsapp.Dialer, id core.AccountID) (core.Session, *recorder, core.Account) {
	t.Helper()
	acct := core.Account{ID: id, Name: string(id)}
	s, rec := connect(t, d, acct)
	qr := rec.next(core.SessionQR)
	jid, err := srv.ScanQR(qr.QRCode)
	if err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	if got := rec.next(core.SessionPairSuccess); got.JID != jid {
		t.Fatalf("PairSuccess JID = %q, the phone linked %q", got.JID, jid)
	}
	rec.next(core.SessionConnected)
	acct.JID = jid
	return s, rec, acct
}
