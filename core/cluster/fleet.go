package cluster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"warden/core"
)

// Fleet runs this node's share of the accounts. It is the Manager's Gate: the
// Manager dials an account only while this node owns it and its lease is
// surely alive. When the node's fence falls, it closes every session at once
// (handover.go), then rejoins with a new lease once etcd answers again. Every
// round (a third of the TTL) it:
//   - reconciles: an account the Manager runs that the node does not own is
//     closed at once, and an owned account that should run and runs nowhere
//     is dialled;
//   - yields the accounts whose ownership is no longer this node's;
//   - takes ownerless accounts that should run, up to its fair share plus
//     one, and connects them;
//   - above its share (a node joined), hands one account over per round.
//
// Reads only: at idle, a round reads the owner keys with one range request
// and writes nothing; the lease's keepalive is the only write.
type Fleet struct {
	node  *Node
	log   *slog.Logger
	every time.Duration

	console *Console

	mu     sync.Mutex
	m      *core.Manager
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	served sync.Mutex
	seen   map[string]bool // command keys being served
}

var _ core.Gate = (*Fleet)(nil)

// NewFleet returns the node's Fleet; give it to the Manager as its Gate, then
// call Start.
func NewFleet(node *Node) *Fleet {
	f := &Fleet{node: node, log: node.log, every: node.ttl / 3, seen: map[string]bool{}}
	f.console = newConsole(f)
	return f
}

// Allowed implements core.Gate: the account is this node's, and its lease is
// surely alive. The grant's Lease ends at the fence.
func (f *Fleet) Allowed(id core.AccountID) (core.Grant, bool) {
	token, valid, ok := f.node.allowed(string(id))
	if !ok {
		return core.Grant{}, false
	}
	return core.Grant{Token: token, Lease: valid}, true
}

// Runs reports whether this node runs the account now.
func (f *Fleet) Runs(id core.AccountID) bool {
	_, ok := f.Allowed(id)
	return ok
}

// Start runs the rounds for m until Stop.
func (f *Fleet) Start(m *core.Manager) {
	f.mu.Lock()
	f.m = m
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.mu.Unlock()
	f.wg.Add(2)
	go f.loop()
	go f.guard()
	if f.node.cli != nil { // the Console lives in etcd
		f.wg.Add(3)
		// Subscribed here, not in the goroutine: no status is missed.
		updates, cancel := m.Subscribe()
		go f.publishLoop(updates, cancel)
		go f.serveCommands()
		go f.console.viewLoop()
	}
}

// Stop ends the rounds; it yields nothing (Close the Manager, then the Node,
// to hand the accounts over cleanly).
func (f *Fleet) Stop() {
	f.mu.Lock()
	cancel := f.cancel
	f.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	f.wg.Wait()
}

func (f *Fleet) loop() {
	defer f.wg.Done()
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		f.round()
		select {
		case <-f.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// guard waits for the fence: it closes every session at once, then rejoins.
// It runs apart from the rounds, so that a round blocked on etcd never
// delays the fence.
func (f *Fleet) guard() {
	defer f.wg.Done()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.node.Lost():
		}
		if f.ctx.Err() != nil {
			return
		}
		f.fence("this node lost contact with the fleet's etcd: another node takes its accounts")
		if !f.rejoin() {
			return
		}
	}
}

