package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"warden/core/store"
	"warden/core/whatsapp"
)

// Warden's start-up checks of its data files, and what it says when it
// refuses to start, in an operator's words. A refused start writes nothing:
// the checks read the files before anything opens them for writing, the
// store holds its own writes until the start is done (store.WithWritesHeld),
// and a file the start created is removed again (services.abandon).

// lockWait is how long a start waits for the store's lock, which another
// Warden on the same data directory holds: long enough for one that is
// just quitting to let go, short enough that a second Warden is refused
// within a second in all.
const lockWait = 500 * time.Millisecond

// devicesCheckTime bounds the check of devices.db. A check that does not
// finish in time is logged, and Warden starts without it.
const devicesCheckTime = 10 * time.Second

// errOrphanKeys is the refusal of a start that would begin an empty list of
// accounts beside the device keys of paired ones.
var errOrphanKeys = errors.New("Warden's list of accounts is gone, their keys are not")

// A data file's state before the start, to put back if the start fails.
type fileState struct {
	path  string
	empty bool // it existed, empty; otherwise it did not exist
}

// newFiles returns the files among paths that do not exist or are empty:
// a start that fails removes or empties them again.
func newFiles(paths ...string) []fileState {
	var out []fileState
	for _, p := range paths {
		info, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, fileState{path: p})
		case err == nil && info.Size() == 0:
			out = append(out, fileState{path: p, empty: true})
		}
	}
	return out
}

// isNew reports whether path is missing or empty: a store never written.
func isNew(path string) (missing, empty bool) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, false
	}
	return false, err == nil && info.Size() == 0
}

// abandon closes what a failed start opened and puts the data files it
// created back as they were (removed, or empty).
func (s *services) abandon() {
	_ = s.close(context.Background())
	for _, f := range s.created {
		if f.empty {
			_ = os.Truncate(f.path, 0)
		} else {
			_ = os.Remove(f.path)
		}
	}
}

// checkDevices checks devices.db before Warden uses it: damage anywhere in
// it refuses the start, and so do device keys without any account beside
// them (accounts is how many warden.db holds; what says what warden.db is
// then: "is empty", "is missing", "holds no accounts").
func checkDevices(path, dir string, accounts int, what string, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), devicesCheckTime)
	defer cancel()
	devices, err := whatsapp.CheckDevicesFile(ctx, path)
	switch {
	case errors.Is(err, whatsapp.ErrDevicesDamaged):
		return fmt.Errorf("%w\nIt holds the device keys of the paired accounts. Warden did not start, and left the files untouched.\n"+
			"To recover, move devices.db aside (rename it, say to devices.db.damaged), put back a backup copy of it, and start Warden again.\n"+
			"Without a backup, move devices.db aside and start Warden: each account that was paired then says that it needs pairing again.", err)
	case ctx.Err() != nil:
		log.Warn("the check of devices.db did not finish in time; starting without it", "file", path, "limit", devicesCheckTime.String())
		return nil
	case err != nil:
		return explainFiles(err, dir)
	}
	if len(devices) == 0 || accounts > 0 {
		return nil
	}
	return fmt.Errorf("%s %s, but devices.db beside it holds the device keys of %d paired WhatsApp accounts: %w\n"+
		"Warden did not start, so as not to begin an empty list over them, and left the files untouched in %s.\n"+
		"To recover, put back a backup copy of warden.db (one made together with this devices.db) and start Warden again.\n"+
		"With an export of the accounts instead (File › Export accounts…), move devices.db aside, start Warden and Import the export (File › Import accounts…).\n"+
		"To start afresh, move devices.db aside: every account then needs pairing again.",
		filepath.Join(dir, store.DBFile), what, len(devices), errOrphanKeys, dir)
}

// explainOpen turns the store's errors into what the operator should do.
func explainOpen(err error, dir string) error {
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("another Warden is already running with the data directory %s: %w\n"+
			"Switch to that Warden (its window may be hidden in the system tray), or quit it first. "+
			"To run a second Warden beside it, start this one with --data-dir and another directory.", dir, store.ErrLocked)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("%w\nWarden did not start, and left the files untouched.\n"+
			"To recover, move warden.db aside (rename it, say to warden.db.damaged), put back a backup copy of it, and start Warden again.\n"+
			"Without a backup, move devices.db aside as well, start Warden, and Import an export of the accounts (File › Import accounts…) "+
			"or pair each account again.", err)
	}
	return explainFiles(err, dir)
}

// minFree is the free space below which a failure to open or write the data
// files is taken for a full disk (SQLite's side files alone need 32 KiB).
const minFree = 1 << 20

// freeSpace returns the bytes free for Warden on the file system holding
// dir; tests replace it.
var freeSpace = diskFree

// explainFiles says that the disk is full, where, and that nothing was lost,
// when that is why the data files could not be opened: SQLite reports a
// full disk as an I/O error, so the free space decides when the error does
// not say ENOSPC itself. Other errors are returned as they are.
func explainFiles(err error, dir string) error {
	free, ferr := freeSpace(dir)
	full := errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		ferr == nil && free < minFree && !errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrNotExist)
	if !full {
		return err
	}
	left := "no space left"
	if ferr == nil {
		left = fmt.Sprintf("%s free", bytesText(free))
	}
	return fmt.Errorf("the disk holding the data directory %s is full (%s): %w\n"+
		"Nothing was lost: Warden did not start, and left warden.db and devices.db as they were. "+
		"Free some space on that disk, then start Warden again.", dir, left, err)
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
