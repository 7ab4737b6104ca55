package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File names inside the data directory. whatsmeow's device keys live in
// DevicesFile, next to Warden's own DBFile, so one directory holds both.
const (
	DBFile      = "warden.db"
	DevicesFile = "devices.db"
)

// Paths returns the paths of Warden's database and of the device database in
// the data directory dir.
func Paths(dir string) (db, devices string) {
	return filepath.Join(dir, DBFile), filepath.Join(dir, DevicesFile)
}

// DefaultDataDir returns where Warden keeps its data when no --data-dir is
// given: $XDG_DATA_HOME/warden when that is set to an absolute path (except on
// Windows), else ~/.local/share/warden on Linux and other Unixes,
// ~/Library/Application Support/Warden on macOS and %LocalAppData%\Warden on
// Windows.
func DefaultDataDir() (string, error) {
	if runtime.GOOS != "windows" {
		if xdg := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
			return filepath.Join(xdg, "warden"), nil
		}
	}
	switch runtime.GOOS {
	case "windows":
		local := os.Getenv("LocalAppData")
		if local == "" {
			return "", errors.New("data directory: %LocalAppData% is not set")
		}
		return filepath.Join(local, "Warden"), nil
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support", "Warden"), nil
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		return filepath.Join(home, ".local", "share", "warden"), nil
	}
}

// EnsureDataDir creates dir, and any missing parent, with mode 0700. An
// existing directory is left as it is.
func EnsureDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	return nil
}
