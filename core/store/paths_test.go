package store

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestDefaultDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the Linux locations")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, tc := range []struct{ xdg, want string }{
		{"/data/xdg", "/data/xdg/warden"},
		{"", filepath.Join(home, ".local", "share", "warden")},
		{"relative/dir", filepath.Join(home, ".local", "share", "warden")}, // the XDG spec says ignore it
	} {
		t.Setenv("XDG_DATA_HOME", tc.xdg)
		got, err := DefaultDataDir()
		if err != nil || got != tc.want {
			t.Errorf("DefaultDataDir() with XDG_DATA_HOME=%q = %q, %v; want %q", tc.xdg, got, err, tc.want)
		}
	}
}

func TestPathsAndEnsureDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x", "warden")
	db, devices := Paths(dir)
	if db != filepath.Join(dir, "warden.db") || devices != filepath.Join(dir, "devices.db") {
		t.Errorf("Paths(%s) = %s, %s", dir, db, devices)
	}
	if err := EnsureDataDir(dir); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() || (runtime.GOOS != "windows" && info.Mode().Perm() != 0o700) {
		t.Errorf("EnsureDataDir made %v (%v), want a 0700 directory", info.Mode(), err)
	}
	if err := EnsureDataDir(dir); err != nil {
		t.Errorf("EnsureDataDir on an existing directory: %v", err)
	}
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDataDir(db); err == nil {
		t.Error("EnsureDataDir on a file succeeded")
	}
}
