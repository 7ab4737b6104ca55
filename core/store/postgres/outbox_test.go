package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
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

// BenchmarkReceive measures storing received messages of 32 accounts at once
// on two connections to the database (two nodes), alone (PutMessage) and
// with their message.received events (PutMessageEvent, whose commits take
// turns on the outbox's Seq): what the one order of the outbox costs.
func BenchmarkReceive(b *testing.B) {
	dsn := pgserver.Start(b)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	for _, withEvent := range []bool{false, true} {
		name := "PutMessage"
		if withEvent {
			name = "PutMessageEvent"
		}
		db := fmt.Sprintf("bench_%v", withEvent)
		if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var nodes []*postgres.DB
		for range 2 {
			n, err := postgres.Open(ctx, dsnOf(dsn, db), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			nodes = append(nodes, n)
		}
		const accounts = 32
		for i := range accounts {
			if err := nodes[0].PutAccount(ctx, core.Account{ID: core.AccountID(fmt.Sprint("acct", i)), Name: "A"}); err != nil {
				b.Fatal(err)
			}
		}
		var round atomic.Int64
		b.Run(name, func(b *testing.B) {
			r := round.Add(1)
			mk := func(m core.Message) (outbox.Event, error) {
				data, _ := json.Marshal(m)
				return outbox.Event{ID: outbox.MessageEventID(m.Account, m.Seq), Type: outbox.TypeMessageReceived,
					Account: m.Account, Time: m.Received, Data: data}, nil
			}
			var next atomic.Int64
			start := time.Now()
			b.SetParallelism(accounts / max(1, runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				w := next.Add(1)
				node, acct := nodes[w%2], core.AccountID(fmt.Sprint("acct", w%accounts))
				for i := 0; pb.Next(); i++ {
					m := message(acct, int(r)*100_000_000+int(w)*1_000_000+i, time.Now())
					var err error
					if withEvent {
						_, _, _, err = node.PutMessageEvent(ctx, m, mk)
					} else {
						_, _, err = node.PutMessage(ctx, m)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
