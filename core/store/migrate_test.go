package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// fileAt writes a file with only the first n migrations applied, plus what
// fill adds, as an older Warden would have left it.
func fileAt(t *testing.T, n int, fill func(tx *bolt.Tx) error) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), DBFile)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := migrate(tx, migrations[:n], discard); err != nil {
			return err
		}
		if fill != nil {
			return fill(tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func versionOf(t *testing.T, db *DB) int {
	t.Helper()
	var v int
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		v, err = readVersion(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigration1InitialLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := migrate(tx, migrations[:1], discard); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketMeta, bucketAccounts, bucketEvents, bucketSettings} {
			if tx.Bucket(name) == nil {
				t.Errorf("after migration 1, no bucket %s", name)
			}
		}
		if tx.Bucket(bucketLogs) != nil {
			t.Error("migration 1 created the logs bucket, which came with migration 2")
		}
		if v, err := readVersion(tx); err != nil || v != 1 {
			t.Errorf("version after migration 1 = %d, %v; want 1", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file written before logs existed gains the logs tree and keeps its data.
func TestMigration2AddsLogs(t *testing.T) {
	ctx := context.Background()
	path := fileAt(t, 1, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAccounts).Put([]byte("a"), []byte(`{"id":"a","name":"Old","created_at":"2025-01-01T00:00:00Z","auto_start":true}`)); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketEvents).CreateBucket([]byte("a"))
		if err != nil {
			return err
		}
		if err := b.SetSequence(1); err != nil {
			return err
		}
		return b.Put(seqKey(1), []byte(`{"at":"2025-01-01T00:00:00Z","from":"Idle","to":"Connecting","cause":"connect"}`))
	})
	db := openAt(t, path)
	if v := versionOf(t, db); v != schemaVersion {
		t.Errorf("version after Open = %d, want %d", v, schemaVersion)
	}
	accts, err := db.Accounts(ctx)
	if err != nil || len(accts) != 1 || accts[0].Name != "Old" || !accts[0].AutoStart {
		t.Errorf("Accounts() = %+v, %v; want the old account", accts, err)
	}
	evs, err := db.Events(ctx, "a", 10)
	if err != nil || len(evs) != 1 || evs[0].To != core.Connecting {
		t.Errorf("Events(a) = %+v, %v; want the old event", evs, err)
	}
	if err := db.AppendLogs(ctx, "a", LogLine{At: time.Now(), Level: slog.LevelInfo, Message: "after upgrade"}); err != nil {
		t.Errorf("AppendLogs after migration 2: %v", err)
	}
	if err := db.AppendEvents(ctx, core.Event{Account: "a", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if evs, _ := db.Events(ctx, "a", 10); len(evs) != 2 || evs[1].Seq != 2 {
		t.Errorf("after the upgrade, a new event got seqs %v, want [1 2]", seqs(evs))
	}
}

func TestMigrateRunsPendingInOrder(t *testing.T) {
	var ran []int
	list := make([]migration, 4)
	for i := range list {
		v := i + 1
		list[i] = migration{v, fmt.Sprint("m", v), func(tx *bolt.Tx) error {
			ran = append(ran, v)
			_, err := tx.CreateBucketIfNotExists(bucketMeta)
			return err
		}}
	}
	path := filepath.Join(t.TempDir(), DBFile)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	run := func(list []migration) error {
		return bdb.Update(func(tx *bolt.Tx) error { return migrate(tx, list, discard) })
	}
	if err := run(list[:2]); err != nil {
		t.Fatal(err)
	}
	if err := run(list); err != nil {
		t.Fatal(err)
	}
	if err := run(list); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ran) != "[1 2 3 4]" {
		t.Errorf("migrations ran %v, want [1 2 3 4], each once", ran)
	}

	// A failing migration rolls back with everything before it.
	boom := errors.New("boom")
	list = append(list,
		migration{5, "m5", func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("five")); return err }},
		migration{6, "m6", func(tx *bolt.Tx) error { return boom }})
	if err := run(list); !errors.Is(err, boom) {
		t.Fatalf("migrate with a failing migration = %v, want boom", err)
	}
	bdb.View(func(tx *bolt.Tx) error {
		if v, _ := readVersion(tx); v != 4 {
			t.Errorf("version after a failed migration = %d, want 4", v)
		}
		if tx.Bucket([]byte("five")) != nil {
			t.Error("migration 5 was kept although migration 6 failed in the same Open")
		}
		return nil
	})
}

func TestOpenNewerSchema(t *testing.T) {
	path := fileAt(t, len(migrations), func(tx *bolt.Tx) error { return writeVersion(tx, schemaVersion+1) })
	_, err := Open(path, WithLogger(discard))
	if !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open of a newer file = %v, want ErrNewerSchema", err)
	}
}
