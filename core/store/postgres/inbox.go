package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"warden/core"
	"warden/core/store"
)

// The inbox (core.Inbox): warden_messages holds one row per message, keyed
// by (account, seq) and unique by (account, key). A message's seq is one
// above the account's highest, read in the transaction that inserts it: two
// nodes that store a message of one account at once (briefly, during a
// handover) pick the same seq, and the second insert fails on the primary
// key and is tried again with the next. Every insert also deletes, a bounded
// chunk at a time, the account's messages beyond the retention: an account's
// inbox is pruned when it receives.

// The PostgreSQL errors PutMessage branches on, and its bounds.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	// maxSeqAttempts bounds the tries of an insert whose seq another node
	// took: each collision means another insert committed, so the attempts
	// run out only under a storm of writers to one account.
	maxSeqAttempts = 100
	// pruneChunk caps the messages one insert deletes.
	pruneChunk = 1000
)

var _ core.Inbox = (*DB)(nil)

// Option configures Open.
type Option func(*DB)

// WithMessageRetention sets the retention of each account's inbox: at most
// max messages, none received more than maxAge ago (non-positive values keep
// the defaults, core.DefaultMaxMessages and core.DefaultMessageMaxAge). The
// newest message is always kept.
func WithMessageRetention(max int, maxAge time.Duration) Option {
	return func(s *DB) {
		if max > 0 {
			s.maxMessages = max
		}
		if maxAge > 0 {
			s.messageMaxAge = maxAge
		}
	}
}

// messageTables are the inbox's statements of migrate.
var messageTables = []string{
	`CREATE TABLE IF NOT EXISTS warden_messages (
		account TEXT NOT NULL REFERENCES warden_accounts(id) ON DELETE CASCADE,
		seq BIGINT NOT NULL,
		key BYTEA NOT NULL,
		received TIMESTAMPTZ NOT NULL,
		data JSON NOT NULL,
		PRIMARY KEY (account, seq),
		UNIQUE (account, key))`,
	`CREATE INDEX IF NOT EXISTS warden_messages_received ON warden_messages (account, received)`,
}

// PutMessage implements core.Inbox: a nil error means the message is
// committed. The message of an account that does not exist is refused
// (core.ErrUnknownAccount).
func (s *DB) PutMessage(ctx context.Context, m core.Message) (core.Message, bool, error) {
	return s.putMessageThen(ctx, m, nil)
}

// putMessageThen is PutMessage, and runs then (nil: nothing) in the
// transaction that stores the message, or finds it stored, before it
// commits (PutMessageEvent).
func (s *DB) putMessageThen(ctx context.Context, m core.Message, then func(tx *sql.Tx, stored core.Message) error) (core.Message, bool, error) {
	if m.Account == "" {
		return core.Message{}, false, errors.New("put message: a message needs an account")
	}
	m.At, m.Received = m.At.UTC(), m.Received.UTC()
	for attempt := 1; ; attempt++ {
		stored, dup, err := s.putMessage(ctx, m, then)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return stored, dup, nil
		case errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation:
			err = core.ErrUnknownAccount
		case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && attempt < maxSeqAttempts:
			continue // another node took the seq
		}
		return core.Message{}, false, fmt.Errorf("put message %s of %s: %w", m.ID, m.Account, err)
	}
}

// putMessage is one attempt of PutMessage, in one transaction.
func (s *DB) putMessage(ctx context.Context, m core.Message, then func(tx *sql.Tx, stored core.Message) error) (core.Message, bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return core.Message{}, false, err
	}
	defer func() { _ = tx.Rollback() }()
	key := []byte(m.Key())
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) + 1 FROM warden_messages WHERE account = $1",
		string(m.Account)).Scan(&m.Seq); err != nil {
		return core.Message{}, false, fmt.Errorf("next seq: %w", err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return core.Message{}, false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO warden_messages (account, seq, key, received, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (account, key) DO NOTHING`, string(m.Account), int64(m.Seq), key, m.Received, data)
	if err != nil {
		return core.Message{}, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return core.Message{}, false, err
	}
	stored, dup := m, false
	if n == 0 { // stored before: the answer is what was stored
		if stored, err = storedMessage(ctx, tx, m.Account, key); err != nil {
			return core.Message{}, false, err
		}
		dup = true
	} else if err := s.pruneMessages(ctx, tx, m.Account, m.Seq); err != nil {
		return core.Message{}, false, err
	}
	if then != nil {
		if err := then(tx, stored); err != nil {
			return core.Message{}, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return core.Message{}, false, err
	}
	return stored, dup, nil
}

// storedMessage reads, in tx, the account's message of key.
func storedMessage(ctx context.Context, tx *sql.Tx, id core.AccountID, key []byte) (core.Message, error) {
	var data []byte
	err := tx.QueryRowContext(ctx, "SELECT data FROM warden_messages WHERE account = $1 AND key = $2", string(id), key).Scan(&data)
	if err != nil {
		return core.Message{}, fmt.Errorf("read the stored message: %w", err)
	}
	return decodeMessage(data)
}

// pruneMessages deletes, in tx, the account's oldest messages beyond the
// retention, at most pruneChunk, keeping newest, the seq just stored.
func (s *DB) pruneMessages(ctx context.Context, tx *sql.Tx, id core.AccountID, newest uint64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM warden_messages WHERE account = $1 AND seq IN (
		SELECT seq FROM warden_messages WHERE account = $1 AND seq < $2 AND (seq <= $3 OR received < $4)
		ORDER BY seq LIMIT $5)`,
		string(id), int64(newest), int64(newest)-int64(s.maxMessages), time.Now().Add(-s.messageMaxAge), pruneChunk)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// Messages implements core.Inbox: oldest first.
func (s *DB) Messages(ctx context.Context, id core.AccountID, after uint64, limit int) ([]core.Message, error) {
	if after >= math.MaxInt64 {
		return nil, nil
	}
	out, err := s.queryMessages(ctx, "SELECT data FROM warden_messages WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3",
		id, limit, int64(after))
	if err != nil {
		return nil, fmt.Errorf("messages of %s: %w", id, err)
	}
	return out, nil
}

// LastMessages implements core.Inbox: the newest limit, newest last.
func (s *DB) LastMessages(ctx context.Context, id core.AccountID, limit int) ([]core.Message, error) {
	out, err := s.queryMessages(ctx, "SELECT data FROM warden_messages WHERE account = $1 ORDER BY seq DESC LIMIT $2",
		id, limit)
	if err != nil {
		return nil, fmt.Errorf("last messages of %s: %w", id, err)
	}
	slices.Reverse(out)
	return out, nil
}

// queryMessages runs q, whose $1 is the account, whose last parameter is the
// limit and whose others are args, and decodes the messages it returns.
func (s *DB) queryMessages(ctx context.Context, q string, id core.AccountID, limit int, args ...any) ([]core.Message, error) {
	if limit <= 0 || id == "" {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, q, append(append([]any{string(id)}, args...), limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []core.Message
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		m, err := decodeMessage(data)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// decodeMessage reads a stored message.
func decodeMessage(data []byte) (core.Message, error) {
	var m core.Message
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("a message: %w: %w", store.ErrCorrupt, err)
	}
	return m, nil
}
