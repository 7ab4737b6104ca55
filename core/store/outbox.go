package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
	"warden/core/outbox"
)

// The outbox (outbox.Store): the events webhooks and event streams deliver,
// in one order for every account, and where each webhook is. Its tree, under
// bucketOutbox:
//
//	outbox
//	  events                 its sequence is the last Seq
//	    <seq, u64 BE>      → outbox.Event, JSON
//	  ids
//	    <event id>         → its seq: an event appended again is stored once
//	  accounts
//	    <account id>         one bucket per account
//	      <seq, u64 BE>    → empty: the account's events, in order
//	  cursors
//	    <account id>       → the last timeline Seq turned into events
//	  hooks
//	    <webhook id>       → outbox.Webhook, JSON (with its secret)
//	  lanes
//	    <webhook id>         one bucket per webhook
//	      <account id>     → outbox.Lane, JSON
//	  failed
//	    <webhook id>         one bucket per webhook
//	      <seq, u64 BE>    → outbox.Failure, JSON
//
// Writes go through the writer, so the appends and deliveries of every
// account share commits.

var (
	bucketOutbox = []byte("outbox")

	bucketOutEvents   = []byte("events")
	bucketOutIDs      = []byte("ids")
	bucketOutAccounts = []byte("accounts")
	bucketOutCursors  = []byte("cursors")
	bucketOutHooks    = []byte("hooks")
	bucketOutLanes    = []byte("lanes")
	bucketOutFailed   = []byte("failed")

	outboxBuckets = [][]byte{bucketOutEvents, bucketOutIDs, bucketOutAccounts, bucketOutCursors,
		bucketOutHooks, bucketOutLanes, bucketOutFailed}
)

var (
	_ outbox.Store        = (*DB)(nil)
	_ outbox.MessageStore = (*DB)(nil)
)

// outboxSince is the schema version that brought the outbox. Version 4 is
// the API keys'.
const outboxSince = 5

// createOutbox is migration 5: the outbox bucket and its children.
func createOutbox(tx *bolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists(bucketOutbox)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketOutbox, err)
	}
	for _, n := range outboxBuckets {
		if _, err := root.CreateBucketIfNotExists(n); err != nil {
			return fmt.Errorf("create bucket %s/%s: %w", bucketOutbox, n, err)
		}
	}
	return nil
}

// outboxBucket returns the outbox's child bucket name.
func outboxBucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	return tx.Bucket(bucketOutbox).Bucket(name)
}

// AppendOutbox implements outbox.Store.
func (db *DB) AppendOutbox(ctx context.Context, evs []outbox.Event, cursors map[core.AccountID]uint64) ([]outbox.Event, error) {
	values := make([][]byte, len(evs))
	for i, ev := range evs {
		v, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("append outbox event %s: %w", ev.ID, err)
		}
		values[i] = v
	}
	var stored []outbox.Event
	err := db.write(ctx, func(tx *bolt.Tx) error {
		stored = stored[:0] // the op may run again
		for i, ev := range evs {
			seq, fresh, err := putOutboxEvent(tx, ev, values[i])
			if err != nil {
				return err
			}
			if fresh {
				ev.Seq = seq
				stored = append(stored, ev)
			}
		}
		return putCursors(tx, cursors)
	})
	if err != nil {
		return nil, fmt.Errorf("append %d outbox events: %w", len(evs), err)
	}
	return stored, nil
}

