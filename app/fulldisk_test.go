package app

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"warden/core/fakewa"
)

// The full-disk test's child process: it mounts a small tmpfs in a mount
// namespace of its own (nothing outside sees it, and it goes with the
// process), fills it, and starts Warden on a data directory there.
const (
	envFullDisk       = "WARDEN_TEST_FULLDISK"        // the paired data directory to copy onto the full disk
	envFullDiskReport = "WARDEN_TEST_FULLDISK_REPORT" // where the child writes its fullDiskReport
	envFullDiskFakeWA = "WARDEN_TEST_FULLDISK_FAKEWA" // the fake server's address
)

type fullDiskReport struct {
	Starts []fullDiskStart `json:"starts"`
	Err    string          `json:"err,omitempty"` // the child could not set the disk up
}

// fullDiskStart is one refused start on the full disk.
type fullDiskStart struct {
	Name   string            `json:"name"`
	Dir    string            `json:"dir"`
	Said   string            `json:"said"`
	Before map[string]string `json:"before"`
	After  map[string]string `json:"after"`
}

// Warden on a full disk says that the disk is full, where, and that nothing
// was lost, and leaves both files as they were.
func TestFullDisk(t *testing.T) {
	srv := fakeServer(t, 163)
	paired := pairedDir(t, srv, 6)
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskProcess$", "-test.v")
	cmd.Env = append(os.Environ(), envFullDisk+"="+paired, envFullDiskReport+"="+report, envFullDiskFakeWA+"="+srv.Addr())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if uid := os.Getuid(); uid != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	const needs = "the full-disk test mounts a small tmpfs in a mount namespace of its own: " +
		"it needs root, or unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
	out, err := cmd.CombinedOutput()
	b, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("%s; its child process did not report (%v): %v\n%s", needs, rerr, err, out)
	}
	if err != nil {
		t.Errorf("the child process failed: %v\n%s", err, out)
	}
	var r fullDiskReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Err != "" {
		t.Fatalf("%s; setting it up failed: %s", needs, r.Err)
	}
	if len(r.Starts) != 2 {
		t.Fatalf("%d starts reported, want 2", len(r.Starts))
	}
	for _, st := range r.Starts {
		t.Logf("%s: Warden said:\n%s", st.Name, st.Said)
		for _, want := range []string{"disk holding the data directory " + st.Dir + " is full", "Nothing was lost", "Free some space"} {
			if !strings.Contains(st.Said, want) {
				t.Errorf("%s: the message does not say %q", st.Name, want)
			}
		}
		if !sameSums(st.Before, st.After) {
			t.Errorf("%s: the refused start changed the data directory:\nbefore %v\nafter  %v", st.Name, st.Before, st.After)
		}
	}
}

// TestFullDiskProcess is the child of TestFullDisk, not a test: run by go
// test without its environment, it returns at once.
func TestFullDiskProcess(t *testing.T) {
	from := os.Getenv(envFullDisk)
	if from == "" {
		return
	}
	r := fullDiskReport{}
	defer func() {
		b, _ := json.Marshal(r)
		if err := os.WriteFile(os.Getenv(envFullDiskReport), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}()
	mnt := t.TempDir()
	// The mount stays in this process's namespace: no propagation out.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		r.Err = "make the mounts private: " + err.Error()
		return
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=16m"); err != nil {
		r.Err = "mount a tmpfs: " + err.Error()
		return
	}
	defer syscall.Unmount(mnt, 0)
	// Six paired accounts' data, and a first start.
	paired, empty := filepath.Join(mnt, "paired"), filepath.Join(mnt, "new")
	for _, dir := range []string{paired, empty} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			r.Err = err.Error()
			return
		}
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		r.Err = err.Error()
		return
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(paired, e.Name()), b, 0o600)
		}
		if err != nil {
			r.Err = "copy the data directory: " + err.Error()
			return
		}
	}
	if err := fill(filepath.Join(mnt, "filler")); err != nil {
		r.Err = "fill the disk: " + err.Error()
		return
	}
	fakewa.InstallRootKey()
	client := fakewa.ClientFor(os.Getenv(envFullDiskFakeWA))
	for _, dir := range []string{paired, empty} {
		st := fullDiskStart{Name: filepath.Base(dir), Dir: dir, Before: sums(t, dir)}
		st.Said = refusedStart(t, flags{dataDir: dir, httpClient: client})
		st.After = sums(t, dir)
		r.Starts = append(r.Starts, st)
	}
}

// fill writes path until the disk is full.
func fill(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := len(buf); n > 0; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					break
				}
				return err
			}
		}
	}
	return nil
}
