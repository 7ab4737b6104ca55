//go:build linux || darwin || freebsd

package app

import "syscall"

// diskFree returns the bytes an unprivileged user may still write on the
// file system holding dir.
func diskFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
