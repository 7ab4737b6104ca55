package store

import (
	"container/heap"
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
	batch := map[core.AccountID][]LogLine{id: lines}
	if err := db.appendLogBatch(ctx, batch); err != nil {
		return fmt.Errorf("append logs: %w", err)
	}
	return nil
}

// appendLogBatch stores the lines of several logs in one commit.
func (db *DB) appendLogBatch(ctx context.Context, batch map[core.AccountID][]LogLine) error {
	values := make(map[core.AccountID][][]byte, len(batch))
	for id, lines := range batch {
		if id != "" {
			if err := checkID(id); err != nil {
				return err
			}
		}
		vs := make([][]byte, len(lines))
		for i, l := range lines {
			l.At = l.At.UTC()
			v, err := json.Marshal(l)
			if err != nil {
				return fmt.Errorf("encode: %w", err)
			}
			vs[i] = v
		}
		values[id] = vs
	}
	limit := db.logCap
	return db.write(ctx, func(tx *bolt.Tx) error {
		for id, vs := range values {
			if err := putLogs(tx, id, vs, limit); err != nil {
				return err
			}
		}
		return nil
	})
}

// putLogs appends values to the log of id and trims it to limit lines. It
// skips the lines of an unknown account.
func putLogs(tx *bolt.Tx, id core.AccountID, values [][]byte, limit int) error {
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
	// Log keys are contiguous: they only come from NextSequence and only the
	// oldest are deleted. So the count is last - first + 1.
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
// It reads each log backwards from its end and merges them, so it decodes
// about one line per account plus the lines it returns.
func (db *DB) AllLogs(ctx context.Context, limit int, minLevel slog.Level, contains string) ([]LogLine, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []LogLine
	err := db.view(ctx, func(tx *bolt.Tx) error {
		q := strings.ToLower(contains)
		var heads logHeap
		err := tx.Bucket(bucketLogs).ForEach(func(k, _ []byte) error {
			r := &logReader{c: tx.Bucket(bucketLogs).Bucket(k).Cursor(), id: logID(k), minLevel: minLevel, q: q}
			ok, err := r.next()
			if ok {
				heads = append(heads, r)
			}
			return err
		})
		if err != nil {
			return err
		}
		heap.Init(&heads)
		for len(heads) > 0 && len(out) < limit {
			r := heads[0]
			out = append(out, r.line)
			ok, err := r.next()
			if err != nil {
				return err
			}
			if ok {
				heap.Fix(&heads, 0)
			} else {
				heap.Pop(&heads)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("all logs: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// readLogs returns b's newest matching lines, newest last; q is lower case.
func readLogs(b *bolt.Bucket, id core.AccountID, limit int, minLevel slog.Level, q string) ([]LogLine, error) {
	if b == nil {
		return nil, nil
	}
	var out []LogLine
	r := &logReader{c: b.Cursor(), id: id, minLevel: minLevel, q: q}
	for len(out) < limit {
		ok, err := r.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		out = append(out, r.line)
	}
	slices.Reverse(out)
	return out, nil
}

// logReader reads one log backwards, matching lines only.
type logReader struct {
	c        *bolt.Cursor
	id       core.AccountID
	minLevel slog.Level
	q        string // lower case
	started  bool
	line     LogLine // the current line
}

// next moves to the next older matching line; false when there is none.
func (r *logReader) next() (bool, error) {
	var k, v []byte
	if r.started {
		k, v = r.c.Prev()
	} else {
		k, v = r.c.Last()
		r.started = true
	}
	for ; k != nil; k, v = r.c.Prev() {
		var l LogLine
		if err := json.Unmarshal(v, &l); err != nil {
			return false, fmt.Errorf("log line %d of %q: %w: %w", keySeq(k), r.id, ErrCorrupt, err)
		}
		if l.Level < r.minLevel || !l.matches(r.q) {
			continue
		}
		l.Account = r.id
		r.line = l
		return true, nil
	}
	return false, nil
}

// logHeap orders log readers by their current line, newest first.
type logHeap []*logReader

func (h logHeap) Len() int           { return len(h) }
func (h logHeap) Less(i, j int) bool { return h[i].line.At.After(h[j].line.At) }
func (h logHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *logHeap) Push(x any)        { *h = append(*h, x.(*logReader)) }
func (h *logHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
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
