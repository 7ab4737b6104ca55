package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
	"warden/core/logbook"
	"warden/core/store"
	"warden/ui"
)

func logMessages(lines []ui.LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, string(l.Account)+": "+l.Message)
	}
	return out
}

// The logs views read the store (earlier runs) and the book (lines not
// written yet, and lines of accounts the store does not keep), each line once.
func TestLogSourceHistoryMergesStoreAndMemory(t *testing.T) {
	ctx := t.Context()
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PutAccount(ctx, core.Account{ID: "a1", Name: "Sales"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)
	// An earlier run: only in the store.
	earlier := []store.LogLine{
		{At: t0, Level: slog.LevelInfo, Message: "Connected"},
		{At: t0.Add(time.Second), Level: slog.LevelWarn, Message: "stream error", Attrs: map[string]string{"code": "515"}},
	}
	if err := db.AppendLogs(ctx, "a1", earlier...); err != nil {
		t.Fatal(err)
	}
	// This run: the book has everything, the store the first line only.
	book := logbook.New(slog.LevelDebug, logbook.Options{})
	log := slog.New(book)
	now := t0.Add(time.Hour)
	for i, msg := range []string{"Reconnecting", "Connected again"} {
		r := slog.NewRecord(now.Add(time.Duration(i)*time.Second), slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.String("account", "a1"))
		if err := log.Handler().Handle(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AppendLogs(ctx, "a1", store.LogLine{At: now, Level: slog.LevelInfo, Message: "Reconnecting"}); err != nil {
		t.Fatal(err)
	}
	r := slog.NewRecord(now.Add(-time.Second), slog.LevelDebug, "<iq/>", 0)
	r.AddAttrs(slog.String("account", "a1"), slog.String("module", "Client/Send"))
	_ = log.Handler().Handle(ctx, r)
	log.Info("warden started") // Warden's own, in memory only

	src := &logSource{db: db, book: book}
	got, err := src.History(ctx, "a1", false, 100, slog.LevelInfo, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a1: Connected", "a1: stream error", "a1: Reconnecting", "a1: Connected again"}
	if !slices.Equal(logMessages(got), want) {
		t.Errorf("History(a1) = %q, want %q", logMessages(got), want)
	}
	if got[1].Attrs["code"] != "515" {
		t.Errorf("a stored line lost its attributes: %v", got[1].Attrs)
	}

	got, _ = src.History(ctx, "a1", false, 100, slog.LevelDebug, "")
	if len(got) != 5 || got[2].Message != "<iq/>" {
		t.Errorf("History(a1) at Debug = %q, want the XML line between the runs", logMessages(got))
	}
	got, _ = src.History(ctx, "a1", false, 100, slog.LevelInfo, "AGAIN")
	if want := []string{"a1: Connected again"}; !slices.Equal(logMessages(got), want) {
		t.Errorf("History(a1, search AGAIN) = %q, want %q", logMessages(got), want)
	}
	got, _ = src.History(ctx, "a1", false, 2, slog.LevelInfo, "")
	if want := []string{"a1: Reconnecting", "a1: Connected again"}; !slices.Equal(logMessages(got), want) {
		t.Errorf("History(a1, limit 2) = %q, want the newest %q", logMessages(got), want)
	}
	got, _ = src.History(ctx, "", true, 100, slog.LevelInfo, "")
	if n := len(got); n != 5 || got[4].Message != "warden started" || got[4].Account != "" {
		t.Errorf("History(all) = %q, want the 4 lines of a1 and Warden's own last", logMessages(got))
	}
}

func TestLogSourceSubscribe(t *testing.T) {
	book := logbook.New(slog.LevelInfo, logbook.Options{})
	src := &logSource{book: book}
	live, cancel := src.Subscribe()
	slog.New(book).Info("dialling", "account", "a1", "attempt", 2)
	l := <-live
	if l.Account != "a1" || l.Message != "dialling" || l.Attrs["attempt"] != "2" {
		t.Errorf("live line = %+v", l)
	}
	slog.New(book).Info("not read") // the forwarder waits to hand it over
	cancel()
	cancel()
	for range live { // closes once cancelled, whatever was waiting
	}
}

// A deleted account's lines leave the log book's memory too.
func TestDeletedAccountsLinesAreForgotten(t *testing.T) {
	book := logbook.New(slog.LevelInfo, logbook.Options{})
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: coretest.NewStore(), Logger: slog.New(book)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	defer m.Close(ctx)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	forgetDeleted(m, book)
	acct, err := m.Add(ctx, "Short-lived")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(book.Recent(acct.ID, 0)) > 0 })
	if err := m.Delete(ctx, acct.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return len(book.Recent(acct.ID, 0)) == 0 })
}
