package whatsapp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"warden/core"
	"warden/core/whatsapp"
)

func newTestDialer(t *testing.T, hc *http.Client) *whatsapp.Dialer {
	t.Helper()
	d, err := whatsapp.NewDialer(whatsapp.Config{
		DevicesPath: filepath.Join(t.TempDir(), "devices.db"),
		HTTPClient:  hc,
		// No background version fetch: its GET would be the first
		// connection these tests' servers accept, not the dial under test.
		NoVersionFetch: true,
	})
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Dialer.Close: %v", err)
		}
	})
	return d
}

func TestNewDialerCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.db")
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: path})
	if err != nil {
		t.Fatalf("NewDialer: %v", err)
	}
	defer d.Close()
	// A write, so that SQLite's side files exist too.
	if err := d.DeleteDevice(context.Background(), core.Account{ID: "x", JID: "15551234567:3@s.whatsapp.net"}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) == 0 {
		t.Fatal("no devices.db")
	}
	t.Logf("%d files: %v", len(files), files)
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", filepath.Base(f), fi.Mode().Perm())
		}
	}
}

// A data directory whose path holds '#', '?' or '%' keeps its device store
// in it: SQLite reads the path as a URI, where '#' would end it and '?' start
// the query, so that two such directories could share one store outside both.
func TestNewDialerPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"fleet#1", "who?", "100%25"} {
		parent := t.TempDir()
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: filepath.Join(dir, "devices.db")})
		if err != nil {
			t.Fatalf("NewDialer in %q: %v", name, err)
		}
		if _, err := d.SchemaVersion(ctx); err != nil {
			t.Errorf("%q: SchemaVersion = %v", name, err)
		}
		d.Close()
		if fi, err := os.Stat(filepath.Join(dir, "devices.db")); err != nil || fi.Size() == 0 {
			t.Errorf("%q: devices.db in the directory: %v, %v; want whatsmeow's tables there", name, fi, err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			t.Errorf("%q: the store was written beside the directory: %v", name, entries)
		}
	}
}

func TestNewDialerBadPath(t *testing.T) {
	_, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: filepath.Join(t.TempDir(), "missing", "devices.db")})
	if err == nil {
		t.Fatal("NewDialer in a missing directory: got nil error")
	}
}

func TestDeleteDeviceOfUnknownAccount(t *testing.T) {
	d := newTestDialer(t, nil)
	ctx := context.Background()
	for _, acct := range []core.Account{
		{ID: "never-paired"},
		{ID: "keys-gone", JID: "15551234567:3@s.whatsapp.net"},
	} {
		if err := d.DeleteDevice(ctx, acct); err != nil {
			t.Errorf("DeleteDevice(%s) = %v, want nil", acct.ID, err)
		}
	}
	if err := d.DeleteDevice(ctx, core.Account{ID: "bad", JID: "15551234567:x@s.whatsapp.net"}); err == nil {
		t.Error("DeleteDevice with a malformed JID: got nil error")
	}
}

// An unconnected session: Logout and PairPhone say why they cannot work, at
// once, and Close is safe to call twice.
func TestSessionOffline(t *testing.T) {
	d := newTestDialer(t, nil)
	s, err := d.NewSession(context.Background(), core.Account{ID: "a1"}, func(ev core.SessionEvent) error {
		t.Errorf("unexpected event %v", ev.Kind)
		return nil
	})
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	if err := s.Logout(context.Background()); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("Logout offline = %v, want ErrNotConnected", err)
	}
	if _, err := s.PairPhone(context.Background(), "15551234567"); !errors.Is(err, core.ErrNotPairing) {
		t.Errorf("PairPhone before Connect = %v, want ErrNotPairing", err)
	}
	s.Close()
	s.Close()
	if err := s.Connect(context.Background()); err == nil {
		t.Error("Connect after Close: got nil error")
	}
}

// A dial that fails returns the error and leaves nothing behind.
func TestConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
	}}
	d := newTestDialer(t, hc)
	s, err := d.NewSession(context.Background(), core.Account{ID: "a1"}, func(core.SessionEvent) error { return nil })
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	defer s.Close()
	if err := s.Connect(context.Background()); err == nil {
		t.Fatal("Connect to a closed port: got nil error")
	}
}

// A dial that hangs is aborted by the caller's context.
func TestConnectCancelled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The listener accepts TCP but never answers the websocket upgrade.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
		},
	}}
	d := newTestDialer(t, hc)
	s, err := d.NewSession(context.Background(), core.Account{ID: "a1"}, func(core.SessionEvent) error { return nil })
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Connect(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect with a hanging server = %v, want DeadlineExceeded", err)
	}
}

// Close during a dial that hangs aborts the dial, and both return.
func TestCloseAbortsHangingConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepted <- c // never answers the upgrade
	}()
	hc := &http.Client{Transport: &http.Transport{
		DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
		},
	}}
	d := newTestDialer(t, hc)
	s, err := d.NewSession(context.Background(), core.Account{ID: "a1"}, func(ev core.SessionEvent) error {
		t.Errorf("unexpected event %v", ev.Kind)
		return nil
	})
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	result := make(chan error, 1)
	go func() { result <- s.Connect(context.Background()) }()
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the dial never reached the server")
	}
	s.Close()
	select {
	case err := <-result:
		if err == nil {
			t.Error("Connect aborted by Close: got nil error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Connect still hangs after Close")
	}
	// The client's end of the connection is closed: the server reads what
	// was sent, if anything, then EOF.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the aborted dial left its connection open")
		}
		break
	}
}