// PutMessageEvent implements outbox.MessageStore: it is PutMessage, and
// stores the message's event, made by event from the stored message, in the
// same commit, unless the event is stored already (a redelivered message's,
// usually). It returns the event when it stored it.
func (db *DB) PutMessageEvent(ctx context.Context, m core.Message, event func(core.Message) (outbox.Event, error)) (core.Message, bool, []outbox.Event, error) {
	var fresh []outbox.Event
	stored, dup, err := db.putMessage(m, func(op func(tx *bolt.Tx) error) error { return db.write(ctx, op) },
		func(tx *bolt.Tx, stored core.Message) error {
			fresh = nil // the op may run again
			ev, err := event(stored)
			if err != nil {
				return err
			}
			v, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			seq, isNew, err := putOutboxEvent(tx, ev, v)
			if isNew {
				ev.Seq = seq
				fresh = []outbox.Event{ev}
			}
			return err
		})
	if err != nil {
		return core.Message{}, false, nil, err
	}
	return stored, dup, fresh, nil
}

// putOutboxEvent stores the encoded event v unless its ID is stored, and
// returns its seq and whether it is new.
func putOutboxEvent(tx *bolt.Tx, ev outbox.Event, v []byte) (uint64, bool, error) {
	ids := outboxBucket(tx, bucketOutIDs)
	if k := ids.Get([]byte(ev.ID)); k != nil {
		return keySeq(k), false, nil
	}
	events := outboxBucket(tx, bucketOutEvents)
	events.FillPercent = appendFill
	seq, err := events.NextSequence()
	if err != nil {
		return 0, false, err
	}
	acct, err := outboxBucket(tx, bucketOutAccounts).CreateBucketIfNotExists([]byte(ev.Account))
	if err != nil {
		return 0, false, fmt.Errorf("outbox account bucket: %w", err)
	}
	acct.FillPercent = appendFill
	k := seqKey(seq)
	for _, put := range []func() error{
		func() error { return events.Put(k, v) },
		func() error { return ids.Put([]byte(ev.ID), k) },
		func() error { return acct.Put(k, nil) },
	} {
		if err := put(); err != nil {
			return 0, false, fmt.Errorf("put outbox event %s: %w", ev.ID, err)
		}
	}
	return seq, true, nil
}

// keyCursorsSet marks, in the cursors bucket, that cursors were set once.
// Account IDs are never empty, so it is no account's.
var keyCursorsSet = []byte{0}

func putCursors(tx *bolt.Tx, cursors map[core.AccountID]uint64) error {
	if cursors == nil {
		return nil
	}
	b := outboxBucket(tx, bucketOutCursors)
	for id, seq := range cursors {
		if err := b.Put([]byte(id), seqKey(seq)); err != nil {
			return fmt.Errorf("put timeline cursor of %s: %w", id, err)
		}
	}
	return b.Put(keyCursorsSet, seqKey(1))
}

// OutboxEvents implements outbox.Store.
func (db *DB) OutboxEvents(ctx context.Context, after uint64, limit int) ([]outbox.Event, error) {
	var out []outbox.Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		events := outboxBucket(tx, bucketOutEvents)
		c := events.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ev, err := decodeOutboxEvent(k, v)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox events after %d: %w", after, err)
	}
	return out, nil
}

// OutboxAccountEvents implements outbox.Store.
func (db *DB) OutboxAccountEvents(ctx context.Context, id core.AccountID, after uint64, limit int) ([]outbox.Event, error) {
	var out []outbox.Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		acct := outboxBucket(tx, bucketOutAccounts).Bucket([]byte(id))
		if acct == nil {
			return nil
		}
		events := outboxBucket(tx, bucketOutEvents)
		c := acct.Cursor()
		for k, _ := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, _ = c.Next() {
			ev, err := decodeOutboxEvent(k, events.Get(k))
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox events of %s after %d: %w", id, after, err)
	}
	return out, nil
}

func decodeOutboxEvent(k, v []byte) (outbox.Event, error) {
	if len(k) != 8 || v == nil {
		return outbox.Event{}, fmt.Errorf("outbox event key %x has no event: %w", k, ErrCorrupt)
	}
	var ev outbox.Event
	if err := json.Unmarshal(v, &ev); err != nil {
		return outbox.Event{}, fmt.Errorf("outbox event %d: %w: %w", keySeq(k), ErrCorrupt, err)
	}
	ev.Seq = keySeq(k)
	return ev, nil
}

