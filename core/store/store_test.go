package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
)

// discard is a logger for tests that do not look at the logs.
var discard = slog.New(slog.DiscardHandler)

// openTest opens a store in a new temporary directory and closes it at the
// end of the test.
func openTest(t testing.TB, opts ...Option) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), DBFile), opts...)
}

func openAt(t testing.TB, path string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(path, append([]Option{WithLogger(discard)}, opts...)...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func putAccounts(t testing.TB, db *DB, ids ...core.AccountID) {
	t.Helper()
	for i, id := range ids {
		a := core.Account{ID: id, Name: "acct " + string(id), CreatedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)}
		if err := db.PutAccount(context.Background(), a); err != nil {
			t.Fatalf("PutAccount(%s): %v", id, err)
		}
	}
}

func event(id core.AccountID, seq uint64, at time.Time) core.Event {
	return core.Event{Seq: seq, Account: id, At: at, From: core.Connecting, To: core.Connected,
		Cause: "connected", Reason: "logged in", Attempt: 2, Delay: 3 * time.Second, Epoch: 7}
}

func seqs(evs []core.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestAccountsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	paris := time.FixedZone("CET", 3600)
	want := []core.Account{
		{ID: "b", Name: "Sales", JID: "15551234567.0:12@s.whatsapp.net", CreatedAt: time.Date(2026, 3, 1, 10, 0, 0, 0, paris), AutoStart: true},
		{ID: "a", Name: "Support", CreatedAt: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)},
	}
	for _, a := range want {
		if err := db.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	renamed := want[1]
	renamed.Name = "Help desk"
	if err := db.PutAccount(ctx, renamed); err != nil {
		t.Fatal(err)
	}
	want[1] = renamed
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path)
	got, err := db.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Accounts() = %d accounts, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Name != want[i].Name || got[i].JID != want[i].JID ||
			got[i].AutoStart != want[i].AutoStart || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
			t.Errorf("Accounts()[%d] = %+v, want %+v", i, got[i], want[i])
		}
		if got[i].CreatedAt.Location() != time.UTC {
			t.Errorf("Accounts()[%d].CreatedAt in %v, want UTC", i, got[i].CreatedAt.Location())
		}
	}
	if err := db.PutAccount(ctx, core.Account{}); err == nil {
		t.Error("PutAccount with an empty ID succeeded")
	}
}

func TestAppendEventsAssignsAndKeepsSeqs(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "a", "b")
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("X", 2*3600))

	steps := []struct {
		name    string
		evs     []core.Event
		wantErr error
		wantA   []uint64 // a's seqs after the step
	}{
		{"seq 0 gets the next", []core.Event{event("a", 0, at), event("a", 0, at)}, nil, []uint64{1, 2}},
		{"explicit seq kept", []core.Event{event("a", 10, at)}, nil, []uint64{1, 2, 10}},
		{"seq 0 continues after the max", []core.Event{event("a", 0, at)}, nil, []uint64{1, 2, 10, 11}},
		{"equal seq refused", []core.Event{event("a", 11, at)}, ErrSequence, []uint64{1, 2, 10, 11}},
		{"lower seq refused, all or none", []core.Event{event("a", 12, at), event("a", 5, at)}, ErrSequence, []uint64{1, 2, 10, 11}},
		{"decreasing within a request refused", []core.Event{event("a", 20, at), event("a", 19, at)}, ErrSequence, []uint64{1, 2, 10, 11}},
		{"unknown account dropped, the rest stored", []core.Event{event("zz", 0, at), event("a", 0, at), event("zz", 5, at)}, nil, []uint64{1, 2, 10, 11, 12}},
		{"two accounts in one request", []core.Event{event("b", 0, at), event("a", 0, at), event("b", 0, at)}, nil, []uint64{1, 2, 10, 11, 12, 13}},
	}
	for _, s := range steps {
		err := db.AppendEvents(ctx, s.evs...)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: AppendEvents = %v, want %v", s.name, err, s.wantErr)
		}
		got, err := db.Events(ctx, "a", 100)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(got)) != fmt.Sprint(s.wantA) {
			t.Fatalf("%s: a's seqs = %v, want %v", s.name, seqs(got), s.wantA)
		}
	}
	if zz, _ := db.Events(ctx, "zz", 100); len(zz) != 0 {
		t.Errorf("an unknown account has %d stored events", len(zz))
	}
	b, err := db.Events(ctx, "b", 100)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seqs(b)) != "[1 2]" {
		t.Errorf("b's seqs = %v, want [1 2]", seqs(b))
	}
	ev := b[0]
	want := event("b", 1, at)
	if ev.Account != "b" || !ev.At.Equal(at) || ev.At.Location() != time.UTC || ev.From != want.From || ev.To != want.To ||
		ev.Cause != want.Cause || ev.Reason != want.Reason || ev.Attempt != want.Attempt || ev.Delay != want.Delay || ev.Epoch != want.Epoch {
		t.Errorf("stored event = %+v, want %+v with At in UTC", ev, want)
	}
}

