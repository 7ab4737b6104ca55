package ui

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/core"
)

// LogLine is one log line of Warden (Account "") or of an account.
type LogLine struct {
	At      time.Time
	Level   slog.Level
	Account core.AccountID
	Message string
	// Attrs are the record's other attributes, "group.key" inside groups.
	Attrs map[string]string
}

// LogSource is where the logs views read lines: the stored ones, of earlier
// runs too, and the live ones.
type LogSource interface {
	// History returns the newest lines of an account ("" for Warden's own),
	// or of every account and Warden's own when all is set: at most limit,
	// newest last, at minLevel or above, and whose message or an attribute
	// value contains contains, ignoring case ("" matches all).
	History(ctx context.Context, id core.AccountID, all bool, limit int, minLevel slog.Level, contains string) ([]LogLine, error)
	// Subscribe streams the lines logged from now on, of every account. It
	// never blocks the logger; a slow reader may miss lines.
	Subscribe() (<-chan LogLine, func())
}

// How much the logs views hold, and how often they take new lines.
const (
	maxLogLines   = 20_000
	logBatchEvery = 100 * time.Millisecond // at most 10 redraws a second
	searchDelay   = 300 * time.Millisecond // typing pauses this long before the stored logs are searched
)

// The level filter's choices, lowest first.
var logLevels = []struct {
	name  string
	level slog.Level
}{
	{"Debug", slog.LevelDebug},
	{"Info", slog.LevelInfo},
	{"Warn", slog.LevelWarn},
	{"Error", slog.LevelError},
}

// logFilter is what a logs view shows.
type logFilter struct {
	level slog.Level
	query string // as typed; matched ignoring case
	// all shows every account and Warden's own lines; otherwise only
	// account's.
	all     bool
	account core.AccountID
}

// matches reports whether l passes f. q is f.query in lower case.
func (f logFilter) matches(l LogLine, q string) bool {
	if l.Level < f.level || (!f.all && l.Account != f.account) {
		return false
	}
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

// filterLogs returns the lines that pass f, in their order.
func filterLogs(lines []LogLine, f logFilter) []LogLine {
	q := strings.ToLower(f.query)
	var out []LogLine
	for _, l := range lines {
		if f.matches(l, q) {
			out = append(out, l)
		}
	}
	return out
}

// levelWord is a level as the logs show it, five characters wide.
func levelWord(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO "
	case l < slog.LevelError:
		return "WARN "
	}
	return "ERROR"
}

// formatAttrs writes attributes as sorted key=value pairs, quoting values
// that would not read as one word.
func formatAttrs(attrs map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(attrs)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := attrs[k]
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// formatLogLine writes a line as export and copy give it: UTC time, level,
// [account], message and attributes. The message's further lines are
// indented.
func formatLogLine(l LogLine) string {
	var b strings.Builder
	b.WriteString(l.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString("  " + levelWord(l.Level) + "  ")
	if l.Account != "" {
		b.WriteString("[" + string(l.Account) + "] ")
	}
	b.WriteString(strings.ReplaceAll(strings.TrimRight(l.Message, "\n"), "\n", "\n    "))
	if len(l.Attrs) > 0 {
		b.WriteString("  " + formatAttrs(l.Attrs))
	}
	return b.String()
}

// writeLogs writes lines to w, one formatLogLine each.
func writeLogs(w io.Writer, lines []LogLine) error {
	for _, l := range lines {
		if _, err := io.WriteString(w, formatLogLine(l)+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// lineKey identifies a line that may come both from the store and live.
type lineKey struct {
	at      int64
	account core.AccountID
	msg     string
}

func keyOf(l LogLine) lineKey { return lineKey{l.At.UnixNano(), l.Account, l.Message} }
