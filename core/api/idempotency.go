package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
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
// it (in memory: the request in flight is this process's). The answers are
// kept IdempotencyTTL in the IdempotencyStore (core/store's bbolt file, or a
// fleet's PostgreSQL), so that a retry that reaches a restarted Warden, or
// another node of the fleet, still gets the first answer and sends nothing.
// Without a store they are kept in memory only.
//
// Only answers after which the message may have gone out are kept: a
// success, a missing ack (504: WhatsApp may have it) and internal errors. A
// refusal before anything was sent (not connected, invalid, rate-limited)
// is forgotten, so that a retry with the same key can succeed later. When
// the store cannot be read, the send is refused (503) rather than risk
// sending twice; when the answer cannot be written, it is kept in memory
// and the failure logged.

// IdempotencyStore keeps the answers to Idempotency-Keys durably.
// core/store implements it on bbolt, and core/store/postgres for a fleet.
type IdempotencyStore interface {
	// PutIdempotentReply keeps the answer under key, replacing any.
	PutIdempotentReply(ctx context.Context, key string, rep core.IdempotentReply) error
	// IdempotentReply returns the answer kept under key, and whether
	// there is one.
	IdempotentReply(ctx context.Context, key string) (core.IdempotentReply, bool, error)
	// PruneIdempotentReplies deletes the answers made before before (a
	// bounded chunk at a time) and says how many it deleted.
	PruneIdempotentReplies(ctx context.Context, before time.Time) (int, error)
}

// idempotencyPruneEvery is how often the store's expired answers are
// pruned.
const idempotencyPruneEvery = time.Hour

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

// stored is the name of k's answer in the store: a hash, so that any
// Idempotency-Key (up to MaxIdempotencyKey bytes) makes a short name.
func (k idemKey) stored() string {
	sum := sha256.Sum256([]byte(k.apiKey + "\x00" + string(k.account) + "\x00" + k.key))
	return hex.EncodeToString(sum[:])
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
	store IdempotencyStore // nil: memory only
	log   *slog.Logger

	mu sync.Mutex
	// mu guards the following
	entries   map[idemKey]*idemEntry
	lastSweep time.Time
	lastPrune time.Time
}

// newIdempotency returns a memory of Idempotency-Keys over store (nil:
// memory only).
func newIdempotency(store IdempotencyStore, log *slog.Logger) *idempotency {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &idempotency{store: store, log: log, entries: make(map[idemKey]*idemEntry)}
}

// do runs send once for k: the first caller runs it, later ones wait for
// its reply (until ctx ends). A request under the same key with another
// message (request: what identifies it) is refused.
func (c *idempotency) do(ctx context.Context, k idemKey, request []byte, now time.Time, send func() *reply) *reply {
	sum := sha256.Sum256(request)
	c.prune(ctx, now)
	for {
		e, first := c.begin(k, sum, now)
		if e == nil {
			return fail(http.StatusServiceUnavailable, "idempotency_full", "Warden remembers too many Idempotency-Keys of the last 24 hours; retry later")
		}
		if e.body != sum {
			return reused()
		}
		if first {
			return c.run(ctx, k, e, now, send)
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

// reused is the refusal of another message under a used key.
func reused() *reply {
	return fail(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used for another message; use a new key for each message")
}

// run is the first caller's: it answers from the store when an earlier
// process kept an answer for k, else sends and keeps the answer.
func (c *idempotency) run(ctx context.Context, k idemKey, e *idemEntry, now time.Time, send func() *reply) *reply {
	if c.store != nil {
		kept, found, err := c.store.IdempotentReply(ctx, k.stored())
		switch {
		case err != nil:
			c.log.Error("api: reading the answers to Idempotency-Keys failed; the send is refused rather than risk sending twice", "err", err)
			rep := fail(http.StatusServiceUnavailable, "idempotency_unavailable", "Warden could not read its record of Idempotency-Keys, so it did not send; retry later")
			c.finish(k, e, rep, false)
			return rep
		case found && now.Sub(kept.At) <= IdempotencyTTL:
			if !bytes.Equal(kept.Request, e.body[:]) {
				rep := reused()
				c.finish(k, e, rep, false)
				return rep
			}
			rep := &reply{status: kept.Status, contentType: kept.ContentType, body: kept.Body, retryAfter: kept.RetryAfter}
			c.finish(k, e, rep, true)
			return rep
		}
	}
	rep := send()
	keep := mayHaveSent(rep.status)
	if keep && c.store != nil {
		kept := core.IdempotentReply{Request: e.body[:], Status: rep.status, ContentType: rep.contentType, Body: rep.body, RetryAfter: rep.retryAfter, At: now}
		if err := c.store.PutIdempotentReply(context.WithoutCancel(ctx), k.stored(), kept); err != nil {
			c.log.Error("api: keeping the answer to an Idempotency-Key failed; it is kept in memory until Warden stops", "err", err)
		}
	}
	c.finish(k, e, rep, keep)
	return rep
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

// finish records the reply of k's send (keep), or forgets k after a
// refusal. The memory keeps the reply too (the store may have failed to);
// a later retry is answered from it or from the store.
func (c *idempotency) finish(k idemKey, e *idemEntry, rep *reply, keep bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if keep {
		e.rep = rep
	} else {
		delete(c.entries, k)
	}
	close(e.done)
}

// prune deletes the store's expired answers, at most once an hour.
func (c *idempotency) prune(ctx context.Context, now time.Time) {
	if c.store == nil {
		return
	}
	c.mu.Lock()
	due := now.Sub(c.lastPrune) >= idempotencyPruneEvery
	if due {
		c.lastPrune = now
	}
	c.mu.Unlock()
	if !due {
		return
	}
	if _, err := c.store.PruneIdempotentReplies(context.WithoutCancel(ctx), now.Add(-IdempotencyTTL)); err != nil {
		c.log.Warn("api: pruning the expired answers to Idempotency-Keys failed; it is tried again in an hour", "err", err)
	}
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
