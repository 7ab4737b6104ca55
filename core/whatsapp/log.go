package whatsapp

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// waLogger forwards whatsmeow's logs to slog. Its records carry the account
// (set on root by the caller) and the whatsmeow module ("Client/Socket").
//
// The Send and Recv modules log every XML node at Debug. Those lines are
// dropped unless level is Debug, whatever the slog handler would accept.
type waLogger struct {
	root   *slog.Logger // without the module attribute, for Sub
	log    *slog.Logger // root with the module attribute
	module string
	level  slog.Leveler
	nodes  bool // the module is Send or Recv
}

var _ waLog.Logger = (*waLogger)(nil)

func newWALogger(root *slog.Logger, module string, level slog.Leveler) *waLogger {
	last := module[strings.LastIndexByte(module, '/')+1:]
	return &waLogger{
		root:   root,
		log:    root.With("module", module),
		module: module,
		level:  level,
		nodes:  last == "Send" || last == "Recv",
	}
}

func (l *waLogger) Errorf(msg string, args ...any) { l.output(slog.LevelError, msg, args) }
func (l *waLogger) Warnf(msg string, args ...any)  { l.output(slog.LevelWarn, msg, args) }
func (l *waLogger) Infof(msg string, args ...any)  { l.output(slog.LevelInfo, msg, args) }
func (l *waLogger) Debugf(msg string, args ...any) { l.output(slog.LevelDebug, msg, args) }

// Sub returns the logger of a whatsmeow sub-module, named "parent/module".
func (l *waLogger) Sub(module string) waLog.Logger {
	return newWALogger(l.root, l.module+"/"+module, l.level)
}

func (l *waLogger) output(level slog.Level, msg string, args []any) {
	if l.nodes && level <= slog.LevelDebug && l.level.Level() > slog.LevelDebug {
		return
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	text := fmt.Sprintf(msg, args...)
	if level > slog.LevelDebug {
		text = redact(text)
	}
	l.log.Log(ctx, level, text)
}

// phoneJID matches the user part of a phone-number or LID JID, such as
// "15551234567.0:12@s.whatsapp.net".
var phoneJID = regexp.MustCompile(`\d{3,}((?:\.\d+)?(?::\d+)?@(?:s\.whatsapp\.net|lid|c\.us))`)

// redact hides phone numbers in a log line above Debug level: the number's
// digits but the last two become "…". Debug lines keep them.
func redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return phoneJID.ReplaceAllStringFunc(s, func(m string) string {
		at := strings.IndexAny(m, ".:@")
		user, rest := m[:at], m[at:]
		return "…" + user[len(user)-2:] + rest
	})
}

// newZerolog returns a zerolog logger whose lines go to log. whatsmeow logs
// about two dozen lines through zerolog.Ctx(ctx) instead of its waLog.Logger;
// the session's contexts carry this logger so that those reach slog too.
func newZerolog(log *slog.Logger) zerolog.Logger {
	level := zerolog.InfoLevel
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = zerolog.DebugLevel
	}
	return zerolog.New(zerologWriter{log: log.With("module", "Client")}).Level(level)
}

// zerologWriter turns zerolog's JSON lines into slog records.
type zerologWriter struct{ log *slog.Logger }

func (w zerologWriter) Write(p []byte) (int, error) {
	var fields map[string]any
	if err := json.Unmarshal(p, &fields); err != nil {
		w.log.Warn("unreadable zerolog line", "line", string(p))
		return len(p), nil
	}
	level := slog.LevelInfo
	switch fields[zerolog.LevelFieldName] {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	}
	ctx := context.Background()
	if !w.log.Enabled(ctx, level) {
		return len(p), nil
	}
	msg, _ := fields[zerolog.MessageFieldName].(string)
	delete(fields, zerolog.LevelFieldName)
	delete(fields, zerolog.MessageFieldName)
	attrs := make([]any, 0, 2*len(fields))
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := fields[k]
		if level > slog.LevelDebug {
			if s, ok := v.(string); ok {
				v = redact(s)
			}
		}
		attrs = append(attrs, k, v)
	}
	if level > slog.LevelDebug {
		msg = redact(msg)
	}
	w.log.Log(ctx, level, msg, attrs...)
	return len(p), nil
}
