package fakewa

import (
	"context"
	"net"
	"net/http"
)

// ClientFor returns a client whose every connection, TLS or not, goes to the
// fake server at addr ("127.0.0.1:PORT", see Server.Addr) over plain TCP: the
// client HTTPClient returns, for a process other than the server's, such as a
// Warden node process that a test started. That process must call
// InstallRootKey too.
func ClientFor(addr string) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:          nil,
		DialContext:    dial,
		DialTLSContext: dial, // net/http takes this conn as already past TLS
	}}
}
