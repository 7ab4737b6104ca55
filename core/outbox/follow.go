package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"warden/core"
)

// Timeline is the Manager's side Follow reads: *core.Manager implements it.
type Timeline interface {
	// SubscribeEvents returns every timeline event as it happens; a slow
	// reader may lose the oldest, which Events still has.
	SubscribeEvents() (<-chan core.Event, func())
	// Events returns the account's newest stored events, newest last,
	// once every event recorded before the call is stored.
	Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error)
	// Statuses lists the accounts.
	Statuses() []core.Status
}

// maxCatchUp bounds how many timeline events of one account Follow reads
// back at once.
const maxCatchUp = 100_000

// followBatch is at most how many live timeline events one commit stores.
const followBatch = 1000

// Follow turns the timeline's events into outbox events until Close: first
// those recorded since the last run, then the live ones. It returns once it
// follows: every event recorded from then on reaches the outbox. On the
// outbox's very first run, the accounts the timeline lists then are followed
// from their newest event: a timeline's past is not replayed. Call it once,
// after the Manager started, or before on a new Warden (no account yet).
func (o *Outbox) Follow(ctx context.Context, tl Timeline) error {
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return ErrClosed
	}
	live, cancel := tl.SubscribeEvents()
	f := &follower{o: o, tl: tl}
	if err := f.load(ctx); err != nil {
		cancel()
		return fmt.Errorf("follow the timeline: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		cancel()
		return ErrClosed
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer cancel()
		f.run(live)
	}()
	return nil
}

// follower is Follow's goroutine: it alone reads and moves the cursors.
type follower struct {
	o       *Outbox
	tl      Timeline
	cursors map[core.AccountID]uint64
	owned   map[core.AccountID]bool // the accounts owned at the last catch-up
}

func (f *follower) run(live <-chan core.Event) {
	ctx := f.o.ctx
	if !f.retry(ctx, "catch up with the timeline", f.catchUp) {
		return
	}
	// In a fleet, the accounts this node came to own are caught up every
	// Poll, and all it owns every fullCatchUp Polls: the events an account's
	// last owner recorded after it lost it (fleet.go).
	var tick <-chan time.Time
	if f.o.fleet != nil {
		t := time.NewTicker(f.o.cfg.Poll)
		defer t.Stop()
		tick = t.C
	}
	ticks := 0
	for {
		var batch []core.Event
		select {
		case ev, ok := <-live:
			if !ok {
				return
			}
			batch = append(batch, ev)
		case <-tick:
			ticks++
			all := ticks%fullCatchUp == 0
			if !f.retry(ctx, "catch up with the timeline", func(ctx context.Context) error { return f.catchUpOwned(ctx, all) }) {
				return
			}
			continue
		case <-ctx.Done():
			return
		}
	drain:
		for len(batch) < followBatch {
			select {
			case ev, ok := <-live:
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		if !f.retry(ctx, "store timeline events", func(ctx context.Context) error { return f.take(ctx, batch) }) {
			return
		}
	}
}

// retry runs fn until it succeeds, waiting between tries, and reports
// whether it did before the outbox closed. The timeline keeps the events
// meanwhile: none is skipped.
func (f *follower) retry(ctx context.Context, what string, fn func(context.Context) error) bool {
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		f.o.log.Error("the outbox could not "+what+"; it tries again", "err", err)
		if !sleep(ctx, f.o.backoff(attempt)) {
			return false
		}
	}
}

// load reads the cursors. On the outbox's first run, each account's cursor
// is its newest event, and they are stored.
func (f *follower) load(ctx context.Context) error {
	cursors, set, err := f.o.store.TimelineCursors(ctx)
	if err != nil {
		return err
	}
	f.cursors = cursors
	if set {
		return nil
	}
	for _, st := range f.tl.Statuses() {
		last, err := f.tl.Events(ctx, st.Account.ID, 1)
		if err != nil && !errors.Is(err, core.ErrUnknownAccount) {
			return fmt.Errorf("read the timeline of %s: %w", st.Account.ID, err)
		}
		if len(last) > 0 {
			f.cursors[st.Account.ID] = last[0].Seq
		}
	}
	return f.o.append(ctx, nil, f.cursors)
}

// catchUp stores what each account's timeline recorded past its cursor (in
// a fleet: each account this node owns).
func (f *follower) catchUp(ctx context.Context) error { return f.catchUpOwned(ctx, true) }

// fullCatchUp is every how many Polls a fleet's follower catches up every
// account it owns; at the others, only those it came to own since.
const fullCatchUp = 10

// catchUpOwned catches up the accounts this node owns: all of them, or
// only those it came to own since the last call. The cursor of an account
// it came to own is the stored one when further: another node moved it.
func (f *follower) catchUpOwned(ctx context.Context, all bool) error {
	owned, fresh := map[core.AccountID]bool{}, map[core.AccountID]bool{}
	statuses := f.tl.Statuses()
	for _, st := range statuses {
		if id := st.Account.ID; f.o.owns(id) {
			owned[id] = true
			if !f.owned[id] {
				fresh[id] = true
			}
		}
	}
	if f.o.fleet != nil && len(fresh) > 0 {
		stored, _, err := f.o.store.TimelineCursors(ctx)
		if err != nil {
			return err
		}
		for id := range fresh {
			if stored[id] > f.cursors[id] {
				f.cursors[id] = stored[id]
			}
		}
	}
	for _, st := range statuses {
		id := st.Account.ID
		if !owned[id] || (!all && !fresh[id]) {
			continue
		}
		last, err := f.tl.Events(ctx, id, 1)
		if errors.Is(err, core.ErrUnknownAccount) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the timeline of %s: %w", id, err)
		}
		if len(last) > 0 {
			if err := f.take(ctx, last); err != nil {
				return err
			}
		}
	}
	f.owned = owned
	return nil
}

