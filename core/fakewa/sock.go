package fakewa

import (
	"bytes"
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/socket"
)

// sock is one websocket connection from a client.
type sock struct {
	srv    *Server
	ws     *websocket.Conn
	log    *slog.Logger
	ctx    context.Context // ends when the socket closes
	cancel context.CancelFunc

	clientStatic [32]byte    // set by the handshake, then read-only
	read         cipher.AEAD // used by the read loop only
	readN        uint32
	stalled      atomic.Bool // keepalives go unanswered

	wmu    sync.Mutex // guards write and writeN, and orders frames on the wire
	write  cipher.AEAD
	writeN uint32

	waitMu  sync.Mutex                     // guards waiters
	waiters map[string]chan *waBinary.Node // answers to the server's IQs, by ID

	// Guarded by srv.mu.
	jid      string   // the device JID once it logged in
	loggedIn bool     // counted in srv.stats[jid].open
	live     bool     // logged in and past its offline queue: messages to the device go to it at once
	refs     []string // QR refs handed to this registering socket
}

// serveHTTP upgrades a request to a websocket and serves it until it closes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if isVersionRequest(r) {
		s.serveVersion(w, r)
		return
	}
	if s.takeRefusal() {
		s.log.Debug("fakewa: upgrade refused on command")
		http.Error(w, "fakewa: service unavailable (refused on command)", http.StatusServiceUnavailable)
		return
	}
	c := &sock{srv: s, log: s.log, waiters: make(map[string]chan *waBinary.Node)}
	watch := &closeWatchWriter{ResponseWriter: w, onClose: func() { s.clientClosed(c) }}
	ws, err := websocket.Accept(watch, r, &websocket.AcceptOptions{OriginPatterns: []string{"*"}})
	if err != nil {
		s.log.Debug("fakewa: upgrade failed", "err", err)
		return
	}
	ws.SetReadLimit(socket.FrameMaxSize + int64(len(socket.WAConnHeader)) + socket.FrameLengthSize)
	c.ws = ws
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	if !s.track(c) {
		c.closeNow()
		return
	}
	defer s.untrack(c)
	c.serve()
}

func (s *Server) takeRefusal() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse > 0 {
		s.refuse--
		s.refused++
		return true
	}
	return false
}

// track registers a new socket; false once the server is closed.
func (s *Server) track(c *sock) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.socks[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack forgets a closed socket: it ends its session, drops its QR refs and
// pending phone-code pairing, and wakes whoever waits for its answers.
func (s *Server) untrack(c *sock) {
	c.closeNow()
	s.mu.Lock()
	delete(s.socks, c)
	s.endSessionLocked(c)
	for _, ref := range c.refs {
		delete(s.refs, ref)
	}
	for ref, lc := range s.linkCodes {
		if lc.sock == c {
			delete(s.linkCodes, ref)
		}
	}
	s.mu.Unlock()
	c.waitMu.Lock()
	for id, ch := range c.waiters {
		close(ch)
		delete(c.waiters, id)
	}
	c.waitMu.Unlock()
	s.wg.Done()
}

// clientClosed is called when the client's close frame arrives: its session
// ends there, before the websocket library echoes the close.
func (s *Server) clientClosed(c *sock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endSessionLocked(c)
}

// endSessionLocked stops counting c as a logged-in socket. A socket's session
// ends when it closes, or when the server sent it a stream error or a failure:
// from then on it is a dead socket waiting to close. s.mu must be held.
func (s *Server) endSessionLocked(c *sock) {
	c.live = false
	if c.loggedIn {
		c.loggedIn = false
		s.statsLocked(c.jid).open--
	}
}

// closeNow closes the TCP connection at once, without a closing handshake.
func (c *sock) closeNow() {
	c.cancel()
	_ = c.ws.CloseNow()
}

// closeSoon closes the socket after the configured stream error close delay.
func (s *Server) closeSoon(c *sock) {
	if s.closeDelay < 0 {
		c.closeNow()
		return
	}
	time.AfterFunc(s.closeDelay, c.closeNow)
}

// serve runs the handshake, then reads nodes until the socket closes.
func (c *sock) serve() {
	fr := &frameReader{ws: c.ws}
	hsCtx, cancel := context.WithTimeout(c.ctx, handshakeTimeout)
	hs, err := serverHandshake(c.srv.static, c.srv.chain,
		func() ([]byte, error) { return fr.next(hsCtx) },
		func(frame []byte) error { return c.sendFrame(frame) })
	cancel()
	if err != nil {
		c.log.Debug("fakewa: handshake failed", "err", err)
		return
	}
	c.clientStatic = hs.clientStatic
	c.read = hs.read
	c.wmu.Lock()
	c.write = hs.write
	c.wmu.Unlock()

	if old, announced := c.srv.outdated(hs.payload); old {
		c.log.Debug("fakewa: client version refused as outdated", "version", announced)
		_ = c.sendNode(failureNode(Fault{Kind: FaultFail405}))
		c.srv.closeSoon(c)
	} else if hs.payload.Username != nil {
		c.srv.login(c, hs.payload)
	} else {
		c.srv.register(c)
	}

	for {
		frame, err := fr.next(c.ctx)
		if err != nil {
			c.log.Debug("fakewa: socket closed", "jid", c.jidNow(), "err", err)
			return
		}
		plain, err := c.read.Open(nil, frameIV(c.readN), frame, nil)
		c.readN++
		if err != nil {
			c.log.Warn("fakewa: undecryptable frame, closing", "err", err)
			return
		}
		unpacked, err := waBinary.Unpack(plain)
		if err != nil {
			c.log.Warn("fakewa: bad frame", "err", err)
			continue
		}
		node, err := waBinary.Unmarshal(unpacked)
		if err != nil {
			c.log.Warn("fakewa: bad node", "err", err)
			continue
		}
		c.srv.handleNode(c, node)
	}
}

func (c *sock) jidNow() string {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	return c.jid
}

// sendFrame writes one frame: a 3-byte big-endian length and the data, in one
// websocket message.
func (c *sock) sendFrame(data []byte) error {
	if len(data) >= socket.FrameMaxSize {
		return fmt.Errorf("frame of %d bytes is too large", len(data))
	}
	msg := make([]byte, socket.FrameLengthSize+len(data))
	msg[0], msg[1], msg[2] = byte(len(data)>>16), byte(len(data)>>8), byte(len(data))
	copy(msg[socket.FrameLengthSize:], data)
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageBinary, msg)
}