// rejoin waits for etcd to answer again and takes a new lease, once every
// session of the old one is closed. It reports false when the Fleet stops.
func (f *Fleet) rejoin() bool {
	for {
		ctx, cancel := context.WithTimeout(f.ctx, f.node.ttl)
		err := f.node.Rejoin(ctx)
		cancel()
		if err == nil {
			return true
		}
		f.log.Warn("rejoining the fleet failed; retrying", "err", err)
		t := time.NewTimer(f.every)
		select {
		case <-f.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

func (f *Fleet) round() {
	// A TTL, not a round's interval: on a loaded machine etcd and the store
	// may take longer than that, and a round cut short only waits for the
	// next. The fence does not wait for rounds (guard).
	ctx, cancel := context.WithTimeout(f.ctx, f.node.ttl)
	defer cancel()
	if !f.node.Valid() {
		return
	}
	// What this node owned before reading etcd: an account acquired
	// meanwhile (by a window's command) is not in the snapshot, so it is
	// not mistaken for one lost.
	owned := f.node.Owned()
	owners, handoffs, err := f.node.table.Owners(ctx)
	if err != nil {
		f.log.Warn("reading the fleet's owners failed", "err", err)
		return
	}
	// Accounts added, changed or deleted on other nodes.
	if _, _, err := f.m.Refresh(ctx); err != nil && !errors.Is(err, core.ErrClosed) {
		f.log.Warn("reloading the fleet's accounts failed", "err", err)
	}

	// Ownership that is no longer this node's: close at once. Accounts
	// deleted here: let their ownership go.
	running := f.m.Running()
	for account, token := range owned {
		if _, ok := f.m.Status(core.AccountID(account)); !ok && !slices.Contains(running, core.AccountID(account)) {
			if err := f.node.Release(ctx, account, token); err != nil {
				f.log.Warn("releasing a deleted account failed", "account", account, "err", err)
			}
			delete(owned, account)
			continue
		}
		if o, ok := owners[account]; !ok || o.Node != f.node.name || o.Token != token {
			f.node.forget(account, token)
			if f.node.Owned()[account] == 0 { // not acquired again meanwhile
				f.yield(account, "taken over by another Warden node")
			}
			delete(owned, account)
		}
	}
	f.releaseLeaving(ctx)
	f.reconcile()

	// The accounts that should run somewhere: paired, and wanted running.
	// An account not yet paired runs only on the node where the operator
	// pairs it (Console.Add, Console.Connect).
	var want []core.Status
	for _, st := range f.m.Statuses() {
		if wanted(st) {
			want = append(want, st)
		}
	}
	nodes, err := f.node.Nodes(ctx)
	if err != nil {
		return
	}
	share := FairShare(len(want), len(nodes))
	// The share counts the accounts that should run, as want does: an
	// account being paired here, or one the operator disconnected, neither
	// counts nor moves.
	isWanted := make(map[string]bool, len(want))
	for _, st := range want {
		isWanted[string(st.Account.ID)] = true
	}
	n := 0
	for account := range owned {
		if isWanted[account] {
			n++
		}
	}

	// Above the share (a node joined): hand one over.
	if n > share {
		for account, token := range owned {
			if isWanted[account] {
				f.handOver(account, token, "handed over to another Warden node to spread the accounts")
				break
			}
		}
		return
	}

	for _, st := range want {
		if n >= share {
			break
		}
		account := string(st.Account.ID)
		if _, taken := owners[account]; taken {
			continue
		}
		if to, ok := handoffs[account]; ok && to != f.node.name && slices.Contains(nodes, to) {
			continue // being moved to another node by the operator
		}
		token, err := f.node.Acquire(ctx, account, st.Account.Device())
		if err != nil {
			if errors.Is(err, ErrDeviceOwned) {
				f.log.Warn("not running an account: another account holds its WhatsApp device", "account", account, "err", err)
			}
			continue // owned meanwhile, or an orphan still waited out
		}
		owned[account] = token
		n++
		f.run(ctx, st.Account.ID)
		if now, ok := f.m.Status(st.Account.ID); ok {
			// The first status of this ownership; a failure waits for the
			// next change, which starting it brings at once.
			_ = f.publish(now)
		}
	}
}

// wanted reports whether the account should run on some node: paired, and
// the operator wants it running.
func wanted(st core.Status) bool {
	return st.Account.AutoStart && st.Account.JID != ""
}

// run starts an account this node just acquired: its record and timeline
// position come from the store first, so that its events follow the last
// owner's.
func (f *Fleet) run(ctx context.Context, id core.AccountID) {
	if err := f.m.Resync(ctx, id); err != nil {
		f.log.Warn("reloading an acquired account failed", "account", id, "err", err)
		return // the next round retries, or yields it if deleted
	}
	if err := f.m.Connect(ctx, id); err != nil && !errors.Is(err, core.ErrAlreadyConnected) {
		f.log.Warn("connecting an acquired account failed", "account", id, "err", err)
	}
}
