package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// This file keeps the HTTP API's keys (core/api.KeyStore): one JSON record
// per key under its id in the apikeys bucket, the secret's hash and never
// the secret.

// bucketAPIKeys holds the API keys; migration apiKeysSince creates it.
var bucketAPIKeys = []byte("apikeys")

// apiKeysSince is the schema version that brought the API keys.
const apiKeysSince = 4

// PutAPIKey stores a new key, or replaces the key with its ID.
func (db *DB) PutAPIKey(ctx context.Context, k core.APIKey) error {
	if k.ID == "" {
		return fmt.Errorf("put API key: an empty id")
	}
	err := db.update(ctx, func(tx *bolt.Tx) error { return putAPIKey(tx, k) })
	if err != nil {
		return fmt.Errorf("put API key %s: %w", k.ID, err)
	}
	return nil
}

// APIKey returns the key with the id, or an error wrapping
// core.ErrUnknownAPIKey.
func (db *DB) APIKey(ctx context.Context, id string) (core.APIKey, error) {
	var k core.APIKey
	err := db.view(ctx, func(tx *bolt.Tx) (err error) {
		k, err = getAPIKey(tx, id)
		return err
	})
	if err != nil {
		return core.APIKey{}, fmt.Errorf("API key %s: %w", id, err)
	}
	return k, nil
}

// APIKeys returns every key, revoked ones included, oldest first.
func (db *DB) APIKeys(ctx context.Context) ([]core.APIKey, error) {
	var out []core.APIKey
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b, err := apiKeysBucket(tx)
		if err != nil {
			return err
		}
		return b.ForEach(func(id, v []byte) error {
			k, err := decodeAPIKey(id, v)
			out = append(out, k)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("API keys: %w", err)
	}
	slices.SortFunc(out, func(a, b core.APIKey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeAPIKey marks the key revoked at at; revoking twice keeps the first
// time.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		k, err := getAPIKey(tx, id)
		if err != nil || !k.Revoked.IsZero() {
			return err
		}
		k.Revoked = at
		return putAPIKey(tx, k)
	})
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	return nil
}

// TouchAPIKey records that the key was used at at. An unknown or revoked
// key is left as it is.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		k, err := getAPIKey(tx, id)
		switch {
		case errors.Is(err, core.ErrUnknownAPIKey):
			return nil // deleted meanwhile: nothing to record
		case err != nil || !k.Revoked.IsZero():
			return err
		}
		k.LastUsed = at
		return putAPIKey(tx, k)
	})
	if err != nil {
		return fmt.Errorf("record the use of API key %s: %w", id, err)
	}
	return nil
}

// apiKeysBucket returns the apikeys bucket; missing, the file is damaged.
func apiKeysBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	b := tx.Bucket(bucketAPIKeys)
	if b == nil {
		return nil, fmt.Errorf("no %q bucket: %w", bucketAPIKeys, ErrCorrupt)
	}
	return b, nil
}

// getAPIKey reads a key inside a transaction.
func getAPIKey(tx *bolt.Tx, id string) (core.APIKey, error) {
	b, err := apiKeysBucket(tx)
	if err != nil {
		return core.APIKey{}, err
	}
	v := b.Get([]byte(id))
	if v == nil {
		return core.APIKey{}, core.ErrUnknownAPIKey
	}
	return decodeAPIKey([]byte(id), v)
}

// putAPIKey writes a key inside a transaction, its times in UTC.
func putAPIKey(tx *bolt.Tx, k core.APIKey) error {
	b, err := apiKeysBucket(tx)
	if err != nil {
		return err
	}
	k.Created, k.LastUsed, k.Revoked = k.Created.UTC(), k.LastUsed.UTC(), k.Revoked.UTC()
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return b.Put([]byte(k.ID), v)
}

// decodeAPIKey decodes a stored key; one that does not decode is corrupt.
func decodeAPIKey(id, v []byte) (core.APIKey, error) {
	var k core.APIKey
	if err := json.Unmarshal(v, &k); err != nil {
		return core.APIKey{}, fmt.Errorf("API key %s: %w: %w", id, ErrCorrupt, err)
	}
	k.ID = string(id)
	return k, nil
}
