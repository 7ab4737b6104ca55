package store

import (
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// maxBatch caps how many requests share one commit.
const maxBatch = 1000

// A writeReq is one request to the writer. op validates everything before its
// first write and may run more than once: when another request of the same
// batch fails, the transaction is rolled back and the rest run again.
type writeReq struct {
	op   func(tx *bolt.Tx) error
	done chan error // buffered 1
}

// write hands op to the writer and waits until it is committed and synced.
// When ctx ends first, the op may still be committed.
func (db *DB) write(ctx context.Context, op func(tx *bolt.Tx) error) error {
	req := &writeReq{op: op, done: make(chan error, 1)}
	select {
	case db.writes <- req:
	case <-db.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w (the write may still be committed)", ctx.Err())
	}
}

// writeLoop is the one writer. It takes a request, adds every request already
// waiting, and commits them together: while one commit syncs, the next batch
// queues up.
func (db *DB) writeLoop() {
	defer db.wg.Done()
	batch := make([]*writeReq, 0, 64)
	for {
		select {
		case req := <-db.writes:
			batch = append(batch[:0], req)
		case <-db.closing:
			return
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case req := <-db.writes:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		db.commit(batch)
		clear(batch)
	}
}

// commit runs the batch in one transaction. A request whose op fails gets its
// error and the others run again without it.
func (db *DB) commit(batch []*writeReq) {
	for len(batch) > 0 {
		failed := -1
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i, r := range batch {
				if err := r.op(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			if err != nil {
				err = fmt.Errorf("commit: %w", err)
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		batch[failed].done <- err
		batch = slices.Delete(batch, failed, failed+1)
	}
}
