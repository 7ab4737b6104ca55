//go:build !(linux || darwin || freebsd)

package app

import "errors"

// diskFree is not known here: only an ENOSPC error says the disk is full.
func diskFree(string) (uint64, error) {
	return 0, errors.New("free disk space unknown on this system")
}
