package store

import (
	"bytes"
	"context"
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

// prune applies the retention to every account's timeline.
func (db *DB) prune() {
	r := db.currentRetention()
	cutoff := db.now().Add(-r.MaxAge)
	var ids []core.AccountID
	err := db.view(context.Background(), func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEvents).ForEach(func(k, _ []byte) error {
			ids = append(ids, core.AccountID(k))
			return nil
		})
	})
	if err != nil {
		if !db.closed() {
			db.log.Error("pruning events", "err", err)
		}
		return
	}
	for _, id := range ids {
		if db.closed() {
			return
		}
		n, err := db.pruneAccount(id, r, cutoff)
		if err != nil {
			if !db.closed() {
				db.log.Error("pruning events", "account", id, "err", err)
			}
			return
		}
		if n > 0 {
			db.log.Info("pruned old events", "account", id, "deleted", n)
		}
	}
}

// pruneAccount deletes the account's events beyond r.MaxEvents and those
// before cutoff, oldest first, keeping the newest event in any case. The keys
// are read in a read transaction and deleted by the writer, pruneChunk at a time.
func (db *DB) pruneAccount(id core.AccountID, r Retention, cutoff time.Time) (deleted int, err error) {
	ctx := context.Background()
	// keep is the oldest key the count allows; nil when the count is within the limit.
	var keep []byte
	err = db.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket([]byte(id))
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
		var keys [][]byte
		err := db.view(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents).Bucket([]byte(id))
			if b == nil {
				return nil
			}
			newest, _ := b.Cursor().Last()
			c := b.Cursor()
			for k, v := c.First(); k != nil && len(keys) < pruneChunk; k, v = c.Next() {
				if bytes.Equal(k, newest) {
					break
				}
				if keep != nil && bytes.Compare(k, keep) < 0 {
					keys = append(keys, bytes.Clone(k))
					continue
				}
				var rec eventRecord
				if r.MaxAge <= 0 || decodeEvent(v, &rec) != nil || !rec.At.Before(cutoff) {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return deleted, err
		}
		err = db.write(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEvents).Bucket([]byte(id))
			if b == nil {
				return nil // the account was deleted meanwhile
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
		deleted += len(keys)
		if len(keys) < pruneChunk {
			return deleted, nil
		}
	}
}