func TestEventsNewestLast(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "a")
	for i := range 50 {
		if err := db.AppendEvents(ctx, event("a", uint64(i+1), time.Unix(int64(i), 0))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		limit int
		want  string
	}{
		{1, "[50]"},
		{3, "[48 49 50]"},
		{0, "[]"},
		{-1, "[]"},
	} {
		got, err := db.Events(ctx, "a", tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(seqs(got)) != tc.want {
			t.Errorf("Events(a, %d) = %v, want %s", tc.limit, seqs(got), tc.want)
		}
	}
	all, _ := db.Events(ctx, "a", 1000)
	if len(all) != 50 || all[0].Seq != 1 {
		t.Errorf("Events(a, 1000) = %d events from %d, want 50 from 1", len(all), all[0].Seq)
	}
	none, err := db.Events(ctx, "nobody", 10)
	if err != nil || len(none) != 0 {
		t.Errorf("Events(nobody) = %v, %v; want none, nil", none, err)
	}
}

func TestConcurrentAppendsAllLand(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	ids := []core.AccountID{"a", "b", "c", "d"}
	putAccounts(t, db, ids...)
	const writers, per = 16, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range per {
				if err := db.AppendEvents(ctx, event(ids[w%len(ids)], 0, time.Now())); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		evs, err := db.Events(ctx, id, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		want := writers / len(ids) * per
		if len(evs) != want {
			t.Fatalf("%s has %d events, want %d", id, len(evs), want)
		}
		for i, ev := range evs {
			if ev.Seq != uint64(i+1) {
				t.Fatalf("%s: event %d has seq %d, want %d (no holes, no repeats)", id, i, ev.Seq, i+1)
			}
		}
	}
}

func TestDeleteAccountRemovesEverything(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "gone", "kept")
	for _, id := range []core.AccountID{"gone", "kept"} {
		if err := db.AppendEvents(ctx, event(id, 0, time.Now()), event(id, 0, time.Now())); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendLogs(ctx, id, LogLine{At: time.Now(), Message: "hello " + string(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteAccount(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	accts, _ := db.Accounts(ctx)
	if len(accts) != 1 || accts[0].ID != "kept" {
		t.Errorf("Accounts() after delete = %v, want only kept", accts)
	}
	if evs, _ := db.Events(ctx, "gone", 10); len(evs) != 0 {
		t.Errorf("deleted account still has %d events", len(evs))
	}
	if logs, _ := db.Logs(ctx, "gone", 10, slog.LevelDebug, ""); len(logs) != 0 {
		t.Errorf("deleted account still has %d log lines", len(logs))
	}
	if evs, _ := db.Events(ctx, "kept", 10); len(evs) != 2 {
		t.Errorf("other account has %d events, want 2", len(evs))
	}
	// A late event of the deleted account must not bring back its timeline,
	// nor hold up another account's event.
	if err := db.AppendEvents(ctx, event("gone", 0, time.Now()), event("kept", 0, time.Now())); err != nil {
		t.Errorf("AppendEvents with a late event of a deleted account = %v", err)
	}
	if err := db.AppendLogs(ctx, "gone", LogLine{At: time.Now(), Message: "late"}); err != nil {
		t.Errorf("AppendLogs of a deleted account = %v", err)
	}
	if evs, _ := db.Events(ctx, "gone", 10); len(evs) != 0 {
		t.Errorf("a late event brought back %d events of the deleted account", len(evs))
	}
	if logs, _ := db.Logs(ctx, "gone", 10, slog.LevelDebug, ""); len(logs) != 0 {
		t.Errorf("a late line brought back %d log lines of the deleted account", len(logs))
	}
	if evs, _ := db.Events(ctx, "kept", 10); len(evs) != 3 {
		t.Errorf("the other account has %d events, want 3", len(evs))
	}
	if err := db.DeleteAccount(ctx, "gone"); err != nil {
		t.Errorf("deleting twice = %v, want nil", err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "a")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := db.AppendEvents(ctx, event("a", 0, time.Now())); !errors.Is(err, ErrClosed) {
		t.Errorf("AppendEvents after Close = %v, want ErrClosed", err)
	}
	if _, err := db.Events(ctx, "a", 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Events after Close = %v, want ErrClosed", err)
	}
	if _, err := db.Accounts(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Accounts after Close = %v, want ErrClosed", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DBFile)
	openAt(t, path)
	_, err := Open(path, WithLogger(discard), WithLockTimeout(100*time.Millisecond))
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "another Warden is using") {
		t.Errorf("ErrLocked message %q does not name %s and say another Warden is using it", msg, dir)
	}
}

func TestPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are a Unix matter")
	}
	dir := filepath.Join(t.TempDir(), "a", "warden")
	path := filepath.Join(dir, DBFile)
	db := openAt(t, path)
	db.Close()
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{dir, 0o700}, {filepath.Dir(dir), 0o700}, {path, 0o600}} {
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != c.want {
			t.Errorf("mode of %s = %v, want %v", c.path, got, c.want)
		}
	}

	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	db, err := Open(path, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("Open warned about a 0600 file: %s", buf.String())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), path) ||
		!strings.Contains(buf.String(), "set its mode to 0600") {
		t.Errorf("Open of a 0644 file did not say it set the mode, naming the file; log: %s", buf.String())
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("after Open, a 0644 file is %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

// Close while appends are running: each append either returns nil and its
// event is on disk after a reopen, or fails with ErrClosed.
func TestCloseDuringAppends(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	ids := []core.AccountID{"a", "b", "c", "d"}
	putAccounts(t, db, ids...)
	var mu sync.Mutex
	stored := map[core.AccountID]uint64{} // the last seq that returned nil
	var wg, running sync.WaitGroup
	running.Add(len(ids))
	for _, id := range ids {
		wg.Go(func() {
			var once sync.Once
			defer once.Do(running.Done) // on an early error
			for seq := uint64(1); ; seq++ {
				err := db.AppendEvents(ctx, event(id, seq, time.Now()))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("AppendEvents during Close = %v, want nil or ErrClosed", err)
					return
				}
				mu.Lock()
				stored[id] = seq
				mu.Unlock()
				if seq == 3 {
					once.Do(running.Done)
				}
			}
		})
	}
	running.Wait() // every writer is appending
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	db = openAt(t, path)
	for _, id := range ids {
		evs, err := db.Events(ctx, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		if stored[id] == 0 {
			t.Fatalf("%s: no append succeeded before Close", id)
		}
		if len(evs) != 1 || evs[0].Seq != stored[id] {
			t.Errorf("%s: last stored event %v, want seq %d, the last append that returned nil", id, seqs(evs), stored[id])
		}
	}
}

// A send's note keeps its message ID and latency through the store.
func TestSendNoteKeepsMessageIDAndLatency(t *testing.T) {
	db := openTest(t)
	putAccounts(t, db, "a1")
	ctx := context.Background()
	ev := core.Event{Account: "a1", At: time.Now(), From: core.Connected, To: core.Connected, Cause: core.CauseSent,
		Reason: "sent", MessageID: "3EB0F0F640770BB2FE429E", Latency: 12 * time.Millisecond, Token: 8812}
	if err := db.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got, err := db.Events(ctx, "a1", 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("Events = %v, %v", got, err)
	}
	if got[0].MessageID != ev.MessageID || got[0].Latency != ev.Latency || got[0].Token != ev.Token {
		t.Errorf("stored note has message %q latency %v, want %q %v", got[0].MessageID, got[0].Latency, ev.MessageID, ev.Latency)
	}
}
