package storesuite

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
)

// OutboxStore keeps the outbox of the webhooks and event streams, and the
// messages whose events it stores with them.
type OutboxStore interface {
	core.Store
	outbox.Store
	outbox.MessageStore
}

// RunOutbox runs the outbox store's cases. open returns a new, empty store.
func RunOutbox(t *testing.T, open func(t *testing.T) OutboxStore) {
	ctx := context.Background()
	event := func(id string, acct core.AccountID, at time.Time) outbox.Event {
		return outbox.Event{ID: id, Type: outbox.TypeAccountState, Account: acct, Time: at, Data: json.RawMessage(`{"to":"connected"}`)}
	}

	// An event appended again, after a crash say, is stored once; the
	// cursors ride in the same commit, and the stored event reads back as
	// it was given.
	t.Run("AppendIsIdempotent", func(t *testing.T) {
		s := open(t)
		if _, set, err := s.TimelineCursors(ctx); err != nil || set {
			t.Fatalf("TimelineCursors of a new store = set %v, %v; want unset", set, err)
		}
		if last, err := s.OutboxLastSeq(ctx); err != nil || last != 0 {
			t.Fatalf("OutboxLastSeq of a new store = %d, %v; want 0", last, err)
		}
		now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
		first, err := s.AppendOutbox(ctx, []outbox.Event{event("a:t1", "a", now), event("b:t1", "b", now)},
			map[core.AccountID]uint64{"a": 1, "b": 1})
		if err != nil || len(first) != 2 || first[0].Seq != 1 || first[1].Seq != 2 {
			t.Fatalf("AppendOutbox = %+v, %v; want Seqs 1 and 2", first, err)
		}
		again, err := s.AppendOutbox(ctx, []outbox.Event{event("a:t1", "a", now), event("a:t2", "a", now), event("a:t2", "a", now)}, nil)
		if err != nil || len(again) != 1 || again[0].ID != "a:t2" || again[0].Seq != 3 {
			t.Fatalf("AppendOutbox again = %+v, %v; want only a:t2, once, as Seq 3", again, err)
		}
		all, err := s.OutboxEvents(ctx, 0, 10)
		if err != nil || len(all) != 3 || all[0].ID != "a:t1" || all[2].Seq != 3 {
			t.Fatalf("OutboxEvents = %+v, %v; want 3 in order", all, err)
		}
		if !all[0].Time.Equal(now) || string(all[0].Data) != `{"to":"connected"}` || all[0].Type != outbox.TypeAccountState || all[0].Account != "a" {
			t.Errorf("stored event = %+v; want it as appended", all[0])
		}
		if page, _ := s.OutboxEvents(ctx, 1, 1); len(page) != 1 || page[0].Seq != 2 {
			t.Errorf("OutboxEvents(after 1, limit 1) = %+v; want Seq 2", page)
		}
		ofA, err := s.OutboxAccountEvents(ctx, "a", 1, 10)
		if err != nil || len(ofA) != 1 || ofA[0].ID != "a:t2" {
			t.Fatalf("OutboxAccountEvents(a, after 1) = %+v, %v; want a:t2", ofA, err)
		}
		cursors, set, err := s.TimelineCursors(ctx)
		if err != nil || !set || len(cursors) != 2 || cursors["a"] != 1 || cursors["b"] != 1 {
			t.Fatalf("TimelineCursors = %v, %v, %v; want a and b at 1", cursors, set, err)
		}
		if _, err := s.AppendOutbox(ctx, nil, map[core.AccountID]uint64{"a": 5}); err != nil {
			t.Fatal(err)
		}
		if cursors, _, _ := s.TimelineCursors(ctx); cursors["a"] != 5 || cursors["b"] != 1 {
			t.Errorf("TimelineCursors after moving a = %v; want a at 5, b at 1", cursors)
		}
		if last, err := s.OutboxLastSeq(ctx); err != nil || last != 3 {
			t.Errorf("OutboxLastSeq = %d, %v; want 3", last, err)
		}
		accts, err := s.OutboxAccounts(ctx)
		if err != nil || len(accts) != 2 {
			t.Errorf("OutboxAccounts = %v, %v; want a and b", accts, err)
		}
	})

	// A webhook gets the events after the last Seq when it was created;
	// its lanes and failures are stored, listed and deleted with it.
	t.Run("Webhooks", func(t *testing.T) {
		s := open(t)
		now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
		evs, err := s.AppendOutbox(ctx, []outbox.Event{event("a1", "a", now), event("a2", "a", now)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.PutWebhook(ctx, outbox.Webhook{ID: "w1", URL: "http://127.0.0.1:9/hook", Secret: "whsec_x", Created: now,
			Types: []string{outbox.TypeMessageReceived}})
		if err != nil || w.After != 2 {
			t.Fatalf("PutWebhook = %+v, %v; want After 2", w, err)
		}
		hooks, err := s.Webhooks(ctx)
		if err != nil || len(hooks) != 1 || hooks[0].Secret != "whsec_x" || hooks[0].After != 2 || len(hooks[0].Types) != 1 {
			t.Fatalf("Webhooks = %+v, %v; want w1 with its secret", hooks, err)
		}
		lane := outbox.Lane{Webhook: "w1", Account: "a", Cursor: 2, Last: outbox.Result{At: now, EventID: "a2", Status: 200}}
		f := outbox.Failure{Webhook: "w1", Event: evs[0], Seq: evs[0].Seq, Attempts: 3, FirstFailure: now, FailedAt: now}
		ghost := outbox.Lane{Webhook: "gone", Account: "a", Cursor: 1}
		if err := s.PutWebhookLanes(ctx, []outbox.Lane{lane, ghost}, []outbox.Failure{f}); err != nil {
			t.Fatal(err)
		}
		lanes, err := s.WebhookLanes(ctx, "w1")
		if err != nil || len(lanes) != 1 || lanes[0].Cursor != 2 || lanes[0].Last.EventID != "a2" {
			t.Fatalf("WebhookLanes = %+v, %v; want a at 2", lanes, err)
		}
		if got, _ := s.WebhookLanes(ctx, "gone"); len(got) != 0 {
			t.Errorf("a deleted webhook's lane was stored: %+v", got)
		}
		fails, err := s.WebhookFailures(ctx, "w1")
		if err != nil || len(fails) != 1 || fails[0].Event.ID != "a1" || fails[0].Event.Seq != 1 || fails[0].Attempts != 3 {
			t.Fatalf("WebhookFailures = %+v, %v; want a1's", fails, err)
		}
		f.Attempts = 4
		if err := s.PutWebhookFailure(ctx, f); err != nil {
			t.Fatal(err)
		}
		if fails, _ := s.WebhookFailures(ctx, "w1"); len(fails) != 1 || fails[0].Attempts != 4 {
			t.Errorf("WebhookFailures after PutWebhookFailure = %+v; want 4 attempts", fails)
		}
		if err := s.DeleteWebhookFailure(ctx, "w1", f.Seq); err != nil {
			t.Fatal(err)
		}
		if fails, _ := s.WebhookFailures(ctx, "w1"); len(fails) != 0 {
			t.Errorf("WebhookFailures after DeleteWebhookFailure = %+v", fails)
		}
		// Changed, a webhook keeps its After.
		w.URL = "http://127.0.0.1:9/other"
		if w2, err := s.PutWebhook(ctx, w); err != nil || w2.After != 2 {
			t.Fatalf("PutWebhook of a changed webhook = %+v, %v; want After 2", w2, err)
		}
		if err := s.DeleteWebhook(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
		if hooks, _ := s.Webhooks(ctx); len(hooks) != 0 {
			t.Errorf("Webhooks after delete = %+v", hooks)
		}
		if lanes, _ := s.WebhookLanes(ctx, "w1"); len(lanes) != 0 {
			t.Errorf("a deleted webhook kept its lanes: %+v", lanes)
		}
		if err := s.PutWebhookFailure(ctx, f); err != nil {
			t.Errorf("PutWebhookFailure of a deleted webhook = %v, want nil (dropped)", err)
		}
	})

	// Prune keeps what a webhook has still to deliver, and a failure until
	// it is old.
	t.Run("PruneKeepsPending", func(t *testing.T) {
		s := open(t)
		old, now := time.Now().Add(-10*24*time.Hour), time.Now()
		w, err := s.PutWebhook(ctx, outbox.Webhook{ID: "w", URL: "http://127.0.0.1/", Accounts: []core.AccountID{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.AppendOutbox(ctx, []outbox.Event{event("a1", "a", old), event("a2", "a", old),
			event("b1", "b", old), event("a3", "a", now)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		f := outbox.Failure{Webhook: w.ID, Event: evs[1], Seq: evs[1].Seq, FailedAt: old}
		if err := s.PutWebhookLanes(ctx, []outbox.Lane{{Webhook: w.ID, Account: "a", Cursor: evs[0].Seq}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.PutWebhookFailure(ctx, f); err != nil {
			t.Fatal(err)
		}
		n, fails, _, err := s.PruneOutbox(ctx, now.Add(-7*24*time.Hour), now.Add(-30*24*time.Hour))
		if err != nil || n != 2 || fails != 0 {
			t.Fatalf("PruneOutbox = %d events, %d failures, %v; want a1 and b1", n, fails, err)
		}
		left, _ := s.OutboxEvents(ctx, 0, 10)
		if len(left) != 2 || left[0].ID != "a2" || left[1].ID != "a3" {
			t.Fatalf("left %+v, want a2 (its lane has not passed it) and a3 (new)", left)
		}
		if _, fails, _, err = s.PruneOutbox(ctx, now, now); err != nil || fails != 1 {
			t.Fatalf("PruneOutbox of old failures = %d, %v; want 1", fails, err)
		}
		if got, _ := s.WebhookFailures(ctx, w.ID); len(got) != 0 {
			t.Fatalf("failures after prune = %+v", got)
		}
		if evs, _ := s.OutboxEvents(ctx, 0, 10); len(evs) != 2 {
			t.Errorf("outbox holds %d events after prune, want 2", len(evs))
		}
	})

	// A message and its event are stored in one commit; a redelivered
	// message stores no second event, and one stored before the outbox
	// gets its event when WhatsApp delivers it again.
	t.Run("PutMessageEvent", func(t *testing.T) {
		s := open(t)
		putAccounts(t, s, "a")
		at := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
		msg := func(i int) core.Message {
			return core.Message{Account: "a", ID: "3EB0" + string(rune('0'+i)), Chat: "15550001111@s.whatsapp.net",
				Sender: "15550001111@s.whatsapp.net", Kind: core.KindText, Text: "hello", At: at, Received: at}
		}
		mk := func(m core.Message) (outbox.Event, error) {
			return event(outbox.MessageEventID(m.Account, m.Seq), m.Account, m.Received), nil
		}
		before, _, err := s.PutMessage(ctx, msg(1)) // stored before the outbox
		if err != nil {
			t.Fatal(err)
		}
		m, dup, fresh, err := s.PutMessageEvent(ctx, msg(2), mk)
		if err != nil || dup || m.Seq != 2 || len(fresh) != 1 || fresh[0].ID != "a:m2" || fresh[0].Seq != 1 {
			t.Fatalf("PutMessageEvent = seq %d, dup %v, %+v, %v; want message 2 and its event, Seq 1", m.Seq, dup, fresh, err)
		}
		if _, dup, fresh, err = s.PutMessageEvent(ctx, msg(2), mk); err != nil || !dup || len(fresh) != 0 {
			t.Fatalf("PutMessageEvent again = dup %v, %+v, %v; want a dup and no new event", dup, fresh, err)
		}
		if _, dup, fresh, err = s.PutMessageEvent(ctx, msg(1), mk); err != nil || !dup ||
			len(fresh) != 1 || fresh[0].ID != outbox.MessageEventID("a", before.Seq) {
			t.Fatalf("PutMessageEvent of the older message = dup %v, %+v, %v; want a dup and its event", dup, fresh, err)
		}
		gone := msg(3)
		gone.Account = "gone"
		if _, _, _, err = s.PutMessageEvent(ctx, gone, mk); !errors.Is(err, core.ErrUnknownAccount) {
			t.Fatalf("PutMessageEvent of an unknown account = %v, want ErrUnknownAccount", err)
		}
		// A failing event stores neither the message nor an event.
		broken := errors.New("cannot encode")
		if _, _, _, err = s.PutMessageEvent(ctx, msg(4), func(core.Message) (outbox.Event, error) { return outbox.Event{}, broken }); !errors.Is(err, broken) {
			t.Fatalf("PutMessageEvent with a failing event = %v, want it", err)
		}
		if ms, _ := s.Messages(ctx, "a", 0, 10); len(ms) != 2 {
			t.Errorf("inbox holds %d messages, want 2 (the failed one rolled back)", len(ms))
		}
		if evs, _ := s.OutboxEvents(ctx, 0, 10); len(evs) != 2 {
			t.Fatalf("outbox holds %d events, want 2", len(evs))
		}
	})
}
