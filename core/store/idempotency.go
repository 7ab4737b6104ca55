package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// This file keeps the HTTP API's answers to requests with an
// Idempotency-Key (core/api.IdempotencyStore): one JSON record per key in
// the idempotency bucket, so that a retry after a restart gets the first
// answer. The API names each record by a hash of the API key, the account
// and the Idempotency-Key.

// bucketIdempotency holds the answers; migration idempotencySince creates it.
var bucketIdempotency = []byte("idempotency")

// idempotencySince is the schema version that brought the kept answers.
const idempotencySince = 6

// maxIdempotencyPrune bounds the answers one prune deletes, so that one
// write transaction stays short.
const maxIdempotencyPrune = 10_000

// PutIdempotentReply keeps the answer under key, replacing any.
func (db *DB) PutIdempotentReply(ctx context.Context, key string, rep core.IdempotentReply) error {
	if key == "" {
		return fmt.Errorf("keep an idempotent answer: an empty key")
	}
	rep.At = rep.At.UTC()
	v, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("keep an idempotent answer: %w", err)
	}
	err = db.write(ctx, func(tx *bolt.Tx) error {
		b, err := idempotencyBucket(tx)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	})
	if err != nil {
		return fmt.Errorf("keep an idempotent answer: %w", err)
	}
	return nil
}

// IdempotentReply returns the answer kept under key, and whether there is
// one.
func (db *DB) IdempotentReply(ctx context.Context, key string) (core.IdempotentReply, bool, error) {
	var rep core.IdempotentReply
	found := false
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b, err := idempotencyBucket(tx)
		if err != nil {
			return err
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(v, &rep); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return core.IdempotentReply{}, false, fmt.Errorf("read an idempotent answer: %w", err)
	}
	return rep, found, nil
}

// PruneIdempotentReplies deletes the answers made before before (at most a
// bounded chunk) and says how many it deleted.
func (db *DB) PruneIdempotentReplies(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		b, err := idempotencyBucket(tx)
		if err != nil {
			return err
		}
		var doomed [][]byte
		err = b.ForEach(func(k, v []byte) error {
			var rep struct {
				At time.Time `json:"at"`
			}
			// One that does not decode is useless to a retry: it goes too.
			if json.Unmarshal(v, &rep) != nil || rep.At.Before(before) {
				if len(doomed) < maxIdempotencyPrune {
					doomed = append(doomed, append([]byte(nil), k...))
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune the idempotent answers: %w", err)
	}
	return n, nil
}

// idempotencyBucket returns the idempotency bucket; missing, the file is
// damaged.
func idempotencyBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketIdempotency)
	if b == nil {
		return nil, fmt.Errorf("no %q bucket: %w", bucketIdempotency, ErrCorrupt)
	}
	return b, nil
}

// checkIdempotency checks that a file of a schema with the kept answers has
// their bucket.
func checkIdempotency(tx *bolt.Tx, version int) error {
	if version >= idempotencySince && tx.Bucket(bucketIdempotency) == nil {
		return fmt.Errorf("schema version %d and no %q bucket", version, bucketIdempotency)
	}
	return nil
}