// take stores the outbox events of timeline events, with those the
// cursors show were missed before them, and moves the cursors, in one
// commit.
func (f *follower) take(ctx context.Context, batch []core.Event) error {
	next := map[core.AccountID]uint64{}
	var out []Event
	for _, ev := range batch {
		if !f.o.owns(ev.Account) {
			continue // in a fleet, the owner's to take (fleet.go)
		}
		cursor, ok := next[ev.Account]
		if !ok {
			cursor = f.cursors[ev.Account]
		}
		if ev.Seq <= cursor {
			continue // seen before the last start, or in a gap read
		}
		evs, err := f.missed(ctx, ev, cursor)
		if err != nil {
			return err
		}
		for _, e := range append(evs, ev) {
			derived, err := timelineEvents(e)
			if err != nil {
				return err
			}
			out = append(out, derived...)
		}
		next[ev.Account] = ev.Seq
	}
	if len(next) == 0 {
		return nil
	}
	if err := f.o.append(ctx, out, next); err != nil {
		return err
	}
	for id, seq := range next {
		f.cursors[id] = seq
	}
	return nil
}

// missed returns the account's stored timeline events between cursor and
// ev, oldest first: those the live stream skipped, or that came before a
// start. The store reads the newest events, and more may have been recorded
// since ev: the read widens until it reaches back to the cursor.
func (f *follower) missed(ctx context.Context, ev core.Event, cursor uint64) ([]core.Event, error) {
	if ev.Seq == cursor+1 {
		return nil, nil
	}
	limit := ev.Seq - cursor
	for {
		stored, err := f.tl.Events(ctx, ev.Account, int(min(limit, maxCatchUp)))
		if errors.Is(err, core.ErrUnknownAccount) {
			return nil, nil // deleted since
		}
		if err != nil {
			return nil, fmt.Errorf("read the timeline of %s after %d: %w", ev.Account, cursor, err)
		}
		reached := len(stored) == 0 || stored[0].Seq <= cursor+1 || uint64(len(stored)) < limit
		if reached || limit >= maxCatchUp {
			return between(stored, cursor, ev.Seq), nil
		}
		limit += stored[0].Seq - (cursor + 1)
	}
}

// between returns the events of evs with a Seq above from and below to.
func between(evs []core.Event, from, to uint64) []core.Event {
	var out []core.Event
	for _, e := range evs {
		if e.Seq > from && e.Seq < to {
			out = append(out, e)
		}
	}
	return out
}
