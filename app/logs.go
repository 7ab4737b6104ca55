package app

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"warden/core"
	"warden/core/logbook"
	"warden/core/store"
	"warden/ui"
)

// logSource is what the logs views read: the store's lines, of earlier runs
// too, merged with the newest lines in memory (the store writes them about
// every 200 ms, and keeps no lines of an account it does not know), and the
// live lines of the log book.
type logSource struct {
	db   *store.DB
	book *logbook.Book
	// shared, in a fleet, holds every node's lines of the accounts.
	shared sharedLogs
}

// sharedLogs are the accounts' lines of a fleet (postgres.DB).
type sharedLogs interface {
	Logs(ctx context.Context, id core.AccountID, limit int, minLevel slog.Level, contains string) ([]store.LogLine, error)
	AllLogs(ctx context.Context, limit int, minLevel slog.Level, contains string) ([]store.LogLine, error)
}

var _ ui.LogSource = (*logSource)(nil)

// History returns the newest matching lines of id, or of everything when all
// is set, from the store and from memory, each line once, newest last.
func (s *logSource) History(ctx context.Context, id core.AccountID, all bool, limit int, minLevel slog.Level, contains string) ([]ui.LogLine, error) {
	var stored []store.LogLine
	var mem []logbook.Line
	var err error
	switch {
	case all:
		stored, err = s.db.AllLogs(ctx, limit, minLevel, contains)
		if err == nil && s.shared != nil {
			var more []store.LogLine
			if more, err = s.shared.AllLogs(ctx, limit, minLevel, contains); err == nil {
				stored = append(stored, more...)
				slices.SortStableFunc(stored, func(a, b store.LogLine) int { return a.At.Compare(b.At) })
			}
		}
		mem = s.book.RecentAll(0)
	case s.shared != nil && id != "":
		stored, err = s.shared.Logs(ctx, id, limit, minLevel, contains)
		mem = s.book.Recent(id, 0)
	default:
		stored, err = s.db.Logs(ctx, id, limit, minLevel, contains)
		mem = s.book.Recent(id, 0)
	}
	if err != nil {
		return nil, err
	}
	return mergeLogs(stored, mem, limit, minLevel, contains), nil
}

// mergeLogs merges stored and in-memory lines by time: those of mem that
// match minLevel and contains and are not in stored are added, and the
// newest limit are kept.
func mergeLogs(stored []store.LogLine, mem []logbook.Line, limit int, minLevel slog.Level, contains string) []ui.LogLine {
	type key struct {
		at      int64
		account core.AccountID
		msg     string
	}
	out := make([]ui.LogLine, 0, len(stored)+len(mem))
	seen := make(map[key]bool, len(stored))
	for _, l := range stored {
		seen[key{l.At.UnixNano(), l.Account, l.Message}] = true
		out = append(out, ui.LogLine{At: l.At, Level: l.Level, Account: l.Account, Message: l.Message, Attrs: l.Attrs})
	}
	q := strings.ToLower(contains)
	added := false
	for _, l := range mem {
		if l.Level < minLevel || !matches(l, q) || seen[key{l.At.UnixNano(), l.Account, l.Message}] {
			continue
		}
		out = append(out, toUI(l))
		added = true
	}
	if added {
		slices.SortStableFunc(out, func(a, b ui.LogLine) int { return a.At.Compare(b.At) })
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// matches reports whether q (lower case) is in the message or an attribute
// value, as the store's search does.
func matches(l logbook.Line, q string) bool {
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

func toUI(l logbook.Line) ui.LogLine {
	return ui.LogLine{At: l.At, Level: l.Level, Account: l.Account, Message: l.Message, Attrs: l.Attrs}
}

// LogLevel is the level Warden logs at: the logs views say that lines below
// it are not recorded.
func (s *logSource) LogLevel() slog.Level { return s.book.Level() }

// Subscribe streams the book's new lines until cancel is called.
func (s *logSource) Subscribe() (<-chan ui.LogLine, func()) {
	in, cancelIn := s.book.Subscribe()
	out := make(chan ui.LogLine) // the book's subscription does the buffering
	done := make(chan struct{})
	go func() {
		defer close(out)
		for l := range in {
			select {
			case out <- toUI(l):
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return out, func() {
		once.Do(func() {
			close(done)
			cancelIn()
		})
	}
}

// forgetDeleted drops a deleted account's lines from the log book's memory,
// as the store drops them from disk. It subscribes before it returns, so no
// deletion after the call is missed; its goroutine ends when the Manager
// closes.
func forgetDeleted(m *core.Manager, book *logbook.Book) {
	updates, cancel := m.Subscribe()
	go func() {
		defer cancel()
		for st := range updates {
			if st.Removed {
				book.Forget(st.Account.ID)
			}
		}
	}()
}
