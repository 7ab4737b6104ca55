package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// pruneChunk caps the deletions that ride in one commit of the writer.
const pruneChunk = 1000

// firstPrune is the longest wait from Open to the first pruning.
const firstPrune = 30 * time.Second

// pruneLoop prunes every timeline shortly after Open (or ReleaseWrites),
// then every interval, and whenever the retention changes, until Close.
func (db *DB) pruneLoop(interval time.Duration) {
	defer db.wg.Done()
	select {
	case <-db.released:
	case <-db.closing:
		return
	}
	t := time.NewTimer(min(interval, firstPrune))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			db.prune()
			t.Reset(interval)
		case <-db.pruneNow:
			db.prune()
		case <-db.closing:
			return
		}
	}
}

func (db *DB) currentRetention() Retention {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.retention
}

// setRetention applies a new retention and wakes the pruner if it changed.
func (db *DB) setRetention(r Retention) {
	db.mu.Lock()
	changed := db.retention != r
	db.retention = r
	db.mu.Unlock()
	if changed {
		select {
		case db.pruneNow <- struct{}{}:
		default: // a run is already due
		}
	}
}

// A series is a tree of per-account buckets of seq-keyed records that the
// pruner keeps within a retention: the timelines and the inboxes.
type series struct {
	what string // in logs: "events", "messages"
	root []byte // the bucket holding one bucket per account
	// records returns an account's seq → record bucket (nil for none).
	records func(acct *bolt.Bucket) *bolt.Bucket
	// index returns an account's bucket of keys → seq that index the
	// records, removed with them; nil for none.
	index func(acct *bolt.Bucket) *bolt.Bucket
	// decode returns a record's time, by which it ages, and its key in
	// index (nil without one).
	decode func(v []byte) (at time.Time, key []byte, err error)
}

// timelines are the accounts' events, indexed by nothing.
var timelines = series{
	what:    "events",
	root:    bucketEvents,
	records: func(acct *bolt.Bucket) *bolt.Bucket { return acct },
	index:   func(*bolt.Bucket) *bolt.Bucket { return nil },
	decode: func(v []byte) (time.Time, []byte, error) {
		var rec eventRecord
		err := decodeEvent(v, &rec)
		return rec.At, nil, err
	},
}

// inboxes are the accounts' messages, indexed by their keys.
var inboxes = series{what: "messages", root: bucketInbox, records: inboxMsgs, index: inboxKeys, decode: messageAge}

// prune applies the retentions to every account's timeline and inbox.
func (db *DB) prune() {
	db.pruneSeries(timelines, db.currentRetention())
	db.pruneSeries(inboxes, db.messageRetention)
}

// pruneSeries applies r to every account's bucket of s.
func (db *DB) pruneSeries(s series, r Retention) {
	cutoff := db.now().Add(-r.MaxAge)
	var ids []core.AccountID
	err := db.view(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(s.root).ForEachBucket(func(k []byte) error {
			ids = append(ids, core.AccountID(k))
			return nil
		})
	})
	if err != nil {
		if !db.closed() {
			db.log.Error("pruning "+s.what, "err", err)
		}
		return
	}
	for _, id := range ids {
		if db.closed() {
			return
		}
		n, err := db.pruneAccount(s, id, r, cutoff)
		if err != nil {
			if !db.closed() {
				db.log.Error("pruning "+s.what, "account", id, "err", err)
			}
			return
		}
		if n > 0 {
			db.log.Info("pruned old "+s.what, "account", id, "deleted", n)
		}
	}
}

// buckets returns the account's bucket of s's records and its index, nil
// for none.
func (s series) buckets(tx *bolt.Tx, id core.AccountID) (records, index *bolt.Bucket) {
	acct := tx.Bucket(s.root).Bucket([]byte(id))
	if acct == nil {
		return nil, nil
	}
	return s.records(acct), s.index(acct)
}

// pruneAccount deletes the account's records of s beyond r.MaxEvents and
// those before cutoff, oldest first, keeping the newest record in any case.
// The keys are read in a read transaction and deleted by the writer,
// pruneChunk at a time.
func (db *DB) pruneAccount(s series, id core.AccountID, r Retention, cutoff time.Time) (deleted int, err error) {
	ctx := context.Background()
	// keep is the oldest key the count allows; nil when the count is within the limit.
	var keep []byte
	err = db.view(ctx, func(tx *bolt.Tx) error {
		b, _ := s.buckets(tx, id)
		if b == nil || r.MaxEvents <= 0 {
			return nil
		}
		c := b.Cursor()
		first, _ := c.First()
		last, _ := c.Last()
		if first == nil || keySeq(last)-keySeq(first) < uint64(r.MaxEvents) {
			return nil // fewer keys than the span allows: nothing to count
		}
		k := last
		for i := 1; i < r.MaxEvents && k != nil; i++ {
			k, _ = c.Prev()
		}
		if k != nil {
			keep = bytes.Clone(k)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for {
		chunk, err := db.doomedChunk(s, id, r, cutoff, keep)
		if err != nil || len(chunk) == 0 {
			return deleted, err
		}
		if err := db.write(ctx, func(tx *bolt.Tx) error { return s.delete(tx, id, chunk) }); err != nil {
			return deleted, err
		}
		deleted += len(chunk)
		if len(chunk) < pruneChunk {
			return deleted, nil
		}
	}
}

// doomed is a record the pruner deletes: its seq key and its index key.
type doomed struct{ seq, key []byte }

// doomedChunk returns the account's next records to delete, at most
// pruneChunk: the oldest, those below keep and then those before cutoff,
// never the newest.
func (db *DB) doomedChunk(s series, id core.AccountID, r Retention, cutoff time.Time, keep []byte) ([]doomed, error) {
	var chunk []doomed
	err := db.view(context.Background(), func(tx *bolt.Tx) error {
		b, index := s.buckets(tx, id)
		if b == nil {
			return nil
		}
		newest, _ := b.Cursor().Last()
		c := b.Cursor()
		for k, v := c.First(); k != nil && len(chunk) < pruneChunk; k, v = c.Next() {
			if bytes.Equal(k, newest) {
				break
			}
			counted := keep != nil && bytes.Compare(k, keep) < 0
			var at time.Time
			var key []byte
			if !counted || index != nil {
				var err error
				if at, key, err = s.decode(v); err != nil {
					break // a damaged record stays, and so do the newer ones
				}
			}
			if !counted && (r.MaxAge <= 0 || !at.Before(cutoff)) {
				break
			}
			chunk = append(chunk, doomed{seq: bytes.Clone(k), key: key})
		}
		return nil
	})
	return chunk, err
}

// delete deletes the account's records of the chunk, and their index keys
// that still point at them.
func (s series) delete(tx *bolt.Tx, id core.AccountID, chunk []doomed) error {
	b, index := s.buckets(tx, id)
	if b == nil {
		return nil // the account was deleted meanwhile
	}
	for _, d := range chunk {
		if err := b.Delete(d.seq); err != nil {
			return fmt.Errorf("delete %s %d of %s: %w", s.what, keySeq(d.seq), id, err)
		}
		if index == nil || d.key == nil || !bytes.Equal(index.Get(d.key), d.seq) {
			continue
		}
		if err := index.Delete(d.key); err != nil {
			return fmt.Errorf("delete the key of %s %d of %s: %w", s.what, keySeq(d.seq), id, err)
		}
	}
	return nil
}
