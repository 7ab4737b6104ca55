package store

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

// appendN appends n events to id, the i-th dated at(i), in batches.
func appendN(t *testing.T, db *DB, id core.AccountID, n int, at func(i int) time.Time) {
	t.Helper()
	for start := 0; start < n; start += 500 {
		evs := make([]core.Event, 0, 500)
		for i := start; i < min(n, start+500); i++ {
			evs = append(evs, event(id, 0, at(i)))
		}
		if err := db.AppendEvents(context.Background(), evs...); err != nil {
			t.Fatal(err)
		}
	}
}

// seqRange returns the first and last seq stored for id and how many there are.
func seqRange(t *testing.T, db *DB, id core.AccountID) string {
	t.Helper()
	evs, err := db.Events(context.Background(), id, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d events, %d..%d", len(evs), evs[0].Seq, evs[len(evs)-1].Seq)
}

func TestPruneByCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openTest(t, WithRetention(100, 90*24*time.Hour), WithPruneInterval(time.Hour))
		defer db.Close()
		putAccounts(t, db, "a", "b")
		now := time.Now()
		appendN(t, db, "a", 2500, func(int) time.Time { return now })
		appendN(t, db, "b", 100, func(int) time.Time { return now })

		time.Sleep(29 * time.Second)
		synctest.Wait()
		if got := seqRange(t, db, "a"); got != "2500 events, 1..2500" {
			t.Fatalf("before the first run: a has %s", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := seqRange(t, db, "a"); got != "100 events, 2401..2500" {
			t.Errorf("after the first run: a has %s, want 100 events, 2401..2500", got)
		}
		if got := seqRange(t, db, "b"); got != "100 events, 1..100" {
			t.Errorf("after the first run: b has %s, want all 100", got)
		}

		appendN(t, db, "a", 50, func(int) time.Time { return now })
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := seqRange(t, db, "a"); got != "100 events, 2451..2550" {
			t.Errorf("after the next run: a has %s, want 100 events, 2451..2550", got)
		}
	})
}

func TestPruneByAgeKeepsNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db := openTest(t, WithRetention(100_000, 10*24*time.Hour), WithPruneInterval(time.Hour))
		defer db.Close()
		putAccounts(t, db, "a", "idle")
		now := time.Now()
		day := 24 * time.Hour
		// a: one event a day for 20 days, the last one now.
		appendN(t, db, "a", 20, func(i int) time.Time { return now.Add(time.Duration(i-19) * day) })
		// idle: everything is a year old.
		appendN(t, db, "idle", 5, func(i int) time.Time { return now.Add(-365 * day) })

		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := seqRange(t, db, "a"); got != "10 events, 11..20" {
			t.Errorf("a has %s, want the 10 events of the last 10 days, 11..20", got)
		}
		if got := seqRange(t, db, "idle"); got != "1 events, 5..5" {
			t.Errorf("idle has %s, want its newest event only", got)
		}
		// The newest event keeps the account's sequence readable.
		if err := db.AppendEvents(context.Background(), event("idle", 6, time.Now())); err != nil {
			t.Errorf("appending seq 6 after pruning: %v", err)
		}
	})
}

func TestPruneFollowsSettings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db := openTest(t, WithPruneInterval(time.Hour))
		defer db.Close()
		putAccounts(t, db, "a")
		appendN(t, db, "a", 300, func(int) time.Time { return time.Now() })
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := seqRange(t, db, "a"); got != "300 events, 1..300" {
			t.Fatalf("with the default retention a has %s", got)
		}
		s, err := db.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.EventRetention.MaxEvents = 40
		if err := db.SaveSettings(ctx, s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // no time passes: the change wakes the pruner
		if got := seqRange(t, db, "a"); got != "40 events, 261..300" {
			t.Errorf("after lowering the retention to 40, a has %s", got)
		}
	})
}
