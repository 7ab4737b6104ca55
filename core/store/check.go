package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"warden/core"
)

// checkFile opens an existing, non-empty file read-only and checks it is a
// sound Warden database, without writing to it. bbolt panics, or faults on
// pages past the end of a truncated file, when it meets damage; both are caught
// here and reported as ErrCorrupt.
func checkFile(path string, lockTimeout time.Duration) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(path, fmt.Errorf("reading it failed: %v", r))
		}
	}()

	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: lockTimeout, PreLoadFreelist: true})
	if err != nil {
		return err
	}
	defer bdb.Close()

	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	return bdb.View(func(tx *bolt.Tx) error {
		if want := tx.Size(); info.Size() < want {
			return corrupt(path, fmt.Errorf("truncated: %d bytes, the database needs %d", info.Size(), want))
		}
		prefetch(path, tx.Size())
		if err := checkLayout(tx); err != nil {
			return corrupt(path, err)
		}
		if err := checkRecords(tx); err != nil {
			return corrupt(path, err)
		}
		return nil
	})
}

// checkRecords decodes what a start reads: the schema version, every
// account, and the last event of every timeline, so that a damaged record is
// found here, before anything writes, rather than when the accounts load. It
// checks the inbox tree too (checkInbox). The settings and the saved web
// version are not checked: one that does not decode is read as its default.
func checkRecords(tx *bolt.Tx) error {
	if tx.Bucket(bucketMeta) == nil {
		return nil // a new store, checked by checkLayout
	}
	version, err := readVersion(tx)
	if err != nil {
		return err
	}
	if err := checkIdempotency(tx, version); err != nil {
		return err
	}
	if err := checkOutbox(tx, version); err != nil {
		return err
	}
	if err := checkInbox(tx, version); err != nil {
		return err
	}
	if b := tx.Bucket(bucketAccounts); b != nil {
		err := b.ForEach(func(k, v []byte) error {
			var a core.Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q does not decode: %w", k, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	events := tx.Bucket(bucketEvents)
	if events == nil {
		return nil
	}
	return events.ForEachBucket(func(id []byte) error {
		k, v := events.Bucket(id).Cursor().Last()
		if k == nil {
			return nil
		}
		var r eventRecord
		if len(k) != 8 {
			return fmt.Errorf("the last event of account %q has a %d-byte key", id, len(k))
		}
		if err := decodeEvent(v, &r); err != nil {
			return fmt.Errorf("the last event of account %q (%d) does not decode: %w", id, keySeq(k), err)
		}
		return nil
	})
}

// checkOutbox checks that a file of a schema with the outbox has its
// buckets, which every outbox read and write relies on.
func checkOutbox(tx *bolt.Tx, version int) error {
	if version < outboxSince {
		return nil // the migration creates them
	}
	root := tx.Bucket(bucketOutbox)
	if root == nil {
		return fmt.Errorf("schema version %d and no %q bucket", version, bucketOutbox)
	}
	for _, n := range outboxBuckets {
		if root.Bucket(n) == nil {
			return fmt.Errorf("schema version %d and no %q bucket in %q", version, n, bucketOutbox)
		}
	}
	return nil
}

// checkInbox checks the shape PutMessage relies on: a file of a schema with
// the inbox has the inbox bucket, each of its accounts' buckets holds msgs
// and keys, and each account's newest message decodes.
func checkInbox(tx *bolt.Tx, version int) error {
	inbox := tx.Bucket(bucketInbox)
	if inbox == nil {
		if version >= inboxSince {
			return fmt.Errorf("schema version %d and no %q bucket", version, bucketInbox)
		}
		return nil // the migration creates it
	}
	return inbox.ForEach(func(id, _ []byte) error {
		acct := inbox.Bucket(id)
		msgs, keys := inboxMsgs(acct), inboxKeys(acct)
		if msgs == nil || keys == nil {
			return fmt.Errorf("the inbox of account %q has no %q and %q buckets", id, bucketMsgs, bucketKeys)
		}
		k, v := msgs.Cursor().Last()
		if k == nil {
			return nil
		}
		if _, err := decodeMessage(k, v); err != nil {
			return fmt.Errorf("the last message of account %q does not decode: %w", id, err)
		}
		return nil
	})
}

// prefetch reads the first n bytes of the file in large sequential reads, so
// that the walk of checkLayout finds its pages in the page cache instead of
// faulting them in one by one: on a cold cache, 0.3 s instead of 3.6 s for a
// store of a million events. It is only an optimisation; errors are ignored.
func prefetch(path string, n int64) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n > 0 {
		k, err := f.Read(buf[:min(int64(len(buf)), n)])
		n -= int64(k)
		if err != nil {
			return
		}
	}
}

// checkLayout checks the root buckets, then walks every bucket to its last
// key, which reads every branch and leaf page in use: damage anywhere shows
// here, where it is caught, rather than in a later read.
func checkLayout(tx *bolt.Tx) error {
	if tx.Bucket(bucketMeta) == nil {
		// A bbolt file with buckets but no meta bucket belongs to someone else;
		// one without buckets is a store whose first write never happened.
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("no %q bucket, found %q", bucketMeta, k)
		}
		return nil
	}
	return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, string(name)) })
}

func walk(b *bolt.Bucket, path string) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			continue
		}
		nested := b.Bucket(k)
		if nested == nil {
			return fmt.Errorf("bucket %s/%q is unreadable", path, k)
		}
		if err := walk(nested, path+"/"+string(k)); err != nil {
			return err
		}
	}
	return nil
}

// openBolt opens the file with bbolt and maps its failures to ErrLocked and
// ErrCorrupt.
func openBolt(path string, o *bolt.Options) (bdb *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			bdb, err = nil, corrupt(path, fmt.Errorf("opening it failed: %v", r))
		}
	}()
	bdb, err = bolt.Open(path, 0o600, o)
	var pathErr *fs.PathError
	switch {
	case err == nil:
		return bdb, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("another Warden is using the data directory %s (waited %s for %s): %w",
			filepath.Dir(path), o.Timeout, filepath.Base(path), ErrLocked)
	case errors.As(err, &pathErr):
		return nil, fmt.Errorf("open store: %w", err)
	default:
		return nil, corrupt(path, err)
	}
}

func corrupt(path string, cause error) error {
	return fmt.Errorf("open %s: %w: %w", path, ErrCorrupt, cause)
}
