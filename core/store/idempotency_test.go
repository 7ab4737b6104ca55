package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
	"warden/core/storesuite"
)

func TestIdempotencySuite(t *testing.T) {
	storesuite.RunIdempotency(t, func(t *testing.T) storesuite.IdempotencyStore { return openTest(t) })
}

// A file of schema 5 gains the bucket of the kept answers and keeps its data.
func TestMigration6AddsIdempotency(t *testing.T) {
	path := fileAt(t, idempotencySince-1, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketIdempotency) != nil {
			t.Error("the idempotency bucket exists before migration 6")
		}
		return tx.Bucket(bucketAccounts).Put([]byte("a"), []byte(`{"id":"a","name":"Old","created_at":"2025-01-01T00:00:00Z"}`))
	})
	db := openAt(t, path)
	if v := versionOf(t, db); v < idempotencySince {
		t.Fatalf("version after Open = %d, want at least %d", v, idempotencySince)
	}
	ctx := context.Background()
	if accts, err := db.Accounts(ctx); err != nil || len(accts) != 1 {
		t.Errorf("Accounts() after migration 6 = %+v, %v; want the old account", accts, err)
	}
	if err := db.PutIdempotentReply(ctx, "k", core.IdempotentReply{Status: 200, At: time.Now()}); err != nil {
		t.Errorf("PutIdempotentReply after migration 6: %v", err)
	}
}

// A kept answer survives a restart: that is what it is for.
func TestIdempotentReplyPersists(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	rep := core.IdempotentReply{Request: []byte{9}, Status: 200, ContentType: "application/json", Body: []byte(`{"id":"M1"}`), At: time.Now()}
	if err := db.PutIdempotentReply(ctx, "k", rep); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got, found, err := openAt(t, path).IdempotentReply(ctx, "k")
	if err != nil || !found || string(got.Body) != `{"id":"M1"}` || got.Status != 200 {
		t.Errorf("after a restart IdempotentReply = %+v, %v, %v; want the answer kept", got, found, err)
	}
}
