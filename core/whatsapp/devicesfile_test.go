package whatsapp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/whatsapp"
)

// pairedDevicesFile returns the bytes of a closed devices.db holding the keys
// of two paired accounts, and those accounts' devices.
func pairedDevicesFile(t *testing.T) ([]byte, []string) {
	t.Helper()
	srv := newServer(t, 160)
	d, path := newDialer(t, srv)
	var want []string
	for _, id := range []core.AccountID{"a", "b"} {
		s, _, acct := pair(t, srv, d, id)
		s.Close()
		want = append(want, acct.Device())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		t.Fatal("SQLite left its write-ahead log after the last close")
	}
	slices.Sort(want)
	return good, want
}

// dirState lists a directory's files with their contents.
func dirState(t *testing.T, dir string) map[string]string {
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
		out[e.Name()] = string(b)
	}
	return out
}

// CheckDevicesFile finds the devices of a sound file and damage anywhere in
// a damaged one, and writes nothing, in the file or beside it.
func TestCheckDevicesFile(t *testing.T) {
	good, devices := pairedDevicesFile(t)
	page := 4096
	if len(good) < 8*page {
		t.Fatalf("devices.db is only %d bytes", len(good))
	}
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		want    []string
		damaged bool
	}{
		{name: "sound", content: good, want: devices},
		{name: "missing"},
		{name: "empty", content: []byte{}},
		{name: "header overwritten", content: overwrite(good, 0, 100), damaged: true},
		{name: "a page in the middle overwritten", content: overwrite(good, (len(good)/page/2)*page, page), damaged: true},
		{name: "truncated to half", content: good[:len(good)/2], damaged: true},
		{name: "not a database", content: bytes.Repeat([]byte("not a database "), 1000), damaged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "devices.db")
			if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := dirState(t, dir)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := whatsapp.CheckDevicesFile(ctx, path)
			slices.Sort(got)
			t.Logf("CheckDevicesFile = %v, %v", got, err)
			switch {
			case tc.damaged && !errors.Is(err, whatsapp.ErrDevicesDamaged):
				t.Errorf("CheckDevicesFile = %v, %v; want ErrDevicesDamaged", got, err)
			case tc.damaged && !strings.Contains(err.Error(), path):
				t.Errorf("the error %q does not name the file", err)
			case !tc.damaged && (err != nil || !slices.Equal(got, tc.want)):
				t.Errorf("CheckDevicesFile = %v, %v; want %v", got, err, tc.want)
			}
			if after := dirState(t, dir); !mapsEqual(before, after) {
				t.Errorf("the check changed the directory: %d files before, %d after", len(before), len(after))
			}
		})
	}
}

// After a crash, the latest writes are in the write-ahead log, not yet in
// the file: the check reads through it, and leaves the file as it was.
func TestCheckDevicesFileReadsTheWriteAheadLog(t *testing.T) {
	srv := newServer(t, 162)
	d, path := newDialer(t, srv)
	var accts []core.Account
	for _, id := range []core.AccountID{"a", "b"} {
		s, _, acct := pair(t, srv, d, id)
		s.Close()
		accts = append(accts, acct)
	}
	// A small write stays in the log: SQLite folds the log into the file
	// only every thousand pages.
	if err := d.DeleteDevice(context.Background(), accts[0]); err != nil {
		t.Fatal(err)
	}
	// A copy of the files while the dialer is open is what a crash leaves.
	dir := t.TempDir()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "devices.db"+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	crashed := filepath.Join(dir, "devices.db")
	before, _ := os.ReadFile(crashed)
	got, err := whatsapp.CheckDevicesFile(context.Background(), crashed)
	if err != nil || !slices.Equal(got, []string{accts[1].Device()}) {
		t.Fatalf("CheckDevicesFile = %v, %v; want [%s], without the device deleted", got, err, accts[1].Device())
	}
	if after, _ := os.ReadFile(crashed); !bytes.Equal(before, after) {
		t.Error("the check wrote to devices.db")
	}
}

// An unfinished check returns its deadline's error: the file is not known
// to be damaged.
func TestCheckDevicesFileDeadline(t *testing.T) {
	good, _ := pairedDevicesFile(t)
	path := filepath.Join(t.TempDir(), "devices.db")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := whatsapp.CheckDevicesFile(ctx, path)
	if err == nil || errors.Is(err, whatsapp.ErrDevicesDamaged) {
		t.Fatalf("CheckDevicesFile after its deadline = %v, want the context's error", err)
	}
}

// StoredDevices lists the devices whose keys the store holds.
func TestStoredDevices(t *testing.T) {
	srv := newServer(t, 161)
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a")
	s.Close()
	got, err := d.StoredDevices(context.Background())
	if err != nil || !slices.Equal(got, []string{acct.Device()}) {
		t.Fatalf("StoredDevices = %v, %v; want [%s]", got, err, acct.Device())
	}
}

// A devices.db and its side files readable by other users are set to 0600,
// and the log says so.
func TestNewDialerTightensAnOpenMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.db")
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: path, NoVersionFetch: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d, err = whatsapp.NewDialer(whatsapp.Config{DevicesPath: path, NoVersionFetch: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", filepath.Base(f), fi.Mode().Perm(), err)
		}
	}
	if !strings.Contains(logs.String(), "set its mode to 0600") || !strings.Contains(logs.String(), "-rw-r--r--") {
		t.Errorf("the log does not say the mode was changed:\n%s", logs.String())
	}
}

func overwrite(b []byte, at, n int) []byte {
	out := bytes.Clone(b)
	for i := at; i < at+n && i < len(out); i++ {
		out[i] = byte(i*7 + 13)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
