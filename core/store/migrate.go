package store

import (
	"encoding/binary"
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
)

// A migration brings the file from schema version-1 to version. Migrations run
// in order, all in Open's one Update, each followed by the new version number.
type migration struct {
	version int
	name    string
	migrate func(tx *bolt.Tx) error
}

// migrations is the schema's history. Append only; never edit a released one.
var migrations = []migration{
	{1, "initial layout: meta, accounts, events, settings", createBuckets(bucketMeta, bucketAccounts, bucketEvents, bucketSettings)},
	{2, "log history: logs/<account>", createBuckets(bucketLogs)},
	{inboxSince, "inbox: inbox/<account>/{msgs,keys}", createBuckets(bucketInbox)},
	{apiKeysSince, "HTTP API keys: apikeys", createBuckets(bucketAPIKeys)},
	{outboxSince, "outbox: outbox/{events,ids,accounts,cursors,hooks,lanes,failed}", createOutbox},
	{idempotencySince, "the HTTP API's answers to Idempotency-Keys: idempotency", createBuckets(bucketIdempotency)},
}

// inboxSince is the schema version that brought the inbox.
const inboxSince = 3

// schemaVersion is the version this Warden writes.
var schemaVersion = migrations[len(migrations)-1].version

func createBuckets(names ...[]byte) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		for _, n := range names {
			if _, err := tx.CreateBucketIfNotExists(n); err != nil {
				return fmt.Errorf("create bucket %s: %w", n, err)
			}
		}
		return nil
	}
}

// migrate runs the migrations the file has not seen yet.
func migrate(tx *bolt.Tx, list []migration, log *slog.Logger) error {
	version, err := readVersion(tx)
	if err != nil {
		return err
	}
	last := list[len(list)-1].version
	if version > last {
		return fmt.Errorf("schema version %d, this Warden knows up to %d: %w", version, last, ErrNewerSchema)
	}
	for _, m := range list {
		if m.version <= version {
			continue
		}
		if err := m.migrate(tx); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if err := writeVersion(tx, m.version); err != nil {
			return err
		}
		log.Info("store migrated", "version", m.version, "migration", m.name)
		version = m.version
	}
	return nil
}

// readVersion returns the file's schema version: 0 for a new file. A file
// with buckets but no meta bucket is not Warden's.
func readVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if k, _ := tx.Cursor().First(); k != nil {
			return 0, fmt.Errorf("no %q bucket, found %q: %w", bucketMeta, k, ErrCorrupt)
		}
		return 0, nil
	}
	v := meta.Get(keyVersion)
	if len(v) != 8 {
		return 0, fmt.Errorf("schema version is %d bytes long: %w", len(v), ErrCorrupt)
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

func writeVersion(tx *bolt.Tx, version int) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketMeta, err)
	}
	if err := meta.Put(keyVersion, seqKey(uint64(version))); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	return nil
}