// OutboxLastSeq implements outbox.Store.
func (db *DB) OutboxLastSeq(ctx context.Context) (uint64, error) {
	var last uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		last = outboxBucket(tx, bucketOutEvents).Sequence()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read the outbox's last seq: %w", err)
	}
	return last, nil
}

// OutboxAccounts implements outbox.Store.
func (db *DB) OutboxAccounts(ctx context.Context) ([]core.AccountID, error) {
	var out []core.AccountID
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return outboxBucket(tx, bucketOutAccounts).ForEachBucket(func(k []byte) error {
			out = append(out, core.AccountID(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list the outbox's accounts: %w", err)
	}
	return out, nil
}

// TimelineCursors implements outbox.Store.
func (db *DB) TimelineCursors(ctx context.Context) (map[core.AccountID]uint64, bool, error) {
	cursors := map[core.AccountID]uint64{}
	var set bool
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return outboxBucket(tx, bucketOutCursors).ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("timeline cursor %q is %d bytes long: %w", k, len(v), ErrCorrupt)
			}
			if bytes.Equal(k, keyCursorsSet) {
				set = true
			} else {
				cursors[core.AccountID(k)] = keySeq(v)
			}
			return nil
		})
	})
	if err != nil {
		return nil, false, fmt.Errorf("read the timeline cursors: %w", err)
	}
	return cursors, set, nil
}

// PutWebhook implements outbox.Store.
func (db *DB) PutWebhook(ctx context.Context, w outbox.Webhook) (outbox.Webhook, error) {
	stored := w
	err := db.write(ctx, func(tx *bolt.Tx) error {
		hooks := outboxBucket(tx, bucketOutHooks)
		stored = w
		if hooks.Get([]byte(w.ID)) == nil {
			stored.After = outboxBucket(tx, bucketOutEvents).Sequence()
		}
		v, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return hooks.Put([]byte(w.ID), v)
	})
	if err != nil {
		return outbox.Webhook{}, fmt.Errorf("store webhook %s: %w", w.ID, err)
	}
	return stored, nil
}

