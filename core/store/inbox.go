package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// The inbox: the messages accounts received (core.Inbox). Each account has a
// bucket under inbox whose sequence is its last Seq, holding msgs (seq →
// the message) and keys (Message.Key() → seq), so that a redelivered message
// is found without reading the messages. PutMessage goes through the writer:
// the messages that arrive together, from every account, share one commit.

// The buckets of an account's bucket under bucketInbox.
var (
	bucketMsgs = []byte("msgs")
	bucketKeys = []byte("keys")
)

var _ core.Inbox = (*DB)(nil)

// seqPrefix is how every encoded message starts: Seq is Message's first
// field, and encodeMessage writes it as 0 for storeMessage to fill in.
var seqPrefix = []byte(`{"seq":0`)

// PutMessage implements core.Inbox: m is stored in UTC and a nil error means
// it was committed and synced. Concurrent calls share commits. The message of
// an account that does not exist is refused (core.ErrUnknownAccount), so
// that a late message of a deleted account does not bring back its inbox.
// When ctx ends before the commit, the error wraps ctx.Err() and the message
// may still be stored.
func (db *DB) PutMessage(ctx context.Context, m core.Message) (core.Message, bool, error) {
	return db.putMessage(m, func(op func(tx *bolt.Tx) error) error { return db.write(ctx, op) }, nil)
}

// putMessage is PutMessage with the commit of its op given: the writer's, or
// bbolt's Batch, with which BenchmarkPutMessageConcurrent compares it. then,
// when not nil, runs in the same transaction once the message is stored or
// found stored (see PutMessageEvent).
func (db *DB) putMessage(m core.Message, commit func(op func(tx *bolt.Tx) error) error,
	then func(tx *bolt.Tx, stored core.Message) error) (core.Message, bool, error) {
	if err := checkID(m.Account); err != nil {
		return core.Message{}, false, fmt.Errorf("put message: %w", err)
	}
	m.Seq, m.At, m.Received = 0, m.At.UTC(), m.Received.UTC()
	v, err := encodeMessage(m)
	if err != nil {
		return core.Message{}, false, fmt.Errorf("put message %s of %s: %w", m.ID, m.Account, err)
	}
	key := []byte(m.Key())
	var stored core.Message // written by the op before commit returns
	var dup bool
	var refused error
	err = commit(func(tx *bolt.Tx) error {
		// The op may run again when another of its batch fails: it starts afresh.
		stored, dup, refused = m, false, nil
		if tx.Bucket(bucketAccounts).Get([]byte(m.Account)) == nil {
			refused = core.ErrUnknownAccount
			return nil
		}
		old, found, err := findMessage(tx, m.Account, key)
		if err != nil {
			return err
		}
		if found {
			stored, dup = old, true
		} else if stored.Seq, err = storeMessage(tx, m.Account, key, v); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(tx, stored)
	})
	if err == nil {
		err = refused
	}
	if err != nil {
		return core.Message{}, false, fmt.Errorf("put message %s of %s: %w", m.ID, m.Account, err)
	}
	return stored, dup, nil
}

// encodeMessage returns m's stored form, JSON with seq 0. It is done before
// the message goes to the writer, which only sets the seq.
func encodeMessage(m core.Message) ([]byte, error) {
	v, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(v, seqPrefix) {
		return nil, fmt.Errorf("encoded message starts with %.20q, not %q", v, seqPrefix)
	}
	return v, nil
}

// findMessage returns the account's message of key, if it has one.
func findMessage(tx *bolt.Tx, id core.AccountID, key []byte) (m core.Message, found bool, err error) {
	acct := tx.Bucket(bucketInbox).Bucket([]byte(id))
	keys, msgs := inboxKeys(acct), inboxMsgs(acct)
	if keys == nil || msgs == nil {
		return m, false, nil
	}
	k := keys.Get(key)
	switch {
	case k == nil:
		return m, false, nil
	case len(k) != 8:
		return m, false, fmt.Errorf("key %q points at a %d-byte seq: %w", key, len(k), ErrCorrupt)
	}
	v := msgs.Get(k)
	if v == nil {
		return m, false, fmt.Errorf("key %q points at message %d, which is missing: %w", key, keySeq(k), ErrCorrupt)
	}
	m, err = decodeMessage(k, v)
	return m, err == nil, err
}

