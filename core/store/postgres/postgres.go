// Package postgres is core.Store on PostgreSQL, for a fleet of Warden nodes
// that share their accounts and timelines (the embedded default is bbolt, in
// core/store). Accounts are JSON rows; each account's events are rows keyed
// by (account, seq), and the account's row keeps its last sequence number,
// locked while a batch is appended, so that nodes appending at once get
// gap-free, unique numbers. The messages accounts receive (core.Inbox) are
// rows of warden_messages: see inbox.go; the HTTP API's keys are rows of
// warden_apikeys: see apikeys.go; the outbox of the webhooks and event
// streams is in warden_outbox and the tables next to it: see outbox.go.
package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"warden/core"
	"warden/core/store"
)

// schemaVersion is the version of the tables this code writes. The inbox's
// table came later without a new version: it is created when missing, and a
// node of version 1 ignores it (deleting an account cascades to it). So do
// the outbox's tables (outbox.go).
const schemaVersion = 1

// ErrNewerSchema is returned by Open for tables of a newer Warden.
var ErrNewerSchema = errors.New("the database was set up by a newer version of Warden")

// DB is a core.Store on PostgreSQL.
type DB struct {
	db  *sql.DB
	log *slog.Logger
	// The inbox's retention (WithMessageRetention).
	maxMessages   int
	messageMaxAge time.Duration
}

var _ core.Store = (*DB)(nil)

// Open connects to dsn (postgres://…) and creates the tables if needed.
func Open(ctx context.Context, dsn string, log *slog.Logger, opts ...Option) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// pgx's errors may quote dsn: RedactError hides its secrets there too.
	where := core.RedactURL(dsn)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the store %s: %w", where, core.RedactError(err, dsn))
	}
	s := &DB{db: db, log: log, maxMessages: core.DefaultMaxMessages, messageMaxAge: core.DefaultMessageMaxAge}
	for _, opt := range opts {
		opt(s)
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open the store %s: %w", where, core.RedactError(err, dsn))
	}
	return s, nil
}

func (s *DB) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// One node at a time sets the tables up.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7021968)"); err != nil {
		return err
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS warden_schema (version INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS warden_accounts (
			id TEXT PRIMARY KEY,
			created_at TIMESTAMPTZ NOT NULL,
			data JSONB NOT NULL,
			last_seq BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS warden_events (
			account TEXT NOT NULL REFERENCES warden_accounts(id) ON DELETE CASCADE,
			seq BIGINT NOT NULL,
			data JSONB NOT NULL,
			PRIMARY KEY (account, seq))`,
		`CREATE TABLE IF NOT EXISTS warden_logs (
			id BIGSERIAL PRIMARY KEY,
			account TEXT NOT NULL REFERENCES warden_accounts(id) ON DELETE CASCADE,
			at TIMESTAMPTZ NOT NULL,
			level INTEGER NOT NULL,
			msg TEXT NOT NULL,
			attrs JSONB)`,
		`CREATE INDEX IF NOT EXISTS warden_logs_account ON warden_logs (account, id)`,
	}
	for _, q := range slices.Concat(stmts, messageTables, apiKeyTables, idempotencyTables, outboxTables) {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	var v int
	switch err := tx.QueryRowContext(ctx, "SELECT version FROM warden_schema").Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, "INSERT INTO warden_schema (version) VALUES ($1)", schemaVersion); err != nil {
			return err
		}
	case err != nil:
		return err
	case v > schemaVersion:
		return fmt.Errorf("%w (tables of version %d; this one knows up to %d): update Warden", ErrNewerSchema, v, schemaVersion)
	}
	return tx.Commit()
}

// Close closes the connections.
func (s *DB) Close() error { return s.db.Close() }

// Accounts implements core.Store: oldest first, then by ID.
func (s *DB) Accounts(ctx context.Context) ([]core.Account, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, data FROM warden_accounts ORDER BY created_at, id")
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer rows.Close()
	var out []core.Account
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		var a core.Account
		if err := json.Unmarshal(data, &a); err != nil {
			return nil, fmt.Errorf("account %s: %w: %w", id, store.ErrCorrupt, err)
		}
		a.ID = core.AccountID(id)
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return out, nil
}

// PutAccount implements core.Store.
func (s *DB) PutAccount(ctx context.Context, a core.Account) error {
	if a.ID == "" {
		return errors.New("put account: an account needs an ID")
	}
	a.CreatedAt = a.CreatedAt.UTC()
	data, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO warden_accounts (id, created_at, data) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at, data = EXCLUDED.data`,
		string(a.ID), a.CreatedAt, data)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	return nil
}

