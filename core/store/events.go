package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// appendFill is the fill percent of buckets whose keys only grow: pages split
// nearly full instead of half full.
const appendFill = 0.95

// eventRecord is an event as stored: Seq is the key and Account the bucket.
type eventRecord struct {
	At      time.Time     `json:"at"`
	From    core.State    `json:"from"`
	To      core.State    `json:"to"`
	Cause   string        `json:"cause"`
	Reason  string        `json:"reason,omitempty"`
	Attempt int           `json:"attempt,omitempty"`
	Delay   time.Duration `json:"delay,omitempty"`
	Epoch   uint64        `json:"epoch,omitempty"`
	// A send's note: the message and its send → ack latency.
	MessageID string        `json:"message_id,omitempty"`
	Latency   time.Duration `json:"latency,omitempty"`
	Token     int64         `json:"token,omitempty"` // a fleet node's fencing token
}

func (r eventRecord) event(id core.AccountID, seq uint64) core.Event {
	return core.Event{Seq: seq, Account: id, At: r.At, From: r.From, To: r.To, Cause: r.Cause,
		Reason: r.Reason, Attempt: r.Attempt, Delay: r.Delay, Epoch: r.Epoch, MessageID: r.MessageID, Latency: r.Latency, Token: r.Token}
}

// AppendEvents stores events and returns once they are committed and synced;
// on an error none is stored. An event with Seq 0 gets its account's next
// sequence number; an event with a Seq keeps it, and it must be above the
// account's last one (ErrSequence). Concurrent calls share commits.
//
// Events of an account that does not exist (any more) are dropped with a
// warning, and the others stored: a late event of a deleted account must not
// bring back part of its timeline, nor hold up the other accounts' events.
// When ctx ends before the commit, the error wraps ctx.Err() and the events
// may still be stored.
func (db *DB) AppendEvents(ctx context.Context, evs ...core.Event) error {
	if len(evs) == 0 {
		return nil
	}
	values, err := encodeEvents(evs)
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	var dropped int // written by the writer before it answers
	err = db.write(ctx, func(tx *bolt.Tx) (err error) {
		dropped, err = putEvents(tx, evs, values)
		return err
	})
	if err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if dropped > 0 {
		db.log.Warn("dropped timeline events of unknown accounts", "events", dropped)
	}
	return nil
}

// encodeEvents returns the stored form of each event.
func encodeEvents(evs []core.Event) ([][]byte, error) {
	values := make([][]byte, len(evs))
	for i, ev := range evs {
		if ev.Account == "" {
			return nil, fmt.Errorf("event %d has no account", i)
		}
		v, err := json.Marshal(eventRecord{At: ev.At.UTC(), From: ev.From, To: ev.To, Cause: ev.Cause,
			Reason: ev.Reason, Attempt: ev.Attempt, Delay: ev.Delay, Epoch: ev.Epoch, MessageID: ev.MessageID, Latency: ev.Latency, Token: ev.Token})
		if err != nil {
			return nil, fmt.Errorf("encode event %d: %w", i, err)
		}
		values[i] = v
	}
	return values, nil
}

// putEvents validates the whole request first, then writes it. It skips the
// events of unknown accounts and returns how many it skipped.
func putEvents(tx *bolt.Tx, evs []core.Event, values [][]byte) (dropped int, err error) {
	accounts, root := tx.Bucket(bucketAccounts), tx.Bucket(bucketEvents)
	// last is each known account's running sequence while the request is checked.
	last := make(map[core.AccountID]uint64, 1)
	unknown := make(map[core.AccountID]bool)
	for _, ev := range evs {
		seq, seen := last[ev.Account]
		if !seen {
			if unknown[ev.Account] || accounts.Get([]byte(ev.Account)) == nil {
				unknown[ev.Account] = true
				dropped++
				continue
			}
			if b := root.Bucket([]byte(ev.Account)); b != nil {
				seq = b.Sequence()
			}
		}
		switch {
		case ev.Seq == 0:
			seq++
		case ev.Seq <= seq:
			return 0, fmt.Errorf("account %s: seq %d after %d: %w", ev.Account, ev.Seq, seq, ErrSequence)
		default:
			seq = ev.Seq
		}
		last[ev.Account] = seq
	}

	buckets := make(map[core.AccountID]*bolt.Bucket, len(last))
	for i, ev := range evs {
		if unknown[ev.Account] {
			continue
		}
		b := buckets[ev.Account]
		if b == nil {
			if b, err = root.CreateBucketIfNotExists([]byte(ev.Account)); err != nil {
				return 0, fmt.Errorf("account %s: %w", ev.Account, err)
			}
			b.FillPercent = appendFill
			buckets[ev.Account] = b
		}
		seq := ev.Seq
		if seq == 0 {
			seq = b.Sequence() + 1
		}
		if err := b.SetSequence(seq); err != nil {
			return 0, err
		}
		if err := b.Put(seqKey(seq), values[i]); err != nil {
			return 0, fmt.Errorf("account %s: put event %d: %w", ev.Account, seq, err)
		}
	}
	return dropped, nil
}

// Events returns the account's newest events, at most limit, newest last, with
// Seq and Account filled in. An account without events has none.
func (db *DB) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	if limit <= 0 || id == "" {
		return nil, nil
	}
	var out []core.Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket([]byte(id))
		if b == nil {
			return nil
		}
		out = make([]core.Event, 0, min(limit, 1024))
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var r eventRecord
			if err := decodeEvent(v, &r); err != nil {
				return fmt.Errorf("event %d: %w: %w", keySeq(k), ErrCorrupt, err)
			}
			out = append(out, r.event(id, keySeq(k)))
		}
		slices.Reverse(out)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", id, err)
	}
	return out, nil
}
