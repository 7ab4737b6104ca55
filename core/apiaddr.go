package core

import (
	"errors"
	"fmt"
)

// The check of how the HTTP API (core/api) is to be served, as the operator
// types it on the command line (--api, --api-allow-remote, --api-tls-cert,
// --api-tls-key, --api-insecure) or in Settings › API. The store and the
// Settings dialog call it too, without importing core/api, which checks the
// address it actually bound once more when it listens.

// DefaultAPIAddr is where the API is served when no address is given: this
// machine only. It is core/api's DefaultAddr (a test in app holds them
// together).
const DefaultAPIAddr = "127.0.0.1:9470"

// Errors callers branch on.
var (
	// ErrInvalidAPIAddr is wrapped when an address is not host:port with a
	// port from 1 to 65535.
	ErrInvalidAPIAddr = errors.New("invalid API address")
	// ErrAPINotLoopback is wrapped when an address other machines could
	// reach is refused because remote access is not allowed.
	ErrAPINotLoopback = errors.New("the API address is reachable from other machines")
	// ErrAPITransport is wrapped when the TLS files and the insecure choice
	// do not fit together or with the address.
	ErrAPITransport = errors.New("the API's TLS settings do not fit")
)

// APIListen is how the HTTP API is served.
type APIListen struct {
	Addr string // host:port; "" for DefaultAPIAddr
	// AllowRemote allows an address other machines can reach; the API then
	// needs TLS (TLSCert and TLSKey, PEM files) or Insecure.
	AllowRemote     bool
	TLSCert, TLSKey string
	Insecure        bool
}

// Check checks l as the operator typed it and reports whether its address
// is loopback. Errors wrap ErrInvalidAPIAddr or ErrAPINotLoopback (the
// address is wrong) or ErrAPITransport (the TLS files or the insecure
// choice), and say what to do instead. It does not read the files.
func (l APIListen) Check() (loopback bool, err error) {
	addr := l.Addr
	if addr == "" {
		addr = DefaultAPIAddr
	}
	loopback, err = checkListenAddr(addr, l.AllowRemote, false, listenKind{
		what: "the API", example: DefaultAPIAddr, invalid: ErrInvalidAPIAddr, notLoopback: ErrAPINotLoopback,
	})
	if err != nil {
		return false, err
	}
	bad := func(msg string) (bool, error) { return false, fmt.Errorf("%w: %s", ErrAPITransport, msg) }
	switch {
	case (l.TLSCert == "") != (l.TLSKey == ""):
		return bad("a TLS certificate and its key go together; give both or neither")
	case l.Insecure && l.TLSCert != "":
		return bad("plain HTTP (insecure) and a TLS certificate contradict each other; choose one")
	case !loopback && l.TLSCert == "" && !l.Insecure:
		return bad("other machines would reach the API over plain HTTP, keys and messages in clear; " +
			"give a TLS certificate and key, or accept plain HTTP explicitly (insecure)")
	}
	return loopback, nil
}