// storeMessage stores the encoded message v under the account's next seq and
// indexes it under key; it returns the seq.
func storeMessage(tx *bolt.Tx, id core.AccountID, key, v []byte) (uint64, error) {
	b, err := tx.Bucket(bucketInbox).CreateBucketIfNotExists([]byte(id))
	if err != nil {
		return 0, fmt.Errorf("inbox bucket: %w", err)
	}
	msgs, err := b.CreateBucketIfNotExists(bucketMsgs)
	if err != nil {
		return 0, fmt.Errorf("msgs bucket: %w", err)
	}
	keys, err := b.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return 0, fmt.Errorf("keys bucket: %w", err)
	}
	msgs.FillPercent = appendFill
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := msgs.Put(seqKey(seq), withSeq(v, seq)); err != nil {
		return 0, fmt.Errorf("put message %d: %w", seq, err)
	}
	if err := keys.Put(key, seqKey(seq)); err != nil {
		return 0, fmt.Errorf("index message %d: %w", seq, err)
	}
	return seq, nil
}

// withSeq returns the encoded message v with seq in place of the 0 that ends
// its seqPrefix.
func withSeq(v []byte, seq uint64) []byte {
	out := make([]byte, 0, len(v)+20)
	out = strconv.AppendUint(append(out, seqPrefix[:len(seqPrefix)-1]...), seq, 10)
	return append(out, v[len(seqPrefix):]...)
}

// decodeMessage reads the stored message of key k.
func decodeMessage(k, v []byte) (core.Message, error) {
	var m core.Message
	if len(k) != 8 {
		return m, fmt.Errorf("a message has a %d-byte key: %w", len(k), ErrCorrupt)
	}
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("message %d: %w: %w", keySeq(k), ErrCorrupt, err)
	}
	if m.Seq != keySeq(k) {
		return m, fmt.Errorf("message %d holds seq %d: %w", keySeq(k), m.Seq, ErrCorrupt)
	}
	return m, nil
}

// Messages implements core.Inbox: the account's messages after the given
// seq, oldest first, at most limit.
func (db *DB) Messages(ctx context.Context, id core.AccountID, after uint64, limit int) ([]core.Message, error) {
	if after == math.MaxUint64 {
		return nil, nil
	}
	out, err := db.readMessages(ctx, id, limit, func(c *bolt.Cursor) (first, next func() ([]byte, []byte)) {
		return func() ([]byte, []byte) { return c.Seek(seqKey(after + 1)) }, c.Next
	})
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", id, err)
	}
	return out, nil
}

// LastMessages implements core.Inbox: the account's newest messages, at
// most limit, newest last.
func (db *DB) LastMessages(ctx context.Context, id core.AccountID, limit int) ([]core.Message, error) {
	out, err := db.readMessages(ctx, id, limit, func(c *bolt.Cursor) (first, next func() ([]byte, []byte)) {
		return c.Last, c.Prev
	})
	if err != nil {
		return nil, fmt.Errorf("last messages of %s: %w", id, err)
	}
	slices.Reverse(out)
	return out, nil
}

// readMessages decodes at most limit of the account's messages, in the order
// walk's cursor moves in.
func (db *DB) readMessages(ctx context.Context, id core.AccountID, limit int,
	walk func(c *bolt.Cursor) (first, next func() ([]byte, []byte))) ([]core.Message, error) {
	if limit <= 0 || id == "" {
		return nil, nil
	}
	var out []core.Message
	err := db.view(ctx, func(tx *bolt.Tx) error {
		msgs := inboxMsgs(tx.Bucket(bucketInbox).Bucket([]byte(id)))
		if msgs == nil {
			return nil
		}
		first, next := walk(msgs.Cursor())
		for k, v := first(); k != nil && len(out) < limit; k, v = next() {
			m, err := decodeMessage(k, v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// inboxMsgs returns an account's inbox bucket's messages (seq → message),
// nil for none.
func inboxMsgs(acct *bolt.Bucket) *bolt.Bucket {
	if acct == nil {
		return nil
	}
	return acct.Bucket(bucketMsgs)
}

// inboxKeys returns an account's inbox bucket's index (key → seq), nil for
// none.
func inboxKeys(acct *bolt.Bucket) *bolt.Bucket {
	if acct == nil {
		return nil
	}
	return acct.Bucket(bucketKeys)
}

// messageAge returns what the pruner needs of a stored message: its Received
// time, by which it ages, and its key, removed with it.
func messageAge(v []byte) (time.Time, []byte, error) {
	var m core.Message
	if err := json.Unmarshal(v, &m); err != nil {
		return time.Time{}, nil, err
	}
	return m.Received, []byte(m.Key()), nil
}
