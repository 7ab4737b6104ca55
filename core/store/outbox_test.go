package store

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
	"warden/core/outbox"
)

func outboxEvent(id string, acct core.AccountID, at time.Time) outbox.Event {
	return outbox.Event{ID: id, Type: outbox.TypeAccountState, Account: acct, Time: at, Data: json.RawMessage(`{}`)}
}

// A file of schema 3 gains the outbox and keeps its data.
func TestMigration5AddsOutbox(t *testing.T) {
	ctx := context.Background()
	path := fileAt(t, 3, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Put([]byte("a"), []byte(`{"id":"a","name":"Old","created_at":"2025-01-01T00:00:00Z"}`))
	})
	db := openAt(t, path)
	if v := versionOf(t, db); v < outboxSince {
		t.Errorf("version after Open = %d, want at least %d", v, outboxSince)
	}
	if accts, err := db.Accounts(ctx); err != nil || len(accts) != 1 {
		t.Errorf("Accounts() = %+v, %v; want the old account", accts, err)
	}
	stored, err := db.AppendOutbox(ctx, []outbox.Event{outboxEvent("e1", "a", time.Now())}, nil)
	if err != nil || len(stored) != 1 || stored[0].Seq != 1 {
		t.Errorf("AppendOutbox after migration 5 = %+v, %v; want the event as Seq 1", stored, err)
	}
}

// An event appended again, after a crash say, is stored once; the cursors
// ride in the same commit.
func TestAppendOutboxIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Now()
	first, err := db.AppendOutbox(ctx, []outbox.Event{outboxEvent("a:t1", "a", now), outboxEvent("b:t1", "b", now)},
		map[core.AccountID]uint64{"a": 1, "b": 1})
	if err != nil || len(first) != 2 {
		t.Fatalf("AppendOutbox = %+v, %v", first, err)
	}
	again, err := db.AppendOutbox(ctx, []outbox.Event{outboxEvent("a:t1", "a", now), outboxEvent("a:t2", "a", now)}, nil)
	if err != nil || len(again) != 1 || again[0].ID != "a:t2" || again[0].Seq != 3 {
		t.Fatalf("AppendOutbox again = %+v, %v; want only a:t2, as Seq 3", again, err)
	}
	all, err := db.OutboxEvents(ctx, 0, 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("OutboxEvents = %+v, %v; want 3", all, err)
	}
	ofA, err := db.OutboxAccountEvents(ctx, "a", 1, 10)
	if err != nil || len(ofA) != 1 || ofA[0].ID != "a:t2" {
		t.Fatalf("OutboxAccountEvents(a, after 1) = %+v, %v; want a:t2", ofA, err)
	}
	cursors, set, err := db.TimelineCursors(ctx)
	if err != nil || !set || cursors["a"] != 1 || cursors["b"] != 1 {
		t.Fatalf("TimelineCursors = %v, %v, %v; want a and b at 1", cursors, set, err)
	}
}

// Prune keeps what a webhook has still to deliver, and a failure until it
// is old.
func TestPruneOutboxKeepsPending(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	old, now := time.Now().Add(-10*24*time.Hour), time.Now()
	w, err := db.PutWebhook(ctx, outbox.Webhook{ID: "w", URL: "http://127.0.0.1/", Accounts: []core.AccountID{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.AppendOutbox(ctx, []outbox.Event{outboxEvent("a1", "a", old), outboxEvent("a2", "a", old),
		outboxEvent("b1", "b", old), outboxEvent("a3", "a", now)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The webhook delivered a1, failed a2 for good long ago; b's are not its.
	f := &outbox.Failure{Webhook: w.ID, Event: evs[1], Seq: evs[1].Seq, FailedAt: old}
	if err := db.PutWebhookLanes(ctx, []outbox.Lane{{Webhook: w.ID, Account: "a", Cursor: evs[0].Seq}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.PutWebhookFailure(ctx, *f); err != nil {
		t.Fatal(err)
	}
	n, fails, _, err := db.PruneOutbox(ctx, now.Add(-7*24*time.Hour), now.Add(-30*24*time.Hour))
	if err != nil || n != 2 || fails != 0 {
		t.Fatalf("PruneOutbox = %d events, %d failures, %v; want a1 and b1", n, fails, err)
	}
	left, _ := db.OutboxEvents(ctx, 0, 10)
	if len(left) != 2 || left[0].ID != "a2" || left[1].ID != "a3" {
		t.Fatalf("left %+v, want a2 (its lane has not passed it) and a3 (new)", left)
	}
	if _, fails, _, err = db.PruneOutbox(ctx, now, now); err != nil || fails != 1 {
		t.Fatalf("PruneOutbox of old failures = %d, %v; want 1", fails, err)
	}
	if got, _ := db.WebhookFailures(ctx, w.ID); len(got) != 0 {
		t.Fatalf("failures after prune = %+v", got)
	}
}

// A message and its event are stored in one commit; a redelivered message
// stores no second event, and one stored before the outbox gets its event
// when WhatsApp delivers it again.
func TestPutMessageEvent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if err := db.PutAccount(ctx, core.Account{ID: "a", Name: "A", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	event := func(m core.Message) (outbox.Event, error) {
		return outboxEvent(outbox.MessageEventID(m.Account, m.Seq), m.Account, m.Received), nil
	}
	before, _, err := db.PutMessage(ctx, message("a", 1, time.Now())) // stored before the outbox
	if err != nil {
		t.Fatal(err)
	}
	m, dup, fresh, err := db.PutMessageEvent(ctx, message("a", 2, time.Now()), event)
	if err != nil || dup || m.Seq != 2 || len(fresh) != 1 || fresh[0].ID != "a:m2" || fresh[0].Seq != 1 {
		t.Fatalf("PutMessageEvent = seq %d, dup %v, %+v, %v; want message 2 and its event, Seq 1", m.Seq, dup, fresh, err)
	}
	if _, dup, fresh, err = db.PutMessageEvent(ctx, message("a", 2, time.Now()), event); err != nil || !dup || len(fresh) != 0 {
		t.Fatalf("PutMessageEvent again = dup %v, %+v, %v; want a dup and no new event", dup, fresh, err)
	}
	if _, dup, fresh, err = db.PutMessageEvent(ctx, message("a", 1, time.Now()), event); err != nil || !dup ||
		len(fresh) != 1 || fresh[0].ID != outbox.MessageEventID("a", before.Seq) {
		t.Fatalf("PutMessageEvent of the older message = dup %v, %+v, %v; want a dup and its event", dup, fresh, err)
	}
	if _, _, _, err = db.PutMessageEvent(ctx, message("gone", 1, time.Now()), event); !errors.Is(err, core.ErrUnknownAccount) {
		t.Fatalf("PutMessageEvent of an unknown account = %v, want ErrUnknownAccount", err)
	}
	if evs, _ := db.OutboxEvents(ctx, 0, 10); len(evs) != 2 {
		t.Fatalf("outbox holds %d events, want 2", len(evs))
	}
}