// Webhooks implements outbox.Store.
func (db *DB) Webhooks(ctx context.Context) ([]outbox.Webhook, error) {
	var out []outbox.Webhook
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return outboxBucket(tx, bucketOutHooks).ForEach(func(k, v []byte) error {
			var w outbox.Webhook
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("webhook %s: %w: %w", k, ErrCorrupt, err)
			}
			out = append(out, w)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook implements outbox.Store.
func (db *DB) DeleteWebhook(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *bolt.Tx) error {
		if err := outboxBucket(tx, bucketOutHooks).Delete([]byte(id)); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketOutLanes, bucketOutFailed} {
			b := outboxBucket(tx, name)
			if b.Bucket([]byte(id)) == nil {
				continue
			}
			if err := b.DeleteBucket([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	return nil
}

// WebhookLanes implements outbox.Store.
func (db *DB) WebhookLanes(ctx context.Context, webhook string) ([]outbox.Lane, error) {
	out, err := webhookEntries(ctx, db, bucketOutLanes, webhook, func(k, v []byte) (outbox.Lane, error) {
		var l outbox.Lane
		if err := json.Unmarshal(v, &l); err != nil {
			return l, fmt.Errorf("lane %s: %w: %w", k, ErrCorrupt, err)
		}
		return l, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the lanes of webhook %s: %w", webhook, err)
	}
	return out, nil
}

// webhookEntries reads, in key order, every entry a webhook has in the
// outbox bucket name (its lanes, its failures), each read by decode.
func webhookEntries[T any](ctx context.Context, db *DB, name []byte, webhook string, decode func(k, v []byte) (T, error)) ([]T, error) {
	var out []T
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b := outboxBucket(tx, name).Bucket([]byte(webhook))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			e, err := decode(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// PutWebhookLanes implements outbox.Store.
func (db *DB) PutWebhookLanes(ctx context.Context, lanes []outbox.Lane, failed []outbox.Failure) error {
	values := make([][]byte, len(lanes))
	for i, l := range lanes {
		v, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("store lane %s/%s: %w", l.Webhook, l.Account, err)
		}
		values[i] = v
	}
	err := db.write(ctx, func(tx *bolt.Tx) error {
		hooks := outboxBucket(tx, bucketOutHooks)
		for i, l := range lanes {
			if hooks.Get([]byte(l.Webhook)) == nil {
				continue // deleted meanwhile
			}
			b, err := outboxBucket(tx, bucketOutLanes).CreateBucketIfNotExists([]byte(l.Webhook))
			if err != nil {
				return err
			}
			if err := b.Put([]byte(l.Account), values[i]); err != nil {
				return err
			}
		}
		for _, f := range failed {
			if hooks.Get([]byte(f.Webhook)) == nil {
				continue
			}
			if err := putFailure(tx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d webhook lanes: %w", len(lanes), err)
	}
	return nil
}

func putFailure(tx *bolt.Tx, f outbox.Failure) error {
	v, err := json.Marshal(f)
	if err != nil {
		return err
	}
	b, err := outboxBucket(tx, bucketOutFailed).CreateBucketIfNotExists([]byte(f.Webhook))
	if err != nil {
		return err
	}
	return b.Put(seqKey(f.Seq), v)
}

// PutWebhookFailure implements outbox.Store.
func (db *DB) PutWebhookFailure(ctx context.Context, f outbox.Failure) error {
	err := db.write(ctx, func(tx *bolt.Tx) error {
		if outboxBucket(tx, bucketOutHooks).Get([]byte(f.Webhook)) == nil {
			return nil // deleted meanwhile
		}
		return putFailure(tx, f)
	})
	if err != nil {
		return fmt.Errorf("store the failure of %s for webhook %s: %w", f.Event.ID, f.Webhook, err)
	}
	return nil
}

// WebhookFailures implements outbox.Store.
func (db *DB) WebhookFailures(ctx context.Context, webhook string) ([]outbox.Failure, error) {
	out, err := webhookEntries(ctx, db, bucketOutFailed, webhook, decodeFailure)
	if err != nil {
		return nil, fmt.Errorf("read the failures of webhook %s: %w", webhook, err)
	}
	return out, nil
}

func decodeFailure(k, v []byte) (outbox.Failure, error) {
	var f outbox.Failure
	if err := json.Unmarshal(v, &f); err != nil {
		return f, fmt.Errorf("failure %x: %w: %w", k, ErrCorrupt, err)
	}
	f.Event.Seq = f.Seq
	return f, nil
}

// DeleteWebhookFailure implements outbox.Store.
func (db *DB) DeleteWebhookFailure(ctx context.Context, webhook string, seq uint64) error {
	err := db.write(ctx, func(tx *bolt.Tx) error {
		b := outboxBucket(tx, bucketOutFailed).Bucket([]byte(webhook))
		if b == nil {
			return nil
		}
		return b.Delete(seqKey(seq))
	})
	if err != nil {
		return fmt.Errorf("delete the failure of event %d for webhook %s: %w", seq, webhook, err)
	}
	return nil
}

// maxOutboxPrune bounds the deletions of one PruneOutbox commit.
const maxOutboxPrune = 10_000

// PruneOutbox implements outbox.Store. It deletes at most maxOutboxPrune
// events and as many failures in one commit.
func (db *DB) PruneOutbox(ctx context.Context, before, failedBefore time.Time) (events, failures int, more bool, err error) {
	err = db.write(ctx, func(tx *bolt.Tx) error {
		hooks, floors, err := webhookFloors(tx)
		if err != nil {
			return err
		}
		if events, err = pruneOutboxEvents(tx, before, hooks, floors); err != nil {
			return err
		}
		failures, err = pruneFailures(tx, failedBefore)
		return err
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("prune the outbox: %w", err)
	}
	return events, failures, max(events, failures) == maxOutboxPrune, nil
}

// webhookFloors returns the webhooks and, per webhook, where each of its
// lanes is: an event above a wanting webhook's lane cursor is not done.
func webhookFloors(tx *bolt.Tx) ([]outbox.Webhook, map[string]map[core.AccountID]uint64, error) {
	var hooks []outbox.Webhook
	floors := map[string]map[core.AccountID]uint64{}
	err := outboxBucket(tx, bucketOutHooks).ForEach(func(k, v []byte) error {
		var w outbox.Webhook
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("webhook %s: %w: %w", k, ErrCorrupt, err)
		}
		hooks = append(hooks, w)
		lanes := map[core.AccountID]uint64{}
		floors[w.ID] = lanes
		b := outboxBucket(tx, bucketOutLanes).Bucket(k)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var l outbox.Lane
			if err := json.Unmarshal(v, &l); err != nil {
				return fmt.Errorf("lane %s: %w: %w", k, ErrCorrupt, err)
			}
			lanes[l.Account] = l.Cursor
			return nil
		})
	})
	return hooks, floors, err
}

// pruneOutboxEvents deletes the events older than before that every webhook
// wanting them is done with, oldest first.
func pruneOutboxEvents(tx *bolt.Tx, before time.Time, hooks []outbox.Webhook, floors map[string]map[core.AccountID]uint64) (int, error) {
	events := outboxBucket(tx, bucketOutEvents)
	var doomed []outbox.Event
	c := events.Cursor()
	for k, v := c.First(); k != nil && len(doomed) < maxOutboxPrune; k, v = c.Next() {
		ev, err := decodeOutboxEvent(k, v)
		if err != nil {
			return 0, err
		}
		if !ev.Time.Before(before) {
			break
		}
		if !pending(ev, hooks, floors) {
			doomed = append(doomed, ev)
		}
	}
	for _, ev := range doomed {
		k := seqKey(ev.Seq)
		if err := events.Delete(k); err != nil {
			return 0, err
		}
		if err := outboxBucket(tx, bucketOutIDs).Delete([]byte(ev.ID)); err != nil {
			return 0, err
		}
		if acct := outboxBucket(tx, bucketOutAccounts).Bucket([]byte(ev.Account)); acct != nil {
			if err := acct.Delete(k); err != nil {
				return 0, err
			}
		}
	}
	return len(doomed), nil
}

// pending reports whether a webhook that wants ev has not delivered it yet.
func pending(ev outbox.Event, hooks []outbox.Webhook, floors map[string]map[core.AccountID]uint64) bool {
	for _, w := range hooks {
		if !w.Wants(ev) || ev.Seq <= w.After {
			continue
		}
		if cursor, ok := floors[w.ID][ev.Account]; !ok || ev.Seq > cursor {
			return true
		}
	}
	return false
}

// pruneFailures deletes the failures that failed before failedBefore.
func pruneFailures(tx *bolt.Tx, failedBefore time.Time) (int, error) {
	n := 0
	err := outboxBucket(tx, bucketOutFailed).ForEachBucket(func(hook []byte) error {
		b := outboxBucket(tx, bucketOutFailed).Bucket(hook)
		c := b.Cursor()
		for k, v := c.First(); k != nil && n < maxOutboxPrune; {
			f, err := decodeFailure(k, v)
			if err != nil {
				return err
			}
			if !f.FailedAt.Before(failedBefore) {
				k, v = c.Next()
				continue
			}
			gone := bytes.Clone(k)
			if err := c.Delete(); err != nil {
				return err
			}
			n++
			k, v = c.Seek(gone)
		}
		return nil
	})
	return n, err
}
