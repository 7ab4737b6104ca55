package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"warden/core"
	"warden/core/store"
)

// The accounts' log lines, in a fleet: every node writes the lines of the
// accounts it runs here, tagged with its name (the "node" attribute), so
// that any node's Logs tab shows an account's whole log. Warden's own lines
// (of no account) stay in each node's local store. Each account keeps its
// newest LogCap lines; lines of an account that does not exist are dropped.

// LogCap is how many lines each account keeps (a variable for tests).
var LogCap = store.DefaultLogCap

// AppendLogs stores a batch of lines, by account, in one transaction.
// Lines of Warden itself (account "") are refused: they are the node's own.
func (s *DB) AppendLogs(ctx context.Context, node string, batch map[core.AccountID][]store.LogLine) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append logs: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for id, lines := range batch {
		if id == "" || len(lines) == 0 {
			continue
		}
		for _, l := range lines {
			attrs := l.Attrs
			if node != "" {
				attrs = make(map[string]string, len(l.Attrs)+1)
				for k, v := range l.Attrs {
					attrs[k] = v
				}
				attrs["node"] = node
			}
			data, err := json.Marshal(attrs)
			if err != nil {
				return fmt.Errorf("append logs: %w", err)
			}
			// Dropped when the account does not exist (any more).
			if _, err := tx.ExecContext(ctx, `INSERT INTO warden_logs (account, at, level, msg, attrs)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM warden_accounts WHERE id = $1)`,
				string(id), l.At.UTC(), int(l.Level), l.Message, data); err != nil {
				return fmt.Errorf("append logs: %w", err)
			}
		}
		// Keep the newest LogCap lines.
		if _, err := tx.ExecContext(ctx, `DELETE FROM warden_logs WHERE account = $1 AND id <= (
			SELECT id FROM warden_logs WHERE account = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`, string(id), LogCap); err != nil {
			return fmt.Errorf("append logs: trim: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append logs: %w", err)
	}
	return nil
}

// Logs returns an account's newest lines, at most limit, newest last: those
// at minLevel or above whose message or an attribute value contains
// contains, ignoring case.
func (s *DB) Logs(ctx context.Context, id core.AccountID, limit int, minLevel slog.Level, contains string) ([]store.LogLine, error) {
	return s.logs(ctx, "account = $1", []any{string(id)}, limit, minLevel, contains)
}

// AllLogs is Logs over every account, merged by time.
func (s *DB) AllLogs(ctx context.Context, limit int, minLevel slog.Level, contains string) ([]store.LogLine, error) {
	return s.logs(ctx, "TRUE", nil, limit, minLevel, contains)
}

func (s *DB) logs(ctx context.Context, where string, args []any, limit int, minLevel slog.Level, contains string) ([]store.LogLine, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := len(args)
	q := fmt.Sprintf(`SELECT account, at, level, msg, attrs FROM warden_logs WHERE %s AND level >= $%d`, where, n+1)
	args = append(args, int(minLevel))
	if contains != "" {
		q += fmt.Sprintf(` AND (strpos(lower(msg), $%d) > 0 OR EXISTS (
			SELECT 1 FROM jsonb_each_text(COALESCE(attrs, '{}'::jsonb)) WHERE strpos(lower(value), $%d) > 0))`, n+2, n+2)
		args = append(args, strings.ToLower(contains))
	}
	q += fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT $%d`, len(args)+1)
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	defer rows.Close()
	var out []store.LogLine
	for rows.Next() {
		var l store.LogLine
		var account string
		var level int
		var attrs []byte
		if err := rows.Scan(&account, &l.At, &level, &l.Message, &attrs); err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
		l.Account, l.Level = core.AccountID(account), slog.Level(level)
		if len(attrs) > 0 && string(attrs) != "null" {
			if err := json.Unmarshal(attrs, &l.Attrs); err != nil {
				return nil, fmt.Errorf("logs: an unreadable line of %s: %w", account, err)
			}
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}
