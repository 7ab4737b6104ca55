package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"warden/core"
	"warden/core/outbox"
	"warden/core/store"
)

// The outbox (outbox.Store) of a fleet: the events webhooks and event
// streams deliver, where each webhook is in each account's events, and the
// failed deliveries, shared by every node.
//
//	warden_outbox_seq        one row: the last Seq given
//	warden_outbox            one row per event: seq, its ID (unique), account, type, time, JSON
//	warden_outbox_cursors    the timeline cursors; the row of account '' says they were set
//	warden_webhooks          one row per webhook (JSON, with its secret)
//	warden_webhook_lanes     (webhook, account) → the lane: its cursor, and the lane as JSON
//	warden_webhook_failures  (webhook, seq) → the failure, JSON
//
// Seq order. The outbox Seq is one order for every account, which a stream
// resumes after (Last-Event-ID) and which the nodes poll for the events
// other nodes stored. A sequence (bigserial) hands numbers out at insert
// and its transactions commit in any order: a reader could see seq 11
// committed while 10 is not yet, move past 10, and miss it for ever. So
// every transaction that stores events locks warden_outbox_seq's row (FOR
// UPDATE) before it picks Seqs and holds it until it commits: the stores
// take turns, a Seq is committed only after every smaller one is, and a
// rolled-back store gives its numbers back (no gap either). The lock is
// held from the pick to the commit, a few statements: the fleet's outbox
// stores one batch at a time, which is what an ordered, gapless Seq costs.
// BenchmarkReceive measures it: 32 accounts receiving on two nodes store
// their messages with their events about 3 to 5 times slower than the
// messages alone (some 450 a second against 1,500 to 2,300, on a loaded
// 2-core machine, with the test server's fsync off; with a durable disk
// each commit's flush is taken under the lock too). Numbering the events in
// a second transaction after their commit, in batches, would let the
// storing commits group; measured here, its extra round trips made it
// slower still.
//
// Monotonic positions. Two nodes may write one lane or one cursor during a
// handover (the old owner's last save lands after the new owner's); a lane
// cursor and a timeline cursor only move forward here, so a late, older
// write never sends a lane back (which would deliver events again after the
// next takeover) nor a cursor back.

