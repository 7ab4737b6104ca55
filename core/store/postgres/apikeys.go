package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"warden/core"
	"warden/core/store"
)

// This file keeps the HTTP API's keys (core/api.KeyStore) for a fleet: one
// row per key, the secret's hash and never the secret, so that every node's
// API takes the same keys and a revocation counts on every node at once.
// Like the inbox's, the table came without a new schema version: it is
// created when missing, and an older node ignores it.

// apiKeyTables are the keys' statements of migrate.
var apiKeyTables = []string{
	`CREATE TABLE IF NOT EXISTS warden_apikeys (
		id TEXT PRIMARY KEY,
		created TIMESTAMPTZ NOT NULL,
		data JSONB NOT NULL)`,
}

// PutAPIKey stores a new key, or replaces the key with its ID.
func (s *DB) PutAPIKey(ctx context.Context, k core.APIKey) error {
	if k.ID == "" {
		return errors.New("put API key: an empty id")
	}
	k.Created, k.LastUsed, k.Revoked = k.Created.UTC(), k.LastUsed.UTC(), k.Revoked.UTC()
	data, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("put API key %s: %w", k.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO warden_apikeys (id, created, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET created = EXCLUDED.created, data = EXCLUDED.data`, k.ID, k.Created, data)
	if err != nil {
		return fmt.Errorf("put API key %s: %w", k.ID, err)
	}
	return nil
}

// APIKey returns the key with the id, or an error wrapping
// core.ErrUnknownAPIKey.
func (s *DB) APIKey(ctx context.Context, id string) (core.APIKey, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM warden_apikeys WHERE id = $1", id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		err = core.ErrUnknownAPIKey
	}
	if err != nil {
		return core.APIKey{}, fmt.Errorf("API key %s: %w", id, err)
	}
	return decodeAPIKey(id, data)
}

// APIKeys returns every key, revoked ones included, oldest first.
func (s *DB) APIKeys(ctx context.Context) ([]core.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, data FROM warden_apikeys ORDER BY created, id")
	if err != nil {
		return nil, fmt.Errorf("API keys: %w", err)
	}
	defer rows.Close()
	var out []core.APIKey
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("API keys: %w", err)
		}
		k, err := decodeAPIKey(id, data)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("API keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey marks the key revoked at at; revoking twice keeps the first
// time.
func (s *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE warden_apikeys
		SET data = CASE WHEN data ? 'revoked' THEN data ELSE jsonb_set(data, '{revoked}', to_jsonb($2::text)) END
		WHERE id = $1`, id, at.UTC().Format(time.RFC3339Nano))
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	return nil
}

// TouchAPIKey records that the key was used at at. An unknown or revoked
// key is left as it is.
func (s *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE warden_apikeys SET data = jsonb_set(data, '{last_used}', to_jsonb($2::text))
		WHERE id = $1 AND NOT data ? 'revoked'`, id, at.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("record the use of API key %s: %w", id, err)
	}
	return nil
}

// oneRow turns an update of no row into core.ErrUnknownAPIKey.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = core.ErrUnknownAPIKey
	}
	return err
}

// decodeAPIKey decodes a stored key; one that does not decode is corrupt.
func decodeAPIKey(id string, data []byte) (core.APIKey, error) {
	var k core.APIKey
	if err := json.Unmarshal(data, &k); err != nil {
		return core.APIKey{}, fmt.Errorf("API key %s: %w: %w", id, store.ErrCorrupt, err)
	}
	k.ID = id
	return k, nil
}
