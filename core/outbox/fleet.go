package outbox

import (
	"context"
	"time"

	"warden/core"
)

// In a fleet (Config.Owns set), every node opens an outbox on the fleet's
// shared store (PostgreSQL), and:
//
//   - Each account's events are delivered by the node that owns the account
//     (core/cluster: its etcd lease, with fencing), so one node at a time.
//     Every Poll the node starts a lane for each account it came to own,
//     from the lane's stored place (the last node's deliveries, stored by
//     its saver), and stops the lanes of the accounts it no longer owns.
//     A lane also asks Owns before each attempt: a node whose lease lapsed
//     makes no attempt while the next owner delivers (Owns is false once
//     the lease is not surely alive, before another node can take the
//     account). An attempt in flight when the node loses the account is
//     cancelled by the next poll, within Poll: well before another node
//     may take the account, which waits out the dead lease's TTL first. A node that dies mid-delivery leaves its lanes where it
//     last stored them: the next owner delivers from there, the events
//     after the stored place again, with the same IDs: at least once. The
//     store moves a lane only forward, so a stopped node's late save never
//     sends a lane back.
//   - The message.received events are stored by the node that runs the
//     account, in the transaction of the message (Inbox). The timeline's
//     events are turned into outbox events by the owner only (follow.go):
//     its follower skips the live events of accounts it does not own, and
//     catches up from the shared timeline an account it came to own (at the
//     next Poll, from the stored cursor when further than its own), and
//     every account it owns every fullCatchUp Polls: the events the last
//     owner recorded after its follower's last commit (its yield, say) are
//     turned into events by the next, at its next catch-up or sooner, with
//     the gap its next live event of the account fills. Their IDs are the account's and the
//     timeline Seq, and the store keeps an ID once: two nodes turning the
//     same timeline event (briefly, during a handover) store one event.
//     And since a follower stores the events its cursor skipped before a
//     new one, in one commit, an account's events keep the timeline's order
//     in the outbox.
//   - The webhooks are rows of the shared store: a webhook created or deleted
//     on one node is found by the others' next poll, which starts or stops
//     its lanes.
//   - The events other nodes store are found by the poll too, which reads
//     the outbox past the last Seq it saw (the store commits Seqs in order,
//     so none is skipped) and wakes the lanes and the event streams
//     (Subscribe): a stream on any node carries every account's events.
//
// Polling, not PostgreSQL's LISTEN/NOTIFY: a notification missed while a
// node's connection is down would be lost, a poll never is; and the poll's
// reads are an index range each, cheap at once a second.

// fleetState is the outbox's state in a fleet.
type fleetState struct {
	seen    uint64          // the last Seq the poll read; the poll loop's alone
	kick    chan struct{}   // capacity 1: "poll now"
	deleted map[string]bool // webhooks deleted here, never to start again; guarded by Outbox.mu
}

func newFleetState(last uint64) *fleetState {
	return &fleetState{seen: last, kick: make(chan struct{}, 1), deleted: map[string]bool{}}
}

// wake makes the poll loop poll now.
func (f *fleetState) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// pollLoop polls the store every Poll, or when woken, until Close.
func (o *Outbox) pollLoop() {
	defer o.wg.Done()
	for {
		if err := o.poll(o.ctx); err != nil && o.ctx.Err() == nil {
			o.log.Error("the outbox could not read what the fleet's other nodes stored; it tries again", "err", err)
		}
		if !o.waitPoll() {
			return
		}
	}
}

// waitPoll waits Poll, or a kick; false when the outbox closes.
func (o *Outbox) waitPoll() bool {
	t := time.NewTimer(o.cfg.Poll)
	defer t.Stop()
	select {
	case <-t.C:
	case <-o.fleet.kick:
	case <-o.ctx.Done():
		return false
	}
	return true
}

// poll takes what the other nodes stored: new events (waking lanes and
// streams), new and deleted webhooks; then starts and stops lanes as this
// node's accounts changed.
func (o *Outbox) poll(ctx context.Context) error {
	for {
		evs, err := o.store.OutboxEvents(ctx, o.fleet.seen, streamPage)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			o.fleet.seen = evs[len(evs)-1].Seq
			o.published(evs)
		}
		if len(evs) < streamPage {
			break
		}
	}
	o.mu.Lock()
	gen := o.hookGen // the webhooks started before the read below
	o.mu.Unlock()
	hooks, err := o.store.Webhooks(ctx)
	if err != nil {
		return err
	}
	// Those deleted first, then those new: once a node runs a webhook
	// created after another was deleted, it no longer runs the deleted one.
	stored := map[string]bool{}
	for _, w := range hooks {
		stored[w.ID] = true
	}
	o.mu.Lock()
	for id, h := range o.hooks {
		// Deleted on another node; one started since the read (Create's)
		// is left to the next poll.
		if !stored[id] && h.gen <= gen {
			h.cancel()
			delete(o.hooks, id)
		}
	}
	o.mu.Unlock()
	for _, w := range hooks {
		o.mu.Lock()
		known := o.hooks[w.ID] != nil || o.fleet.deleted[w.ID] || o.closed
		o.mu.Unlock()
		if known {
			continue
		}
		lanes, err := o.store.WebhookLanes(ctx, w.ID)
		if err != nil {
			return err
		}
		o.mu.Lock()
		if !o.closed && !o.fleet.deleted[w.ID] {
			o.startHook(w, lanes)
		}
		o.mu.Unlock()
	}
	return o.reconcile(ctx)
}

// reconcile stops the lanes of the accounts this node no longer owns and
// starts, from their stored places, those of the accounts it came to own.
func (o *Outbox) reconcile(ctx context.Context) error {
	type start struct {
		h        *hook
		accounts []core.AccountID
	}
	var starts []start
	o.mu.Lock()
	for _, h := range o.hooks {
		var want []core.AccountID
		for id := range o.accounts {
			if !h.w.WantsAccount(id) {
				continue
			}
			owned := o.owns(id)
			l := h.lanes[id]
			if l != nil && (l.ended() || !owned) {
				l.cancel()
				delete(h.lanes, id)
				l = nil
			}
			if l == nil && owned {
				want = append(want, id)
			}
		}
		if len(want) > 0 {
			starts = append(starts, start{h, want})
		}
	}
	o.mu.Unlock()
	for _, s := range starts {
		lanes, err := o.store.WebhookLanes(ctx, s.h.w.ID)
		if err != nil {
			return err
		}
		from := map[core.AccountID]Lane{}
		for _, l := range lanes {
			from[l.Account] = l
		}
		o.mu.Lock()
		for _, id := range s.accounts {
			if o.closed || s.h.ctx.Err() != nil || s.h.lanes[id] != nil {
				continue
			}
			l, ok := from[id]
			if !ok {
				l = Lane{Webhook: s.h.w.ID, Account: id, Cursor: s.h.w.After}
			}
			o.startLane(s.h, l)
		}
		o.mu.Unlock()
	}
	return nil
}