// sendNode encrypts and writes one node.
func (c *sock) sendNode(node waBinary.Node) error {
	payload, err := waBinary.Marshal(node)
	if err != nil {
		return fmt.Errorf("marshal <%s>: %w", node.Tag, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.write == nil {
		return errors.New("send before the handshake finished")
	}
	frame := c.write.Seal(nil, frameIV(c.writeN), payload, nil)
	c.writeN++
	if err := c.sendFrame(frame); err != nil {
		return fmt.Errorf("send <%s>: %w", node.Tag, err)
	}
	return nil
}

// request sends an IQ of the server's and waits for the client's answer.
func (c *sock) request(ctx context.Context, node waBinary.Node) (*waBinary.Node, error) {
	id := node.Attrs["id"].(string)
	ch := make(chan *waBinary.Node, 1)
	c.waitMu.Lock()
	c.waiters[id] = ch
	c.waitMu.Unlock()
	defer func() {
		c.waitMu.Lock()
		delete(c.waiters, id)
		c.waitMu.Unlock()
	}()
	if err := c.sendNode(node); err != nil {
		return nil, err
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, errors.New("socket closed before it answered")
		}
		return resp, nil
	case <-c.ctx.Done():
		return nil, errors.New("socket closed before it answered")
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the companion: %w", ctx.Err())
	}
}

// deliver hands the client's answer to whoever waits for it; false when no one
// does.
func (c *sock) deliver(node *waBinary.Node) bool {
	id, _ := node.Attrs["id"].(string)
	c.waitMu.Lock()
	defer c.waitMu.Unlock()
	ch, ok := c.waiters[id]
	if ok {
		delete(c.waiters, id)
		ch <- node
	}
	return ok
}

// frameReader splits the client's websocket messages into frames. The first
// message starts with the connection header ("WA", 6, dictionary version).
type frameReader struct {
	ws         *websocket.Conn
	buf        []byte
	headerSeen bool
}

func (fr *frameReader) next(ctx context.Context) ([]byte, error) {
	for {
		if len(fr.buf) >= socket.FrameLengthSize {
			n := int(fr.buf[0])<<16 | int(fr.buf[1])<<8 | int(fr.buf[2])
			if len(fr.buf) >= socket.FrameLengthSize+n {
				frame := bytes.Clone(fr.buf[socket.FrameLengthSize : socket.FrameLengthSize+n])
				fr.buf = fr.buf[socket.FrameLengthSize+n:]
				return frame, nil
			}
		}
		typ, data, err := fr.ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		if typ != websocket.MessageBinary {
			continue
		}
		if !fr.headerSeen {
			if !bytes.HasPrefix(data, socket.WAConnHeader) {
				return nil, fmt.Errorf("connection header %x, want %x", data[:min(len(data), 4)], socket.WAConnHeader)
			}
			data = data[len(socket.WAConnHeader):]
			fr.headerSeen = true
		}
		fr.buf = append(fr.buf, data...)
	}
}
