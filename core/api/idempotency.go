package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync"
	"time"

	"warden/core"
)

// Idempotent sends.
//
// A POST of a message with an Idempotency-Key header is done once per API
// key, account and Idempotency-Key: a retry gets the first answer, byte for
// byte, and a retry that arrives while the first is still sending waits for
// it. The keys are kept IdempotencyTTL in memory. That is the decision:
// retries come within seconds or minutes of a lost answer, and memory needs
// no write per send. The known limit: a retry that reaches a restarted
// Warden (or, in a fleet, another node's API) is not recognised and sends
// again.
//
// Only answers after which the message may have gone out are kept: a
// success, a missing ack (504: WhatsApp may have it) and internal errors. A
// refusal before anything was sent (not connected, invalid, rate-limited)
// is forgotten, so that a retry with the same key can succeed later.

// IdempotencyTTL is how long a send's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKey is the longest Idempotency-Key, in bytes.
const MaxIdempotencyKey = 255

// maxIdempotencyEntries bounds the memory the keys take (about 0.5 KiB
// each). It is far above what WhatsApp lets accounts send in a day; when it
// is reached, a send with a new key is refused rather than a kept key
// forgotten, which would let its retry send twice.
const maxIdempotencyEntries = 100_000

type idemKey struct {
	apiKey  string
	account core.AccountID
	key     string
}

// idemEntry is one Idempotency-Key's send: in flight until done is closed,
// then its reply.
type idemEntry struct {
	body [32]byte // SHA-256 of the message, to refuse another under the same key
	done chan struct{}
	rep  *reply // set before done is closed
	at   time.Time
}

type idempotency struct {
	mu sync.Mutex
	// mu guards the following
	entries   map[idemKey]*idemEntry
	lastSweep time.Time
}

// newIdempotency returns an empty memory of Idempotency-Keys.
func newIdempotency() *idempotency {
	return &idempotency{entries: make(map[idemKey]*idemEntry)}
}

// do runs send once for k: the first caller runs it, later ones wait for
// its reply (until ctx ends). A request under the same key with another
// message (request: what identifies it) is refused.
func (c *idempotency) do(ctx context.Context, k idemKey, request []byte, now time.Time, send func() *reply) *reply {
	sum := sha256.Sum256(request)
	for {
		e, first := c.begin(k, sum, now)
		if e == nil {
			return fail(http.StatusServiceUnavailable, "idempotency_full", "Warden remembers too many Idempotency-Keys of the last 24 hours; retry later")
		}
		if e.body != sum {
			return fail(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used for another message; use a new key for each message")
		}
		if first {
			rep := send()
			c.finish(k, e, rep)
			return rep
		}
		select {
		case <-e.done:
			if e.rep != nil {
				return e.rep
			}
			// The first was refused and forgotten: try again.
		case <-ctx.Done():
			return fail(http.StatusServiceUnavailable, "canceled", "the request ended while an earlier one with the same Idempotency-Key was sending")
		}
	}
}

// begin returns the entry of k, and whether it is new: the caller's to run.
// It returns nil when there is no room for a new one.
func (c *idempotency) begin(k idemKey, body [32]byte, now time.Time) (*idemEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now, len(c.entries) >= maxIdempotencyEntries)
	if e := c.entries[k]; e != nil {
		return e, false
	}
	if len(c.entries) >= maxIdempotencyEntries {
		return nil, false
	}
	e := &idemEntry{body: body, done: make(chan struct{}), at: now}
	c.entries[k] = e
	return e, true
}

// finish records the reply of k's send, or forgets k after a refusal.
func (c *idempotency) finish(k idemKey, e *idemEntry, rep *reply) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mayHaveSent(rep.status) {
		e.rep = rep
	} else {
		delete(c.entries, k)
	}
	close(e.done)
}

// mayHaveSent reports whether a send that answered status may have reached
// WhatsApp: anything but a client error.
func mayHaveSent(status int) bool {
	return status < 400 || status >= 500
}

// sweep forgets the finished entries older than IdempotencyTTL, at most
// once a minute unless forced.
func (c *idempotency) sweep(now time.Time, force bool) {
	if !force && now.Sub(c.lastSweep) < time.Minute {
		return
	}
	c.lastSweep = now
	for k, e := range c.entries {
		if e.rep != nil && now.Sub(e.at) > IdempotencyTTL {
			delete(c.entries, k)
		}
	}
}
