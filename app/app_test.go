package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/store"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--demo", "--log-level", "debug", "--data-dir", "/x"}},
		{args: []string{"--log-level", "loud"}, wantErr: `invalid log level "loud"`},
		{args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{args: []string{"--nope"}, wantErr: "flag provided but not defined"},
	} {
		_, err := parseFlags(tc.args, &bytes.Buffer{})
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("parseFlags(%q) = %v, want %q", tc.args, err, tc.wantErr)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"--version"}, &out, &bytes.Buffer{}); code != 0 || !strings.Contains(out.String(), Version) {
		t.Errorf("--version: status %d, output %q", code, out.String())
	}
}

func TestNoDisplayIsAClearMessage(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	var stderr bytes.Buffer
	code := run([]string{"--data-dir", t.TempDir()}, &bytes.Buffer{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "no display") {
		t.Fatalf("status %d, stderr %q; want 1 and a message about the display", code, stderr.String())
	}
}

// A second Warden on the same data directory is refused at once with a clear
// message, and the first one's data is untouched.
func TestSecondWardenOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	level := new(slog.LevelVar)
	first, err := start(flags{dataDir: dir}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	defer first.close(context.Background())
	// bbolt gives up after its 1 s lock timeout: returning at all shows it
	// does not hang.
	_, err = start(flags{dataDir: dir}, level, slog.DiscardHandler)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another Warden is already running") {
		t.Fatalf("second start = %v, want ErrLocked with an explanation", err)
	}
}

func TestCorruptStoreIsAClearMessage(t *testing.T) {
	dir := t.TempDir()
	db, _ := store.Paths(dir)
	junk := bytes.Repeat([]byte("not a database "), 1000)
	if err := os.WriteFile(db, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := start(flags{dataDir: dir}, new(slog.LevelVar), slog.DiscardHandler)
	if !errors.Is(err, store.ErrCorrupt) || !strings.Contains(err.Error(), "left the files untouched") {
		t.Fatalf("start = %v, want ErrCorrupt with advice", err)
	}
	if got, _ := os.ReadFile(db); !bytes.Equal(got, junk) {
		t.Fatal("the corrupt file was modified")
	}
}

// TestShutdownOrder runs the demo engine without a window, then closes it:
// every session is closed before the store, the timeline written by the
// Manager's close is in the store, and it all takes under ShutdownTimeout.
func TestShutdownOrder(t *testing.T) {
	level := new(slog.LevelVar)
	svc, err := start(flags{demo: true}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	dataDir := svc.dataDir
	svc.demo.scanAfter = 100 * time.Millisecond
	svc.demo.faultEvery = time.Hour
	if err := svc.begin(flags{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool {
		n := 0
		for _, st := range svc.manager.Statuses() {
			if st.State == core.Connected {
				n++
			}
		}
		return n == len(demoNames)
	})
	var jids []string
	for _, st := range svc.manager.Statuses() {
		jids = append(jids, st.Account.JID)
	}
	srv := svc.demo.server
	if n := srv.LiveSockets(); n != len(demoNames) {
		t.Fatalf("%d live sockets before shutdown, want %d", n, len(demoNames))
	}

	// Keep the data directory to inspect it after close.
	svc.cleanup = nil
	defer os.RemoveAll(dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	began := time.Now()
	if err := svc.close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("shutdown took %v", time.Since(began))
	if n := srv.LiveSockets(); n != 0 {
		t.Errorf("%d sockets still open after shutdown", n)
	}
	for _, jid := range jids {
		if n := srv.MaxConcurrentLogins(jid); n != 1 {
			t.Errorf("device %s had %d logins at once", jid, n)
		}
	}
	if _, err := svc.manager.Add(context.Background(), "late"); !errors.Is(err, core.ErrClosed) {
		t.Errorf("Add after shutdown = %v, want ErrClosed", err)
	}
	// The store was closed last: it opens again at once, and it holds the
	// "warden stopped" events the Manager wrote while closing.
	dbPath, _ := store.Paths(dataDir)
	db, err := store.Open(dbPath, store.WithLockTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("reopen the store: %v", err)
	}
	defer db.Close()
	accts, err := db.Accounts(context.Background())
	if err != nil || len(accts) != len(demoNames) {
		t.Fatalf("accounts after restart: %d, %v", len(accts), err)
	}
	for _, a := range accts {
		evs, err := db.Events(context.Background(), a.ID, 1)
		if err != nil || len(evs) != 1 || evs[0].Cause != core.CauseShutdown {
			t.Errorf("%s: last stored event %+v, %v; want the shutdown", a.Name, evs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, store.DevicesFile)); err != nil {
		t.Errorf("device keys file: %v", err)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A shutdown step that hangs cannot keep Warden running: close returns when
// its deadline passes and names the step.
func TestShutdownIsBoundedByItsDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &demo{ctx: ctx, cancel: cancel}
	stuck := make(chan struct{})
	d.wg.Go(func() { <-stuck }) // a phone that never puts the receiver down
	svc := &services{demo: d, log: slog.New(slog.DiscardHandler)}
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelDeadline()
	// Returning at all is the point: without the deadline, close would wait
	// for the stuck step forever.
	err := svc.close(deadline)
	if err == nil || !strings.Contains(err.Error(), "stopping the demo's phones") {
		t.Fatalf("close = %v, want an error naming the stuck step", err)
	}
}
