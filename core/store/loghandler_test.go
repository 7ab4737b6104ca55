package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

func TestLogHandlerStoresRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	putAccounts(t, db, "a")
	logger := slog.New(db.LogHandler(slog.LevelInfo))

	logger.Debug("below the level")
	logger.Info("warden started", "version", "1.2")
	acct := logger.With(AccountKey, "a")
	acct.WithGroup("ws").Info("connected", "epoch", 3, slog.Group("peer", "ip", "192.0.2.1"))
	acct.Warn("stream error", "code", 503, "err", fmt.Errorf("service unavailable"))
	logger.Info("tagged per record", AccountKey, "a")
	logger.Info("late line of a deleted account", AccountKey, "gone")
	if err := db.Close(); err != nil { // writes what is buffered
		t.Fatal(err)
	}

	db = openAt(t, path)
	own, err := db.Logs(ctx, "", 10, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 1 || own[0].Message != "warden started" || own[0].Attrs["version"] != "1.2" || own[0].Level != slog.LevelInfo {
		t.Errorf("Warden's own log = %+v, want the one info line with its version", own)
	}
	lines, err := db.Logs(ctx, "a", 10, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(messages(lines)) != "[connected stream error tagged per record]" {
		t.Fatalf("a's log = %v", messages(lines))
	}
	want := map[string]string{"ws.epoch": "3", "ws.peer.ip": "192.0.2.1"}
	if fmt.Sprint(lines[0].Attrs) != fmt.Sprint(want) {
		t.Errorf("grouped attributes = %v, want %v", lines[0].Attrs, want)
	}
	if lines[1].Attrs["code"] != "503" || lines[1].Attrs["err"] != "service unavailable" || lines[1].Level != slog.LevelWarn {
		t.Errorf("warn line = %+v", lines[1])
	}
	if _, ok := lines[2].Attrs[AccountKey]; ok {
		t.Errorf("the account attribute was stored as an attribute too: %v", lines[2].Attrs)
	}
	if err := db.LogWriteErr(); err != nil {
		t.Errorf("LogWriteErr() = %v", err)
	}
}

// When lines come faster than they are written, the newest are dropped and
// Warden's own log says how many.
func TestLogHandlerDropsWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openTest(t)
		defer db.Close()
		db.sink.max = 10
		logger := slog.New(db.LogHandler(slog.LevelInfo))
		for i := range 25 {
			logger.Info(fmt.Sprint("line ", i))
		}
		time.Sleep(time.Second) // the flusher writes after 200 ms
		synctest.Wait()
		lines, err := db.Logs(context.Background(), "", 100, slog.LevelDebug, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 11 || lines[0].Message != "line 0" || lines[9].Message != "line 9" ||
			lines[10].Message != "dropped 15 log lines: they came faster than the store could write them" {
			t.Errorf("stored %d lines: %q", len(lines), messages(lines))
		}
		// Once written, the buffer takes lines again.
		logger.Info("after the flush")
		time.Sleep(time.Second)
		synctest.Wait()
		if lines, _ := db.Logs(context.Background(), "", 1, slog.LevelDebug, ""); len(lines) != 1 || lines[0].Message != "after the flush" {
			t.Errorf("newest line = %q", messages(lines))
		}
	})
}

// The store may log through a logger that ends in its own LogHandler: its
// warnings are written like any other line, and nothing deadlocks.
func TestStoreLogsIntoItself(t *testing.T) {
	var target atomic.Pointer[slog.Handler]
	db := openTest(t, WithLogger(slog.New(forward{&target})))
	h := db.LogHandler(slog.LevelInfo)
	target.Store(&h)
	putAccounts(t, db, "a")
	// An event of an unknown account makes the store warn.
	if err := db.AppendEvents(context.Background(), event("nobody", 0, time.Now()), event("a", 0, time.Now())); err != nil {
		t.Fatal(err)
	}
	db.sink.close() // write what is buffered now
	lines, err := db.Logs(context.Background(), "", 10, slog.LevelDebug, "unknown accounts")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].Level != slog.LevelWarn {
		t.Errorf("the store's warning in its own log = %+v", lines)
	}
}

// forward is a handler that passes records to another one, set later.
type forward struct{ to *atomic.Pointer[slog.Handler] }

func (f forward) Enabled(ctx context.Context, l slog.Level) bool {
	h := f.to.Load()
	return h != nil && (*h).Enabled(ctx, l)
}
func (f forward) Handle(ctx context.Context, r slog.Record) error {
	return (*f.to.Load()).Handle(ctx, r)
}
func (f forward) WithAttrs(as []slog.Attr) slog.Handler { return f }
func (f forward) WithGroup(string) slog.Handler         { return f }

// In a fleet, the accounts' lines go to the forward function; Warden's own
// stay in this store.
func TestLogHandlerForwardsAccountLines(t *testing.T) {
	ctx := context.Background()
	db := openAt(t, filepath.Join(t.TempDir(), DBFile))
	putAccounts(t, db, "a")
	var got []string
	db.ForwardAccountLogs(func(_ context.Context, batch map[core.AccountID][]LogLine) error {
		for id, lines := range batch {
			for _, l := range lines {
				got = append(got, string(id)+": "+l.Message)
			}
		}
		return nil
	})
	logger := slog.New(db.LogHandler(slog.LevelInfo))
	logger.Info("joined the fleet")
	logger.Info("account acquired", AccountKey, "a")
	logger.Info("of an account this store does not know", AccountKey, "remote")
	db.FlushLogs()
	slices.Sort(got)
	if want := "[a: account acquired remote: of an account this store does not know]"; fmt.Sprint(got) != want {
		t.Errorf("forwarded %q, want %s", got, want)
	}
	own, _ := db.Logs(ctx, "", 10, slog.LevelDebug, "")
	local, _ := db.Logs(ctx, "a", 10, slog.LevelDebug, "")
	if len(own) != 1 || own[0].Message != "joined the fleet" || len(local) != 0 {
		t.Errorf("kept here: own %v, the account's %v", own, local)
	}
}
