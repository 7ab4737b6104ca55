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

// This file keeps the HTTP API's answers to requests with an
// Idempotency-Key (core/api.IdempotencyStore) for a fleet: one row per key,
// so that a retry that reaches another node, or a restarted one, gets the
// first answer. Like the keys', the table came without a new schema
// version: it is created when missing, and an older node ignores it.

// idempotencyTables are the answers' statements of migrate.
var idempotencyTables = []string{
	`CREATE TABLE IF NOT EXISTS warden_idempotency (
		key TEXT PRIMARY KEY,
		at TIMESTAMPTZ NOT NULL,
		data JSONB NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS warden_idempotency_at ON warden_idempotency (at)`,
}

// maxIdempotencyPrune bounds the answers one prune deletes.
const maxIdempotencyPrune = 10_000

// PutIdempotentReply keeps the answer under key, replacing any.
func (s *DB) PutIdempotentReply(ctx context.Context, key string, rep core.IdempotentReply) error {
	if key == "" {
		return errors.New("keep an idempotent answer: an empty key")
	}
	rep.At = rep.At.UTC()
	data, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("keep an idempotent answer: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO warden_idempotency (key, at, data) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET at = EXCLUDED.at, data = EXCLUDED.data`, key, rep.At, data)
	if err != nil {
		return fmt.Errorf("keep an idempotent answer: %w", err)
	}
	return nil
}

// IdempotentReply returns the answer kept under key, and whether there is
// one.
func (s *DB) IdempotentReply(ctx context.Context, key string) (core.IdempotentReply, bool, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, "SELECT data FROM warden_idempotency WHERE key = $1", key).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return core.IdempotentReply{}, false, nil
	}
	if err != nil {
		return core.IdempotentReply{}, false, fmt.Errorf("read an idempotent answer: %w", err)
	}
	var rep core.IdempotentReply
	if err := json.Unmarshal(data, &rep); err != nil {
		return core.IdempotentReply{}, false, fmt.Errorf("read an idempotent answer: %w: %w", store.ErrCorrupt, err)
	}
	return rep, true, nil
}

// PruneIdempotentReplies deletes the answers made before before (at most a
// bounded chunk) and says how many it deleted.
func (s *DB) PruneIdempotentReplies(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM warden_idempotency WHERE key IN (
		SELECT key FROM warden_idempotency WHERE at < $1 LIMIT $2)`, before.UTC(), maxIdempotencyPrune)
	if err != nil {
		return 0, fmt.Errorf("prune the idempotent answers: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune the idempotent answers: %w", err)
	}
	return int(n), nil
}
