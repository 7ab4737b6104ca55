//go:build soakpprof

package app

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // the profiles `make soak-window` reads
	"os"
)

// Built only with the soakpprof tag (`make soak-window`), never into a
// release: WARDEN_PPROF=127.0.0.1:PORT serves Go's profiles there, so the
// soak can take a heap and a CPU profile of the idle window.
func init() {
	addr := os.Getenv("WARDEN_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		slog.Error("WARDEN_PPROF: cannot listen", "addr", addr, "err", err)
		return
	}
	go func() { _ = http.Serve(ln, nil) }()
}
