package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
	"warden/core/pgserver"
	"warden/core/store/postgres"
)

// Two nodes append events at once while a third reads after the last Seq
// it saw, as a stream or a node polling does: every read continues exactly
// where the last ended (a Seq never commits before a smaller one, which
// would make the reader skip it), and every event is read once.
func TestOutboxSeqCommitsInOrder(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	a := openDatabase(t, admin, dsn, "seqorder")
	b, err := postgres.Open(context.Background(), dsnOf(dsn, "seqorder"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	const writers, batches, perBatch = 3, 30, 4
	var wg sync.WaitGroup
	var done atomic.Bool
	for n, node := range []*postgres.DB{a, b} {
		for w := range writers {
			wg.Go(func() {
				for i := range batches {
					evs := make([]outbox.Event, perBatch)
					for j := range evs {
						evs[j] = outbox.Event{ID: fmt.Sprintf("n%d-w%d-%d-%d", n, w, i, j), Type: outbox.TypeAccountState,
							Account: core.AccountID(fmt.Sprint("acct", w)), Time: time.Now(), Data: json.RawMessage(`{}`)}
					}
					if _, err := node.AppendOutbox(ctx, evs, nil); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	go func() { wg.Wait(); done.Store(true) }()
	var last uint64
	seen := map[string]bool{}
	for {
		finished := done.Load() // before the read: a read after it sees everything
		evs, err := a.OutboxEvents(ctx, last, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Seq != last+1 {
				t.Fatalf("read Seq %d after %d: a smaller Seq committed later, or a gap", ev.Seq, last)
			}
			if seen[ev.ID] {
				t.Fatalf("event %s read twice", ev.ID)
			}
			seen[ev.ID] = true
			last = ev.Seq
		}
		if finished && len(evs) == 0 {
			break
		}
	}
	if want := 2 * writers * batches * perBatch; len(seen) != want {
		t.Fatalf("read %d events, want %d", len(seen), want)
	}
}

// A lane's late, older save (the old owner's, after a handover) does not
// send it back; a timeline cursor does not go back either.
func TestOutboxPositionsOnlyMoveForward(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	s := openDatabase(t, admin, dsn, "forward")
	ctx := context.Background()
	if _, err := s.PutWebhook(ctx, outbox.Webhook{ID: "w", URL: "http://127.0.0.1:9/"}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []outbox.Lane{{Webhook: "w", Account: "a", Cursor: 7}, {Webhook: "w", Account: "a", Cursor: 5},
		{Webhook: "w", Account: "a", Cursor: 7, Attempts: 2}} {
		if err := s.PutWebhookLanes(ctx, []outbox.Lane{l}, nil); err != nil {
			t.Fatal(err)
		}
	}
	lanes, err := s.WebhookLanes(ctx, "w")
	if err != nil || len(lanes) != 1 || lanes[0].Cursor != 7 || lanes[0].Attempts != 2 {
		t.Fatalf("lanes = %+v, %v; want a at 7 with 2 attempts (the save of 5 ignored)", lanes, err)
	}
	for _, c := range []uint64{9, 4} {
		if _, err := s.AppendOutbox(ctx, nil, map[core.AccountID]uint64{"a": c}); err != nil {
			t.Fatal(err)
		}
	}
	if cursors, _, _ := s.TimelineCursors(ctx); cursors["a"] != 9 {
		t.Fatalf("cursor of a = %d, want 9", cursors["a"])
	}
}
