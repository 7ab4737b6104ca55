package cluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"warden/core"
)

// handOver gives an account up cleanly, in this order: the account leaves
// what the node may run (the Gate shuts, so no command and no dial can
// start a session any more), its session closes, its last events reach the
// store, and only then is the ownership released, so that another node may
// take it at once.
//
// It runs on a context of its own (a TTL), not what a round has left. A
// release that fails leaves the account withdrawn: every round tries again
// (releaseLeaving), so that it never stays owned by a node that does not
// run it.
func (f *Fleet) handOver(account string, token int64, reason string) {
	if !f.node.withdraw(account, token) {
		return // not ours any more (fenced, or taken over)
	}
	f.yield(account, reason)
	ctx, cancel := context.WithTimeout(f.ctx, f.node.ttl)
	defer cancel()
	if err := f.m.Flush(ctx); err != nil {
		f.log.Warn("storing the last events before a handover failed", "account", account, "err", err)
	}
	if err := f.node.Release(ctx, account, token); err != nil && !errors.Is(err, ErrNotOwner) {
		f.log.Warn("handing an account over failed; the next round tries again", "account", account, "err", err)
	}
}

// releaseLeaving releases the accounts withdrawn by a handover whose release
// failed, once their sessions are closed: a handover still closing one
// releases it itself.
func (f *Fleet) releaseLeaving(ctx context.Context) {
	leaving := f.node.Leaving()
	if len(leaving) == 0 {
		return
	}
	running := f.m.Running()
	for account, token := range leaving {
		if slices.Contains(running, core.AccountID(account)) {
			continue
		}
		if err := f.m.Flush(ctx); err != nil { // its last events first, as handOver
			f.log.Warn("storing the last events before a handover failed", "account", account, "err", err)
			return
		}
		if err := f.node.Release(ctx, account, token); err != nil && !errors.Is(err, ErrNotOwner) {
			f.log.Warn("releasing a handed-over account failed", "account", account, "err", err)
		}
	}
}

// yield closes the account's session, politely within half the margin, torn
// down after that.
func (f *Fleet) yield(account, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), f.node.margin/2)
	defer cancel()
	if err := f.m.Yield(ctx, core.AccountID(account), reason); err != nil && !errors.Is(err, core.ErrClosed) && !errors.Is(err, core.ErrUnknownAccount) {
		f.log.Warn("yielding an account failed", "account", account, "err", err)
	}
}

// fence closes every session at once: the node's lease may have expired.
// The closes run in parallel, and those still polite at half the margin
// after the fence fell are torn down hard, so that no logged-in socket
// outlives the lease, whatever the number of accounts.
func (f *Fleet) fence(reason string) {
	lost := f.node.LostAt()
	if lost.IsZero() {
		lost = time.Now()
	}
	ctx, cancel := context.WithDeadline(context.Background(), lost.Add(f.node.margin/2))
	defer cancel()
	aborted, err := f.m.YieldAll(ctx, reason)
	if err != nil && !errors.Is(err, core.ErrClosed) {
		f.log.Error("closing the sessions at the fence failed", "err", err)
	}
	f.log.Warn("fenced: every session closed", "torn_down", aborted, "after", time.Since(lost).Round(time.Millisecond))
}

// reconcile makes what the Manager runs match what this node owns: an
// account that runs here without ownership is closed at once, and an owned
// account that should run and runs nowhere is dialled.
func (f *Fleet) reconcile() {
	owned := f.node.Owned()
	running := map[core.AccountID]bool{}
	for _, id := range f.m.Running() {
		running[id] = true
		if _, ok := owned[string(id)]; !ok {
			f.log.Warn("an account ran without this node owning it: closing it", "account", id)
			f.yield(string(id), core.ReasonElsewhere)
		}
	}
	for account := range owned {
		id := core.AccountID(account)
		st, ok := f.m.Status(id)
		if !ok || running[id] || !wanted(st) || st.State != core.Idle {
			continue
		}
		ctx, cancel := context.WithTimeout(f.ctx, f.every)
		if err := f.m.Connect(ctx, id); err != nil && !errors.Is(err, core.ErrAlreadyConnected) && !errors.Is(err, core.ErrNotOwned) {
			f.log.Warn("connecting an owned account failed", "account", id, "err", err)
		}
		cancel()
	}
}