// outboxTables are the outbox's statements of migrate.
var outboxTables = []string{
	`CREATE TABLE IF NOT EXISTS warden_outbox_seq (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		last BIGINT NOT NULL)`,
	`INSERT INTO warden_outbox_seq (id, last) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
	`CREATE TABLE IF NOT EXISTS warden_outbox (
		seq BIGINT PRIMARY KEY,
		id TEXT NOT NULL UNIQUE,
		account TEXT NOT NULL,
		type TEXT NOT NULL,
		at TIMESTAMPTZ NOT NULL,
		data JSON NOT NULL)`,
	`CREATE INDEX IF NOT EXISTS warden_outbox_account ON warden_outbox (account, seq)`,
	`CREATE TABLE IF NOT EXISTS warden_outbox_cursors (
		account TEXT PRIMARY KEY,
		seq BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS warden_webhooks (
		id TEXT PRIMARY KEY,
		data JSON NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS warden_webhook_lanes (
		webhook TEXT NOT NULL REFERENCES warden_webhooks(id) ON DELETE CASCADE,
		account TEXT NOT NULL,
		cursor BIGINT NOT NULL,
		data JSON NOT NULL,
		PRIMARY KEY (webhook, account))`,
	`CREATE TABLE IF NOT EXISTS warden_webhook_failures (
		webhook TEXT NOT NULL REFERENCES warden_webhooks(id) ON DELETE CASCADE,
		seq BIGINT NOT NULL,
		failed_at TIMESTAMPTZ NOT NULL,
		data JSON NOT NULL,
		PRIMARY KEY (webhook, seq))`,
}

var (
	_ outbox.Store        = (*DB)(nil)
	_ outbox.MessageStore = (*DB)(nil)
)

// cursorsSet is the account of the cursors' row that says they were set
// once: account IDs are never empty.
const cursorsSet = ""

// AppendOutbox implements outbox.Store.
func (s *DB) AppendOutbox(ctx context.Context, evs []outbox.Event, cursors map[core.AccountID]uint64) ([]outbox.Event, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append %d outbox events: %w", len(evs), err)
	}
	defer func() { _ = tx.Rollback() }()
	stored, err := appendOutbox(ctx, tx, evs)
	if err != nil {
		return nil, fmt.Errorf("append %d outbox events: %w", len(evs), err)
	}
	if err := putCursors(ctx, tx, cursors); err != nil {
		return nil, fmt.Errorf("append %d outbox events: %w", len(evs), err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append %d outbox events: %w", len(evs), err)
	}
	return stored, nil
}

// appendOutbox stores, in tx, the events whose ID is not stored yet, each
// under the next Seq, and returns them with their Seq. It locks the Seq's
// row until tx ends (see the top of this file).
func appendOutbox(ctx context.Context, tx *sql.Tx, evs []outbox.Event) ([]outbox.Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT last FROM warden_outbox_seq WHERE id = 1 FOR UPDATE").Scan(&last); err != nil {
		return nil, fmt.Errorf("lock the outbox's seq: %w", err)
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	held := map[string]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT id FROM warden_outbox WHERE id = ANY($1)", ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		held[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var (
		stored                        []outbox.Event
		seqs                          []int64
		sIDs, accounts, types, values []string
		ats                           []time.Time
	)
	for _, ev := range evs {
		if held[ev.ID] {
			continue
		}
		held[ev.ID] = true // the same event twice in evs is stored once
		v, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode outbox event %s: %w", ev.ID, err)
		}
		last++
		ev.Seq = uint64(last)
		stored = append(stored, ev)
		seqs, sIDs, accounts, types = append(seqs, last), append(sIDs, ev.ID), append(accounts, string(ev.Account)), append(types, ev.Type)
		ats, values = append(ats, ev.Time.UTC()), append(values, string(v))
	}
	if len(stored) == 0 {
		return nil, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO warden_outbox (seq, id, account, type, at, data)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::json[])`,
		seqs, sIDs, accounts, types, ats, values)
	if err != nil {
		return nil, fmt.Errorf("insert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE warden_outbox_seq SET last = $1 WHERE id = 1", last); err != nil {
		return nil, fmt.Errorf("move the outbox's seq: %w", err)
	}
	return stored, nil
}

// putCursors stores the timeline cursors in tx (nil: none), each only
// forward, and marks them set.
func putCursors(ctx context.Context, tx *sql.Tx, cursors map[core.AccountID]uint64) error {
	if cursors == nil {
		return nil
	}
	accounts := []string{cursorsSet}
	seqs := []int64{1}
	for id, seq := range cursors {
		accounts, seqs = append(accounts, string(id)), append(seqs, int64(seq))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO warden_outbox_cursors (account, seq)
		SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (account) DO UPDATE SET seq = GREATEST(warden_outbox_cursors.seq, EXCLUDED.seq)`, accounts, seqs)
	if err != nil {
		return fmt.Errorf("put the timeline cursors: %w", err)
	}
	return nil
}

// PutMessageEvent implements outbox.MessageStore: it is PutMessage, and
// stores the message's event, made by event from the stored message, in the
// same transaction, unless the event is stored already (a redelivered
// message's, usually). It returns the event when it stored it.
func (s *DB) PutMessageEvent(ctx context.Context, m core.Message, event func(core.Message) (outbox.Event, error)) (core.Message, bool, []outbox.Event, error) {
	var fresh []outbox.Event
	stored, dup, err := s.putMessageThen(ctx, m, func(tx *sql.Tx, stored core.Message) error {
		ev, err := event(stored)
		if err != nil {
			return err
		}
		fresh, err = appendOutbox(ctx, tx, []outbox.Event{ev})
		return err
	})
	if err != nil {
		return core.Message{}, false, nil, err
	}
	return stored, dup, fresh, nil
}

// OutboxEvents implements outbox.Store.
func (s *DB) OutboxEvents(ctx context.Context, after uint64, limit int) ([]outbox.Event, error) {
	out, err := s.queryOutbox(ctx, "SELECT seq, data FROM warden_outbox WHERE seq > $1 ORDER BY seq LIMIT $2", int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox events after %d: %w", after, err)
	}
	return out, nil
}

// OutboxAccountEvents implements outbox.Store.
func (s *DB) OutboxAccountEvents(ctx context.Context, id core.AccountID, after uint64, limit int) ([]outbox.Event, error) {
	out, err := s.queryOutbox(ctx, "SELECT seq, data FROM warden_outbox WHERE account = $3 AND seq > $1 ORDER BY seq LIMIT $2",
		int64(after), limit, string(id))
	if err != nil {
		return nil, fmt.Errorf("read outbox events of %s after %d: %w", id, after, err)
	}
	return out, nil
}

// queryOutbox runs q and decodes the events (seq, data) it returns.
func (s *DB) queryOutbox(ctx context.Context, q string, args ...any) ([]outbox.Event, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbox.Event
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, err
		}
		var ev outbox.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, fmt.Errorf("outbox event %d: %w: %w", seq, store.ErrCorrupt, err)
		}
		ev.Seq = uint64(seq)
		out = append(out, ev)
	}
	return out, rows.Err()
}

// OutboxLastSeq implements outbox.Store.
func (s *DB) OutboxLastSeq(ctx context.Context) (uint64, error) {
	var last int64
	if err := s.db.QueryRowContext(ctx, "SELECT last FROM warden_outbox_seq WHERE id = 1").Scan(&last); err != nil {
		return 0, fmt.Errorf("read the outbox's last seq: %w", err)
	}
	return uint64(last), nil
}

// OutboxAccounts implements outbox.Store.
func (s *DB) OutboxAccounts(ctx context.Context) ([]core.AccountID, error) {
	// A skip over the (account, seq) index, one probe per account: a
	// DISTINCT would read every event.
	rows, err := s.db.QueryContext(ctx, `WITH RECURSIVE a AS (
			SELECT min(account) AS account FROM warden_outbox
			UNION ALL
			SELECT (SELECT min(account) FROM warden_outbox WHERE account > a.account) FROM a WHERE a.account IS NOT NULL)
		SELECT account FROM a WHERE account IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("list the outbox's accounts: %w", err)
	}
	defer rows.Close()
	var out []core.AccountID
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list the outbox's accounts: %w", err)
		}
		out = append(out, core.AccountID(id))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the outbox's accounts: %w", err)
	}
	return out, nil
}

