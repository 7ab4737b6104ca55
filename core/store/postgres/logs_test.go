package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"warden/core"
	"warden/core/pgserver"
	"warden/core/store"
	"warden/core/store/postgres"
)

// Two nodes write an account's lines; either reads them all, in order,
// each tagged with its node. Lines of an unknown account are dropped, the
// filters work as the local store's, and each account keeps its newest
// LogCap lines.
func TestLogsOfTheFleet(t *testing.T) {
	dsn := pgserver.Start(t)
	ctx := context.Background()
	db, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range []core.AccountID{"a1", "a2"} {
		if err := db.PutAccount(ctx, core.Account{ID: id, Name: string(id), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	line := func(sec int, level slog.Level, msg string) store.LogLine {
		return store.LogLine{At: t0.Add(time.Duration(sec) * time.Second), Level: level, Message: msg, Attrs: map[string]string{"epoch": fmt.Sprint(sec)}}
	}
	if err := db.AppendLogs(ctx, "node-a", map[core.AccountID][]store.LogLine{
		"a1":    {line(1, slog.LevelInfo, "dialling"), line(2, slog.LevelWarn, "state Connected → Waiting")},
		"ghost": {line(1, slog.LevelInfo, "a deleted account's late line")},
		"":      {line(1, slog.LevelInfo, "Warden's own")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLogs(ctx, "node-b", map[core.AccountID][]store.LogLine{
		"a1": {line(3, slog.LevelInfo, "account acquired")},
		"a2": {line(4, slog.LevelError, "could not connect")},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := db.Logs(ctx, "a1", 100, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, l := range got {
		desc = append(desc, fmt.Sprintf("%s@%s#%s", l.Message, l.Attrs["node"], l.Attrs["epoch"]))
	}
	if want := "[dialling@node-a#1 state Connected → Waiting@node-a#2 account acquired@node-b#3]"; fmt.Sprint(desc) != want {
		t.Errorf("a1's lines: %v, want %s", desc, want)
	}
	if got, _ := db.Logs(ctx, "a1", 100, slog.LevelWarn, ""); len(got) != 1 || got[0].Level != slog.LevelWarn {
		t.Errorf("warnings and above: %v", got)
	}
	if got, _ := db.Logs(ctx, "a1", 100, slog.LevelDebug, "ACQUIRED"); len(got) != 1 {
		t.Errorf("search by message: %v", got)
	}
	if got, _ := db.Logs(ctx, "a1", 100, slog.LevelDebug, "node-b"); len(got) != 1 {
		t.Errorf("search by attribute (the node): %v", got)
	}
	if got, _ := db.Logs(ctx, "a1", 2, slog.LevelDebug, ""); len(got) != 2 || got[1].Message != "account acquired" {
		t.Errorf("the newest 2: %v", got)
	}
	all, _ := db.AllLogs(ctx, 100, slog.LevelDebug, "")
	if len(all) != 4 || all[3].Account != "a2" || all[0].Account != "a1" {
		t.Errorf("all lines: %v", all)
	}
	if got, _ := db.Logs(ctx, "ghost", 100, slog.LevelDebug, ""); len(got) != 0 {
		t.Errorf("an unknown account's lines were kept: %v", got)
	}

	// The cap, and a delete takes the lines with it.
	old := postgres.LogCap
	postgres.LogCap = 3
	defer func() { postgres.LogCap = old }()
	if err := db.AppendLogs(ctx, "node-a", map[core.AccountID][]store.LogLine{"a1": {line(5, slog.LevelInfo, "five"), line(6, slog.LevelInfo, "six")}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Logs(ctx, "a1", 100, slog.LevelDebug, ""); len(got) != 3 || got[0].Message != "account acquired" || got[2].Message != "six" {
		t.Errorf("after the cap of 3: %v", got)
	}
	if err := db.DeleteAccount(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Logs(ctx, "a1", 100, slog.LevelDebug, ""); len(got) != 0 {
		t.Errorf("a deleted account's lines stayed: %v", got)
	}
}
