package etcdtest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Blackhole is a TCP proxy to an etcd member that can stop forwarding, as a
// network that cuts a node off: while cut, it swallows what either side
// sends and keeps the connections open, so that the node learns nothing
// until its own timers say so.
type Blackhole struct {
	ln     net.Listener
	target string
	cut    atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

// NewBlackhole proxies to the member at endpoint (http://host:port) until
// the test ends.
func NewBlackhole(t testing.TB, endpoint string) *Blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Blackhole{ln: ln, target: strings.TrimPrefix(endpoint, "http://")}
	t.Cleanup(func() { _ = ln.Close(); b.Heal() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

// Endpoint is the proxy's etcd endpoint, http://127.0.0.1:PORT.
func (b *Blackhole) Endpoint() string { return "http://" + b.ln.Addr().String() }

// Cut stops forwarding.
func (b *Blackhole) Cut() { b.cut.Store(true) }

// Heal reconnects the network: the connections it mangled are closed, and
// new ones flow.
func (b *Blackhole) Heal() {
	b.Drop()
	b.cut.Store(false)
}

// Drop closes every connection through the proxy, as a machine that
// vanished.
func (b *Blackhole) Drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close()
	}
	b.conns = nil
}

func (b *Blackhole) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", b.target)
	if err != nil {
		return // the member is down: so is this connection
	}
	defer up.Close()
	b.mu.Lock()
	b.conns = append(b.conns, c, up)
	b.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		defer dst.Close() // one side gone: both go
		defer src.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if b.cut.Load() {
				continue // swallowed: the network is cut
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	pipe(c, up)
}
