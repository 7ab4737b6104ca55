package core

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The check of the address the metrics are served on (core/metrics), as the
// operator types it on the command line or in the Settings. The store and
// the Settings dialog call it too, without importing core/metrics.

// DefaultMetricsAddr is where the metrics are served when no address is
// given: this machine only.
const DefaultMetricsAddr = "127.0.0.1:9464"

// Errors callers branch on.
var (
	// ErrInvalidMetricsAddr is wrapped when an address is not host:port with
	// a port from 1 to 65535.
	ErrInvalidMetricsAddr = errors.New("invalid metrics address")
	// ErrMetricsNotLoopback is wrapped when an address other machines could
	// reach is refused because remote access is not allowed.
	ErrMetricsNotLoopback = errors.New("the metrics address is reachable from other machines")
)

// CheckMetricsAddr checks a metrics address as the operator typed it (a flag
// or the Settings): host:port, with a port from 1 to 65535, and a loopback
// host (127.0.0.1, ::1 or localhost) unless allowRemote. It reports whether
// the address is loopback: an empty host (every interface), 0.0.0.0, another
// IP or any other host name is not. Errors wrap ErrInvalidMetricsAddr or
// ErrMetricsNotLoopback and say what to type instead.
func CheckMetricsAddr(addr string, allowRemote bool) (loopback bool, err error) {
	return checkMetricsAddr(addr, allowRemote, false)
}

// CheckMetricsListenAddr is CheckMetricsAddr for the server about to listen,
// which also takes port 0: any free port (tests).
func CheckMetricsListenAddr(addr string, allowRemote bool) (loopback bool, err error) {
	return checkMetricsAddr(addr, allowRemote, true)
}

func checkMetricsAddr(addr string, allowRemote, anyPort bool) (bool, error) {
	return checkListenAddr(addr, allowRemote, anyPort, listenKind{
		what: "the metrics", example: DefaultMetricsAddr, invalid: ErrInvalidMetricsAddr, notLoopback: ErrMetricsNotLoopback,
	})
}

// listenKind names what listens on an address, for checkListenAddr's words.
type listenKind struct {
	what                 string // "the metrics"
	example              string // its default address
	invalid, notLoopback error
}

// checkListenAddr checks an address a local HTTP server of Warden is to
// listen on (see CheckMetricsAddr).
func checkListenAddr(addr string, allowRemote, anyPort bool, k listenKind) (bool, error) {
	bad := func(format string, args ...any) (bool, error) {
		return false, fmt.Errorf("%w: %q: %s", k.invalid, addr, fmt.Sprintf(format, args...))
	}
	example := "use host:port, for example " + k.example
	if addr == "" {
		return bad("it is empty; %s", example)
	}
	if strings.ContainsFunc(addr, func(r rune) bool { return r <= ' ' }) {
		return bad("remove the spaces; %s", example)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		_, port, _ := strings.Cut(k.example, ":")
		return bad("%s (for an IPv6 address, put it in brackets: [::1]:%s)", example, port)
	}
	n, err := strconv.Atoi(port)
	lowest := 1
	if anyPort {
		lowest = 0
	}
	if err != nil || n < lowest || n > 65535 {
		return bad("the port must be a number from 1 to 65535")
	}

	loopback, where := false, ""
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		loopback = ip.IsLoopback()
		if ip.IsUnspecified() {
			where = "listens on every network interface"
		} else {
			where = "is not a loopback address"
		}
	} else {
		switch {
		case host == "":
			where = "has no host, so it listens on every network interface"
		case strings.EqualFold(host, "localhost"):
			loopback = true
		default:
			where = "names a host; only localhost or a loopback IP such as 127.0.0.1 keeps " + k.what + " on this machine"
		}
	}
	if !loopback && !allowRemote {
		return false, fmt.Errorf("%w: %s %s; use %s, or allow remote access to %s", k.notLoopback, addr, where, k.example, k.what)
	}
	return loopback, nil
}
