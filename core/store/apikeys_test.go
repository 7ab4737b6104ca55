package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
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

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	second := core.APIKey{ID: "bbb", Name: "billing", Hash: []byte{1, 2}, Created: t0.Add(time.Minute), ReadOnly: true, Accounts: []core.AccountID{"a1"}}
	first := core.APIKey{ID: "zzz", Name: "crm", Hash: []byte{3, 4}, Created: t0}
	for _, k := range []core.APIKey{second, first} {
		if err := db.PutAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := db.APIKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "zzz" || keys[1].ID != "bbb" {
		t.Fatalf("APIKeys() = %+v, %v; want zzz then bbb, oldest first", keys, err)
	}
	if _, err := db.APIKey(ctx, "nope"); !errors.Is(err, core.ErrUnknownAPIKey) {
		t.Errorf("APIKey(nope) error = %v, want ErrUnknownAPIKey", err)
	}
	if err := db.RevokeAPIKey(ctx, "nope", t0); !errors.Is(err, core.ErrUnknownAPIKey) {
		t.Errorf("RevokeAPIKey(nope) error = %v, want ErrUnknownAPIKey", err)
	}
	if err := db.TouchAPIKey(ctx, "nope", t0); err != nil {
		t.Errorf("TouchAPIKey(nope) = %v, want nil: nothing to record", err)
	}

	used := t0.Add(time.Hour)
	if err := db.TouchAPIKey(ctx, "bbb", used); err != nil {
		t.Fatal(err)
	}
	revoked := t0.Add(2 * time.Hour)
	for _, at := range []time.Time{revoked, revoked.Add(time.Hour)} {
		if err := db.RevokeAPIKey(ctx, "bbb", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.TouchAPIKey(ctx, "bbb", revoked.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	// The keys survive a restart.
	db.Close()
	db = openAt(t, path)
	k, err := db.APIKey(ctx, "bbb")
	if err != nil {
		t.Fatal(err)
	}
	if !k.LastUsed.Equal(used) || !k.Revoked.Equal(revoked) || !k.ReadOnly || !slices.Equal(k.Accounts, second.Accounts) || !slices.Equal(k.Hash, second.Hash) {
		t.Errorf("APIKey(bbb) after reopen = %+v; want last used %v (not after revocation), revoked %v (the first time), read-only, accounts [a1]", k, used, revoked)
	}
}