// TimelineCursors implements outbox.Store.
func (s *DB) TimelineCursors(ctx context.Context) (map[core.AccountID]uint64, bool, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT account, seq FROM warden_outbox_cursors")
	if err != nil {
		return nil, false, fmt.Errorf("read the timeline cursors: %w", err)
	}
	defer rows.Close()
	cursors := map[core.AccountID]uint64{}
	set := false
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			return nil, false, fmt.Errorf("read the timeline cursors: %w", err)
		}
		if id == cursorsSet {
			set = true
		} else {
			cursors[core.AccountID(id)] = uint64(seq)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read the timeline cursors: %w", err)
	}
	return cursors, set, nil
}

// PutWebhook implements outbox.Store. A new webhook's After is read under
// the Seq's lock: no event of a Seq at or below it commits later.
func (s *DB) PutWebhook(ctx context.Context, w outbox.Webhook) (outbox.Webhook, error) {
	stored, err := s.putWebhook(ctx, w)
	if err != nil {
		return outbox.Webhook{}, fmt.Errorf("store webhook %s: %w", w.ID, err)
	}
	return stored, nil
}

func (s *DB) putWebhook(ctx context.Context, w outbox.Webhook) (outbox.Webhook, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return w, err
	}
	defer func() { _ = tx.Rollback() }()
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM warden_webhooks WHERE id = $1)", w.ID).Scan(&exists); err != nil {
		return w, err
	}
	if !exists {
		var last int64
		if err := tx.QueryRowContext(ctx, "SELECT last FROM warden_outbox_seq WHERE id = 1 FOR UPDATE").Scan(&last); err != nil {
			return w, err
		}
		w.After = uint64(last)
	}
	w.Created = w.Created.UTC()
	v, err := json.Marshal(w)
	if err != nil {
		return w, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO warden_webhooks (id, data) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data`, w.ID, string(v)); err != nil {
		return w, err
	}
	return w, tx.Commit()
}

// Webhooks implements outbox.Store.
func (s *DB) Webhooks(ctx context.Context) ([]outbox.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT id, data FROM warden_webhooks ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read the webhooks: %w", err)
	}
	defer rows.Close()
	var out []outbox.Webhook
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("read the webhooks: %w", err)
		}
		var w outbox.Webhook
		if err := json.Unmarshal(data, &w); err != nil {
			return nil, fmt.Errorf("webhook %s: %w: %w", id, store.ErrCorrupt, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook implements outbox.Store: its lanes and failures cascade.
func (s *DB) DeleteWebhook(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM warden_webhooks WHERE id = $1", id); err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// WebhookLanes implements outbox.Store.
func (s *DB) WebhookLanes(ctx context.Context, webhook string) ([]outbox.Lane, error) {
	out, err := queryJSON[outbox.Lane](ctx, s.db, "SELECT data FROM warden_webhook_lanes WHERE webhook = $1 ORDER BY account", webhook)
	if err != nil {
		return nil, fmt.Errorf("read the lanes of webhook %s: %w", webhook, err)
	}
	return out, nil
}

// queryJSON runs q and decodes the JSON of the one column it returns.
func queryJSON[T any](ctx context.Context, db *sql.DB, q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("%w: %w", store.ErrCorrupt, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PutWebhookLanes implements outbox.Store. A lane only moves forward (see
// the top of this file); those of a deleted webhook are not stored.
func (s *DB) PutWebhookLanes(ctx context.Context, lanes []outbox.Lane, failed []outbox.Failure) error {
	err := s.putWebhookLanes(ctx, lanes, failed)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation {
		// A webhook was deleted between the check and the insert: the
		// others' lanes are stored without its own.
		err = s.putWebhookLanes(ctx, lanes, failed)
	}
	if err != nil {
		return fmt.Errorf("store %d webhook lanes: %w", len(lanes), err)
	}
	return nil
}

func (s *DB) putWebhookLanes(ctx context.Context, lanes []outbox.Lane, failed []outbox.Failure) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, l := range lanes {
		v, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encode lane %s/%s: %w", l.Webhook, l.Account, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO warden_webhook_lanes (webhook, account, cursor, data)
			SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM warden_webhooks WHERE id = $1)
			ON CONFLICT (webhook, account) DO UPDATE SET cursor = EXCLUDED.cursor, data = EXCLUDED.data
			WHERE warden_webhook_lanes.cursor <= EXCLUDED.cursor`,
			l.Webhook, string(l.Account), int64(l.Cursor), string(v))
		if err != nil {
			return err
		}
	}
	for _, f := range failed {
		if err := putFailure(ctx, tx, f); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// putFailure stores f unless its webhook is deleted.
func putFailure(ctx context.Context, db execer, f outbox.Failure) error {
	v, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode the failure of %s: %w", f.Event.ID, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO warden_webhook_failures (webhook, seq, failed_at, data)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM warden_webhooks WHERE id = $1)
		ON CONFLICT (webhook, seq) DO UPDATE SET failed_at = EXCLUDED.failed_at, data = EXCLUDED.data`,
		f.Webhook, int64(f.Seq), f.FailedAt.UTC(), string(v))
	return err
}

// PutWebhookFailure implements outbox.Store.
func (s *DB) PutWebhookFailure(ctx context.Context, f outbox.Failure) error {
	err := putFailure(ctx, s.db, f)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation {
		err = nil // deleted meanwhile
	}
	if err != nil {
		return fmt.Errorf("store the failure of %s for webhook %s: %w", f.Event.ID, f.Webhook, err)
	}
	return nil
}

// WebhookFailures implements outbox.Store.
func (s *DB) WebhookFailures(ctx context.Context, webhook string) ([]outbox.Failure, error) {
	out, err := queryJSON[outbox.Failure](ctx, s.db, "SELECT data FROM warden_webhook_failures WHERE webhook = $1 ORDER BY seq", webhook)
	if err != nil {
		return nil, fmt.Errorf("read the failures of webhook %s: %w", webhook, err)
	}
	for i := range out {
		out[i].Event.Seq = out[i].Seq
	}
	return out, nil
}

// DeleteWebhookFailure implements outbox.Store.
func (s *DB) DeleteWebhookFailure(ctx context.Context, webhook string, seq uint64) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM warden_webhook_failures WHERE webhook = $1 AND seq = $2", webhook, int64(seq)); err != nil {
		return fmt.Errorf("delete the failure of event %d for webhook %s: %w", seq, webhook, err)
	}
	return nil
}

// maxOutboxPrune bounds the deletions of one PruneOutbox transaction.
const maxOutboxPrune = 10_000

// PruneOutbox implements outbox.Store. It deletes at most maxOutboxPrune
// events and as many failures in one transaction.
func (s *DB) PruneOutbox(ctx context.Context, before, failedBefore time.Time) (events, failures int, more bool, err error) {
	events, failures, err = s.pruneOutbox(ctx, before, failedBefore)
	if err != nil {
		return 0, 0, false, fmt.Errorf("prune the outbox: %w", err)
	}
	return events, failures, max(events, failures) == maxOutboxPrune, nil
}

func (s *DB) pruneOutbox(ctx context.Context, before, failedBefore time.Time) (int, int, error) {
	hooks, err := s.Webhooks(ctx)
	if err != nil {
		return 0, 0, err
	}
	floors := map[string]map[core.AccountID]uint64{}
	for _, w := range hooks {
		lanes, err := s.WebhookLanes(ctx, w.ID)
		if err != nil {
			return 0, 0, err
		}
		floors[w.ID] = map[core.AccountID]uint64{}
		for _, l := range lanes {
			floors[w.ID][l.Account] = l.Cursor
		}
	}
	// The lanes were read first: they only move forward, so an event they
	// are done with stays done. A webhook created since wants only events
	// after its After, which are newer than these.
	// Oldest first, up to the first event not older than before (as the
	// bbolt store does): a read of the oldest, not of every event.
	rows, err := s.db.QueryContext(ctx, "SELECT seq, account, type, at FROM warden_outbox ORDER BY seq LIMIT $1", maxOutboxPrune)
	if err != nil {
		return 0, 0, err
	}
	var doomed []int64
	for rows.Next() {
		var ev outbox.Event
		var seq int64
		var account string
		var at time.Time
		if err := rows.Scan(&seq, &account, &ev.Type, &at); err != nil {
			rows.Close()
			return 0, 0, err
		}
		if !at.Before(before) {
			break
		}
		ev.Seq, ev.Account = uint64(seq), core.AccountID(account)
		if !pending(ev, hooks, floors) {
			doomed = append(doomed, seq)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if len(doomed) > 0 {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM warden_outbox WHERE seq = ANY($1)", doomed); err != nil {
			return 0, 0, err
		}
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM warden_webhook_failures WHERE (webhook, seq) IN (
		SELECT webhook, seq FROM warden_webhook_failures WHERE failed_at < $1 LIMIT $2)`, failedBefore.UTC(), maxOutboxPrune)
	if err != nil {
		return 0, 0, err
	}
	n, err := res.RowsAffected()
	return len(doomed), int(n), err
}

// pending reports whether a webhook that wants ev has not delivered it yet.
func pending(ev outbox.Event, hooks []outbox.Webhook, floors map[string]map[core.AccountID]uint64) bool {
	return slices.ContainsFunc(hooks, func(w outbox.Webhook) bool {
		if !w.Wants(ev) || ev.Seq <= w.After {
			return false
		}
		cursor, ok := floors[w.ID][ev.Account]
		return !ok || ev.Seq > cursor
	})
}
