package whatsapp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// errAborted is a dial's error after the session was torn down.
var errAborted = errors.New("the session was torn down")

// connSet is the set of network connections one session opened, so that
// Abort can close them without the polite close whatsmeow's Disconnect
// makes (the websocket closing handshake, which waits for the server).
type connSet struct {
	mu sync.Mutex
	// mu guards the following
	conns   map[net.Conn]struct{}
	aborted bool
}

// track returns a copy of c whose transport records the connections it
// dials in the set. A client whose transport is not an *http.Transport is
// returned as it is: Abort then falls back to cancelling the session.
func (cs *connSet) track(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Transport: http.DefaultTransport}
	}
	t, ok := c.Transport.(*http.Transport)
	if !ok || t == nil {
		return c
	}
	t = t.Clone()
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = cs.wrap(dial)
	if t.DialTLSContext != nil {
		t.DialTLSContext = cs.wrap(t.DialTLSContext)
	}
	out := *c
	out.Transport = t
	return &out
}

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

func (cs *connSet) wrap(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cs.mu.Lock()
		if cs.aborted {
			cs.mu.Unlock()
			conn.Close()
			return nil, errAborted
		}
		if cs.conns == nil {
			cs.conns = make(map[net.Conn]struct{})
		}
		tc := &trackedConn{Conn: conn, set: cs}
		cs.conns[tc] = struct{}{}
		cs.mu.Unlock()
		return tc, nil
	}
}

// closeAll closes every connection at once, and refuses later dials; it
// returns how many were open.
func (cs *connSet) closeAll() int {
	if cs == nil {
		return 0
	}
	cs.mu.Lock()
	cs.aborted = true
	conns := cs.conns
	cs.conns = nil
	cs.mu.Unlock()
	for c := range conns {
		c.(*trackedConn).Conn.Close()
	}
	return len(conns)
}

// trackedConn leaves its set when closed.
type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}
