package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// LogLine is one log record of an account, or of Warden itself (Account "").
type LogLine struct {
	// Account is filled in when the line is read; it is not stored in the value.
	Account core.AccountID    `json:"-"`
	At      time.Time         `json:"at"`
	Level   slog.Level        `json:"level"`
	Message string            `json:"msg"`
	Attrs   map[string]string `json:"attrs,omitempty"`
}

// wardenLog is the logs bucket of Warden's own lines (AccountID ""): bbolt
// needs a non-empty name and account IDs never start with a zero byte.
var wardenLog = []byte{0}

func logKey(id core.AccountID) []byte {
	if id == "" {
		return wardenLog
	}
	return []byte(id)
}

func logID(key []byte) core.AccountID {
	if string(key) == string(wardenLog) {
		return ""
	}
	return core.AccountID(key)
}

// AppendLogs stores log lines of one account ("" for Warden's own) and
// returns once they are committed and synced. Each account keeps its newest
// lines only, up to the log cap; the oldest go in the same commit. Lines of an
// account that does not exist (any more) are dropped: late lines of a deleted
// account must not bring back part of its log. AppendLogs never logs, so a
// slog handler may call it.
func (db *DB) AppendLogs(ctx context.Context, id core.AccountID, lines ...LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	if id != "" {
		if err := checkID(id); err != nil {
			return fmt.Errorf("append logs: %w", err)
		}
	}
	values := make([][]byte, len(lines))
	for i, l := range lines {
		l.At = l.At.UTC()
		v, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("append logs: encode: %w", err)
		}
		values[i] = v
	}
	limit := db.logCap
	err := db.write(ctx, func(tx *bolt.Tx) error {
		if id != "" && tx.Bucket(bucketAccounts).Get([]byte(id)) == nil {
			return nil
		}
		b, err := tx.Bucket(bucketLogs).CreateBucketIfNotExists(logKey(id))
		if err != nil {
			return err
		}
		b.FillPercent = appendFill
		for _, v := range values {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return err
			}
		}
		// Log keys are contiguous: they only come from NextSequence and only
		// the oldest are deleted. So the count is last - first + 1.
		c := b.Cursor()
		last, _ := c.Last()
		first, _ := c.First()
		for n := keySeq(last) - keySeq(first) + 1; n > uint64(limit); n-- {
			if err := c.Delete(); err != nil {
				return err
			}
			c.First()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append logs: %w", err)
	}
	return nil
}

// Logs returns an account's newest log lines ("" for Warden's own), at most
// limit, newest last: those at minLevel or above whose message or one of whose
// attribute values contains contains, ignoring case ("" matches all).
func (db *DB) Logs(ctx context.Context, id core.AccountID, limit int, minLevel slog.Level, contains string) ([]LogLine, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []LogLine
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = readLogs(tx.Bucket(bucketLogs).Bucket(logKey(id)), id, limit, minLevel, strings.ToLower(contains))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("logs of %q: %w", id, err)
	}
	return out, nil
}

// LogAccounts returns the accounts that have log lines, "" (Warden's own)
// first if it has any, then in ID order.
func (db *DB) LogAccounts(ctx context.Context) ([]core.AccountID, error) {
	var out []core.AccountID
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketLogs).ForEach(func(k, _ []byte) error {
			out = append(out, logID(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("log accounts: %w", err)
	}
	return out, nil
}

// AllLogs is Logs over every account and Warden's own log, merged by time:
// the newest limit matching lines, newest last, each with its Account set.
func (db *DB) AllLogs(ctx context.Context, limit int, minLevel slog.Level, contains string) ([]LogLine, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []LogLine
	err := db.view(ctx, func(tx *bolt.Tx) error {
		q := strings.ToLower(contains)
		return tx.Bucket(bucketLogs).ForEach(func(k, _ []byte) error {
			lines, err := readLogs(tx.Bucket(bucketLogs).Bucket(k), logID(k), limit, minLevel, q)
			out = append(out, lines...)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("all logs: %w", err)
	}
	slices.SortStableFunc(out, func(a, b LogLine) int { return a.At.Compare(b.At) })
	return out[max(0, len(out)-limit):], nil
}

// readLogs returns b's newest matching lines, newest last; q is lower case.
func readLogs(b *bolt.Bucket, id core.AccountID, limit int, minLevel slog.Level, q string) ([]LogLine, error) {
	if b == nil {
		return nil, nil
	}
	var out []LogLine
	c := b.Cursor()
	for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
		var l LogLine
		if err := json.Unmarshal(v, &l); err != nil {
			return nil, fmt.Errorf("log line %d: %w: %w", keySeq(k), ErrCorrupt, err)
		}
		if l.Level < minLevel || !l.matches(q) {
			continue
		}
		l.Account = id
		out = append(out, l)
	}
	slices.Reverse(out)
	return out, nil
}

// matches reports whether q (lower case) is in the message or an attribute value.
func (l LogLine) matches(q string) bool {
	if q == "" || strings.Contains(strings.ToLower(l.Message), q) {
		return true
	}
	for _, v := range l.Attrs {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}