// DeleteAccount implements core.Store: the account, its events, its logs and
// its messages (their rows cascade).
func (s *DB) DeleteAccount(ctx context.Context, id core.AccountID) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM warden_accounts WHERE id = $1", string(id)); err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	return nil
}

// eventRecord is an event as stored; Seq and Account are columns.
type eventRecord struct {
	At        time.Time     `json:"at"`
	From      core.State    `json:"from"`
	To        core.State    `json:"to"`
	Cause     string        `json:"cause"`
	Reason    string        `json:"reason,omitempty"`
	Attempt   int           `json:"attempt,omitempty"`
	Delay     time.Duration `json:"delay,omitempty"`
	Epoch     uint64        `json:"epoch,omitempty"`
	MessageID string        `json:"message_id,omitempty"`
	Latency   time.Duration `json:"latency,omitempty"`
	Token     int64         `json:"token,omitempty"`
}

// AppendEvents implements core.Store, in one transaction: all or nothing.
// Events of accounts that do not exist are dropped with a warning.
func (s *DB) AppendEvents(ctx context.Context, evs ...core.Event) error {
	if len(evs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	last := map[core.AccountID]int64{}
	unknown := map[core.AccountID]bool{}
	dropped := 0
	for _, ev := range evs {
		if unknown[ev.Account] {
			dropped++
			continue
		}
		seq, seen := last[ev.Account]
		if !seen {
			// Locks the account's row until the commit: nodes appending at
			// once take turns.
			err := tx.QueryRowContext(ctx, "SELECT last_seq FROM warden_accounts WHERE id = $1 FOR UPDATE", string(ev.Account)).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				unknown[ev.Account] = true
				dropped++
				continue
			}
			if err != nil {
				return fmt.Errorf("append events: %w", err)
			}
		}
		switch {
		case ev.Seq == 0:
			seq++
		case int64(ev.Seq) <= seq:
			return fmt.Errorf("append events: account %s: seq %d after %d: %w", ev.Account, ev.Seq, seq, store.ErrSequence)
		default:
			seq = int64(ev.Seq)
		}
		last[ev.Account] = seq
		data, err := json.Marshal(eventRecord{At: ev.At.UTC(), From: ev.From, To: ev.To, Cause: ev.Cause, Reason: ev.Reason,
			Attempt: ev.Attempt, Delay: ev.Delay, Epoch: ev.Epoch, MessageID: ev.MessageID, Latency: ev.Latency, Token: ev.Token})
		if err != nil {
			return fmt.Errorf("append events: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO warden_events (account, seq, data) VALUES ($1, $2, $3)", string(ev.Account), seq, data); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	for id, seq := range last {
		if _, err := tx.ExecContext(ctx, "UPDATE warden_accounts SET last_seq = $2 WHERE id = $1", string(id), seq); err != nil {
			return fmt.Errorf("append events: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if dropped > 0 {
		s.log.Warn("dropped timeline events of unknown accounts", "events", dropped)
	}
	return nil
}

// Events implements core.Store: the newest limit, newest last.
func (s *DB) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	if limit <= 0 || id == "" {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT seq, data FROM warden_events WHERE account = $1 ORDER BY seq DESC LIMIT $2", string(id), limit)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", id, err)
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("events of %s: %w", id, err)
		}
		var r eventRecord
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("event %d of %s: %w: %w", seq, id, store.ErrCorrupt, err)
		}
		out = append(out, core.Event{Seq: uint64(seq), Account: id, At: r.At, From: r.From, To: r.To, Cause: r.Cause, Reason: r.Reason,
			Attempt: r.Attempt, Delay: r.Delay, Epoch: r.Epoch, MessageID: r.MessageID, Latency: r.Latency, Token: r.Token})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("events of %s: %w", id, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
