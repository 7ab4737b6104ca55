package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"warden/core"
)

// ErrDevicesDamaged is wrapped by CheckDevicesFile when SQLite cannot read
// the device keys file, or finds it damaged.
var ErrDevicesDamaged = errors.New("the device keys file is damaged")

// CheckDevicesFile reads the SQLite device keys file at path, without writing
// to it or beside it, and returns the devices it holds keys for (in the form
// of core.Account.Device). A missing or empty file holds none. It runs
// SQLite's quick_check, which reads every page in use, so that damage
// anywhere in the file shows here rather than account by account later; ctx
// bounds it, and an unfinished check returns ctx's error.
//
// The caller must keep other processes from writing the file meanwhile
// (Warden holds its store's lock): when no write-ahead log lies beside it,
// the file is read as immutable, without SQLite's locks or side files.
func CheckDevicesFile(ctx context.Context, path string) (devices []string, err error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("check %s: %w", path, err)
	case info.Size() == 0:
		return nil, nil
	}
	// A write-ahead log holds committed writes the file does not have yet:
	// read through it (read-only, so it is not folded into the file).
	dsn := "file:" + path + "?mode=ro&immutable=1"
	if wal, err := os.Stat(path + "-wal"); err == nil && wal.Size() > 0 {
		dsn = "file:" + path + "?mode=ro&_pragma=busy_timeout(1000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	problems, err := quickCheck(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, damaged(err))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("check %s: %w: SQLite's check found %s", path, ErrDevicesDamaged, problems)
	}
	devices, err = listDevices(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("check %s: %w", path, damaged(err))
	}
	return devices, nil
}

// quickCheck runs PRAGMA quick_check and returns what it found wrong, in one
// line ("" when the file is sound).
func quickCheck(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		if line != "ok" && len(found) < 3 {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return strings.Join(found, "; "), nil
}

// listDevices returns the devices the store holds keys for; none when
// whatsmeow never created its tables.
func listDevices(ctx context.Context, db *sql.DB) ([]string, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='whatsmeow_device'").Scan(&n)
	if err != nil || n == 0 {
		return nil, err
	}
	return queryDevices(ctx, db)
}

func queryDevices(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT jid FROM whatsmeow_device")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var jid string
		if err := rows.Scan(&jid); err != nil {
			return nil, err
		}
		out = append(out, core.CanonicalDevice(jid))
	}
	return out, rows.Err()
}

// damaged marks SQLite's "malformed" and "not a database" errors as
// ErrDevicesDamaged; others (I/O, a deadline) are returned as they are.
func damaged(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: SQLite says %w", ErrDevicesDamaged, err)
		}
	}
	return err
}

var _ core.DeviceLister = (*Dialer)(nil)

// StoredDevices returns the devices whose keys the device store holds, in
// the form of core.Account.Device. It implements core.DeviceLister.
func (d *Dialer) StoredDevices(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	devices, err := queryDevices(ctx, d.db)
	if err != nil {
		return nil, fmt.Errorf("list the stored devices: %w", err)
	}
	return devices, nil
}

// tightenMode makes the device keys file and SQLite's side files beside it
// readable by their owner only, and logs each one it changed: they hold
// every account's keys. Windows has ACLs, not modes.
func tightenMode(path string, log *slog.Logger) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if mode := info.Mode().Perm(); mode&0o077 != 0 {
			if err := os.Chmod(p, 0o600); err != nil {
				return fmt.Errorf("%s is readable by other users (mode %v) and its mode could not be set to 0600: %w", p, mode, err)
			}
			log.Warn("the device keys file was readable by other users; Warden set its mode to 0600",
				"file", p, "mode", mode.String())
		}
	}
	return nil
}
