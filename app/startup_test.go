package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/store"
)

// pairedDir returns a data directory, Warden closed, where n accounts were
// paired against srv.
func pairedDir(t *testing.T, srv *fakewa.Server, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "paired")
	e := newEngine(t, srv, dir)
	for i := range n {
		e.pair(srv, fmt.Sprintf("Account %d", i+1))
	}
	e.close()
	return dir
}

// copyDir copies the files of a data directory into a new one.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// sums returns the sha256 of every file in dir, by name.
func sums(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		out[e.Name()] = hex.EncodeToString(h[:8])
	}
	return out
}

func sameSums(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// refusedStart runs Warden as `warden --headless` on f and expects it to
// refuse to start; it returns what Warden printed.
func refusedStart(t *testing.T, f flags) string {
	t.Helper()
	f.headless = true
	var out syncBuffer
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() { done <- runHeadless(f, &out, stop) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case code := <-done:
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			return out.String()
		default:
		}
		if strings.Contains(out.String(), "warden started") || time.Now().After(deadline) {
			stop <- syscall.SIGTERM
			<-done
			t.Fatalf("Warden started, or did not refuse within 60 s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every refused start says what is wrong and what to do, and leaves every
// file of the data directory byte for byte as it was: a damaged warden.db
// (in a record: its pages are sound), a damaged devices.db, an empty or
// missing warden.db beside the keys of paired accounts, another Warden.
func TestRefusedStartLeavesTheFilesAsTheyWere(t *testing.T) {
	srv := fakeServer(t, 160)
	paired := pairedDir(t, srv, 6)
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) (cleanup func())
		want   []string
	}{
		{"an account's record in warden.db damaged", damageAccountRecord,
			[]string{"warden.db", "is damaged", `account "`, "left the files untouched", "move warden.db aside", "backup"}},
		{"devices.db's header damaged", damageDevices(0, 100),
			[]string{"devices.db", "device keys", "is damaged", "file is not a database", "left the files untouched",
				"move devices.db aside", "backup", "pairing again"}},
		{"a page in the middle of devices.db damaged", damageDevices(-1, 4096),
			[]string{"devices.db", "is damaged", "malformed", "left the files untouched", "move devices.db aside"}},
		{"warden.db empty beside devices.db", emptyFile(store.DBFile),
			[]string{"warden.db", "is empty", "device keys of 6 paired", "left the files untouched", "backup", "Import", "move devices.db aside"}},
		{"warden.db missing beside devices.db", removeFile(store.DBFile),
			[]string{"warden.db", "is missing", "device keys of 6 paired", "backup", "Import"}},
		{"another Warden running", holdLock,
			[]string{"another Warden is already running", "data directory", "quit it", "--data-dir"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, paired)
			if cleanup := tc.damage(t, dir); cleanup != nil {
				defer cleanup()
			}
			before := sums(t, dir)
			out := refusedStart(t, flags{dataDir: dir, httpClient: srv.HTTPClient()})
			t.Logf("Warden said:\n%s", out)
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("the message does not say %q", want)
				}
			}
			if after := sums(t, dir); !sameSums(before, after) {
				t.Errorf("the refused start changed the data directory:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// damageAccountRecord cuts an account's JSON short, leaving the pages sound.
func damageAccountRecord(t *testing.T, dir string) func() {
	db, err := bolt.Open(filepath.Join(dir, store.DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("accounts"))
		k, _ := b.Cursor().First()
		return b.Put(k, []byte(`{"id":"x","name":"Acc`))
	})
	if err != nil {
		t.Fatal(err)
	}
	return nil
}

// damageDevices overwrites n bytes of devices.db at at (-1: the middle page).
func damageDevices(at, n int) func(t *testing.T, dir string) func() {
	return func(t *testing.T, dir string) func() {
		path := filepath.Join(dir, store.DevicesFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if at < 0 {
			at = len(b) / 4096 / 2 * 4096
		}
		for i := at; i < at+n; i++ {
			b[i] = byte(i*7 + 13)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

func emptyFile(name string) func(t *testing.T, dir string) func() {
	return func(t *testing.T, dir string) func() {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

func removeFile(name string) func(t *testing.T, dir string) func() {
	return func(t *testing.T, dir string) func() {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		return nil
	}
}

// holdLock opens the store as a running Warden holds it.
func holdLock(t *testing.T, dir string) func() {
	db, err := store.Open(filepath.Join(dir, store.DBFile), store.WithLogger(slog.New(slog.DiscardHandler)), store.WithWritesHeld())
	if err != nil {
		t.Fatal(err)
	}
	return func() { db.Close() }
}

// A devices.db emptied (or gone) beside six paired accounts: Warden starts,
// says so, and shows each account as needing pairing again, with the reason,
// instead of showing QR codes without a word.
func TestMissingKeysShowAccountByAccount(t *testing.T) {
	srv := fakeServer(t, 161)
	paired := pairedDir(t, srv, 6)
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) func()
	}{
		{"devices.db empty", emptyFile(store.DevicesFile)},
		{"devices.db missing", removeFile(store.DevicesFile)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, paired)
			tc.damage(t, dir)
			var logs syncBuffer
			svc, err := start(flags{dataDir: dir, httpClient: srv.HTTPClient()}, new(slog.LevelVar), slog.NewTextHandler(&logs, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer svc.close(context.Background())
			if err := svc.begin(flags{}); err != nil {
				t.Fatal(err)
			}
			sts := svc.manager.Statuses()
			if len(sts) != 6 {
				t.Fatalf("%d accounts, want 6", len(sts))
			}
			for _, st := range sts {
				if st.State != core.LoggedOut || st.Reason != core.ReasonKeysMissing {
					t.Errorf("%s: %v (%s), want LoggedOut: %s", st.Account.Name, st.State, st.Reason, core.ReasonKeysMissing)
				}
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "accounts=6") {
				t.Errorf("the log does not warn about the six accounts:\n%s", logs.String())
			}
		})
	}
}

// Both data files, and SQLite's side files, are set to 0600 when other
// users could read them, and the log says so for each.
func TestStartTightensOpenFileModes(t *testing.T) {
	srv := fakeServer(t, 162)
	dir := copyDir(t, pairedDir(t, srv, 1))
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncBuffer
	svc, err := start(flags{dataDir: dir, httpClient: srv.HTTPClient()}, new(slog.LevelVar), slog.NewTextHandler(&logs, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.close(context.Background())
	files, _ = filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if info, err := os.Stat(f); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", filepath.Base(f), info.Mode().Perm(), err)
		}
	}
	for _, name := range []string{store.DBFile, store.DevicesFile} {
		if !strings.Contains(logs.String(), filepath.Join(dir, name)+" mode=-rw-r--r--") {
			t.Errorf("the log does not say %s's mode was set:\n%s", name, logs.String())
		}
	}
}

// The refusal of a second Warden is told apart from a disk that is full: a
// full disk says so, where, and that nothing was lost.
func TestDiskFullIsSaidInWords(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		err  error
		free uint64
		full bool
	}{
		{"ENOSPC from a write", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, 1 << 30, true},
		{"SQLite's disk I/O error on a full disk", errors.New("disk I/O error (4874)"), 0, true},
		{"SQLite's disk I/O error with room left", errors.New("disk I/O error (4874)"), 1 << 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(f func(string) (uint64, error)) { freeSpace = f }(freeSpace)
			freeSpace = func(string) (uint64, error) { return tc.free, nil }
			err := explainFiles(fmt.Errorf("open device store: %w", tc.err), dir)
			full := strings.Contains(err.Error(), "is full")
			if full != tc.full {
				t.Fatalf("explainFiles = %q; full %v, want %v", err, full, tc.full)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("explainFiles lost the cause: %v", err)
			}
			if full {
				for _, want := range []string{dir, "Nothing was lost", "Free some space"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("%q does not say %q", err, want)
					}
				}
			}
		})
	}
}

// BenchmarkSecondWardenRefused is the time a second Warden on a data
// directory in use takes to refuse to start: the promise is under 1 s.
func BenchmarkSecondWardenRefused(b *testing.B) {
	dir := b.TempDir()
	first, err := start(flags{dataDir: dir}, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		b.Fatal(err)
	}
	defer first.close(context.Background())
	for b.Loop() {
		if _, err := start(flags{dataDir: dir}, new(slog.LevelVar), slog.NewTextHandler(io.Discard, nil)); !errors.Is(err, store.ErrLocked) {
			b.Fatalf("second start = %v, want ErrLocked", err)
		}
	}
}
