package fakewa

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
)

// A client that closes its websocket properly (whatsmeow's Disconnect) sends a
// close frame and waits for the server's echo before it returns; a caller may
// then dial again at once. The websocket library writes the echo before it
// tells the server's read loop, so the server would still count the old socket
// as logged in while the new one logs in, and report two clients where there was
// only ever one at a time. To count exactly, the server watches the raw bytes
// the client sends and ends the session the moment a close frame arrives,
// strictly before the echo, or the moment the connection reads its end.

// closeWatchWriter hands the websocket library a connection whose incoming
// frames are watched.
type closeWatchWriter struct {
	http.ResponseWriter
	onClose func()
}

// Hijack wraps the hijacked connection so that every byte the client sends,
// including any already buffered, passes the watcher.
func (w *closeWatchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("response writer %T cannot hijack", w.ResponseWriter)
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	watched := &watchedConn{
		Conn:    conn,
		r:       io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), conn),
		watcher: frameWatcher{onClose: w.onClose},
	}
	brw.Reader.Reset(watched)
	return watched, brw, nil
}

// watchedConn is a net.Conn whose reads go through a frameWatcher.
type watchedConn struct {
	net.Conn
	r       io.Reader
	watcher frameWatcher
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.watcher.feed(p[:n])
	if err != nil {
		c.watcher.end() // the client is gone without a close frame
	}
	return n, err
}

// frameWatcher follows the framing of a client's websocket byte stream (RFC
// 6455, section 5.2) and calls onClose once, when a close frame's header
// arrives. It looks at headers only and skips payloads.
type frameWatcher struct {
	onClose func()
	header  []byte // the current frame header, as far as it arrived
	skip    uint64 // payload bytes still to skip
	closed  bool
}

const opClose = 0x8

// end reports the end of the stream, which closes the session too.
func (fw *frameWatcher) end() {
	if !fw.closed {
		fw.closed = true
		fw.onClose()
	}
}

func (fw *frameWatcher) feed(p []byte) {
	for len(p) > 0 {
		if fw.skip > 0 {
			n := min(uint64(len(p)), fw.skip)
			fw.skip -= n
			p = p[n:]
			continue
		}
		fw.header = append(fw.header, p[0])
		p = p[1:]
		if len(fw.header) < frameHeaderLen(fw.header) {
			continue
		}
		if fw.header[0]&0x0f == opClose {
			fw.end()
		}
		fw.skip = framePayloadLen(fw.header)
		fw.header = fw.header[:0]
	}
}

// frameHeaderLen returns the length of the header that starts with h, as far as
// h tells it (at least 2).
func frameHeaderLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 { // masked, as every client frame is
		n += 4
	}
	return n
}

func framePayloadLen(h []byte) uint64 {
	switch n := h[1] & 0x7f; n {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(n)
	}
}
