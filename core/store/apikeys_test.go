package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
	"warden/core/storesuite"
)

func TestMigration4AddsAPIKeys(t *testing.T) {
	path := fileAt(t, apiKeysSince-1, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAPIKeys) != nil {
			t.Error("the apikeys bucket exists before migration 4")
		}
		return tx.Bucket(bucketAccounts).Put([]byte("a"), []byte(`{"id":"a","name":"Old","created_at":"2025-01-01T00:00:00Z"}`))
	})
	db := openAt(t, path)
	if v := versionOf(t, db); v < apiKeysSince {
		t.Fatalf("version after Open = %d, want at least %d", v, apiKeysSince)
	}
	ctx := context.Background()
	if accts, err := db.Accounts(ctx); err != nil || len(accts) != 1 {
		t.Errorf("Accounts() after migration 4 = %+v, %v; want the old account", accts, err)
	}
	if keys, err := db.APIKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("APIKeys() after migration 4 = %+v, %v; want none", keys, err)
	}
	if err := db.PutAPIKey(ctx, core.APIKey{ID: "k1", Name: "crm", Created: time.Now()}); err != nil {
		t.Errorf("PutAPIKey after migration 4: %v", err)
	}
}

func TestAPIKeySuite(t *testing.T) {
	storesuite.RunAPIKeys(t, func(t *testing.T) storesuite.APIKeyStore { return openTest(t) })
}

// The keys survive a restart.
func TestAPIKeysPersist(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	key := core.APIKey{ID: "bbb", Name: "billing", Hash: []byte{1, 2}, Created: time.Now(), Accounts: []core.AccountID{"a1"}}
	if err := db.PutAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openAt(t, path)
	k, err := db.APIKey(ctx, "bbb")
	if err != nil || k.Name != "billing" || !slices.Equal(k.Hash, key.Hash) || !slices.Equal(k.Accounts, key.Accounts) {
		t.Errorf("APIKey(bbb) after reopen = %+v, %v; want the key stored before", k, err)
	}
}
