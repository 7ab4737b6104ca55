package cluster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"warden/core"
)

// Fleet runs this node's share of the accounts. It is the Manager's Gate: the
// Manager dials an account only while this node owns it and its lease is
// surely alive. Every round (a third of the TTL) it:
//   - yields every account at once when the node's fence falls (Lost),
//     then rejoins with a new lease once etcd answers again;
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

// Allowed implements core.Gate.
func (f *Fleet) Allowed(id core.AccountID) (int64, bool) {
	if !f.node.Valid() {
		return 0, false
	}
	token := f.node.Owned()[string(id)]
	return token, token != 0
}

// Start runs the rounds for m until Stop.
func (f *Fleet) Start(m *core.Manager) {
	f.mu.Lock()
	f.m = m
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.mu.Unlock()
	f.wg.Add(4)
	go f.loop()
	go f.publishLoop()
	go f.serveCommands()
	go f.console.viewLoop()
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
		case <-f.node.Lost():
			f.yieldAll("this node lost contact with the fleet's etcd: another node takes its accounts")
			if !f.rejoin() {
				return
			}
		case <-tick.C:
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
		select {
		case <-f.ctx.Done():
			return false
		case <-time.After(f.every):
		}
	}
}

func (f *Fleet) yieldAll(reason string) {
	for _, st := range f.m.Statuses() {
		id := st.Account.ID
		if st.State == core.Idle && !st.Account.AutoStart {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), f.node.ttl)
		if err := f.m.Yield(ctx, id, reason); err != nil && !errors.Is(err, core.ErrClosed) {
			f.log.Warn("yielding an account failed", "account", id, "err", err)
		}
		cancel()
	}
}

func (f *Fleet) round() {
	ctx, cancel := context.WithTimeout(f.ctx, f.every)
	defer cancel()
	if !f.node.Valid() {
		return
	}
	// What this node owned before reading etcd: an account acquired
	// meanwhile (by a window's command) is not in the snapshot, so it is
	// not mistaken for one lost.
	owned := f.node.Owned()
	owners, handoffs, err := f.owners(ctx)
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
	for account, token := range owned {
		if _, ok := f.m.Status(core.AccountID(account)); !ok {
			if err := f.node.Release(ctx, account, token); err != nil {
				f.log.Warn("releasing a deleted account failed", "account", account, "err", err)
			}
			delete(owned, account)
			continue
		}
		if o, ok := owners[account]; !ok || o.node != f.node.name || o.token != token {
			f.node.forget(account, token)
			if f.node.Owned()[account] == 0 { // not acquired again meanwhile
				f.yield(account, "taken over by another Warden node")
			}
			delete(owned, account)
		}
	}

	// The accounts that should run somewhere: paired, and wanted running.
	// An account not yet paired runs only on the node where the operator
	// pairs it (Console.Add, Console.Connect).
	var want []core.Status
	for _, st := range f.m.Statuses() {
		if st.Account.AutoStart && st.Account.JID != "" {
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
	wanted := make(map[string]bool, len(want))
	for _, st := range want {
		wanted[string(st.Account.ID)] = true
	}
	running := 0
	for account := range owned {
		if wanted[account] {
			running++
		}
	}

	// Above the share (a node joined): hand one over.
	if running > share {
		for account, token := range owned {
			if wanted[account] {
				f.handOver(ctx, account, token, "handed over to another Warden node to spread the accounts")
				break
			}
		}
		return
	}

	for _, st := range want {
		if running >= share {
			break
		}
		account := string(st.Account.ID)
		if _, taken := owners[account]; taken {
			continue
		}
		if to, ok := handoffs[account]; ok && to != f.node.name && slices.Contains(nodes, to) {
			continue // being moved to another node by the operator
		}
		token, err := f.node.Acquire(ctx, account)
		if err != nil {
			continue // owned meanwhile, or an orphan still waited out
		}
		owned[account] = token
		running++
		f.run(ctx, st.Account.ID)
		if now, ok := f.m.Status(st.Account.ID); ok {
			f.publish(now) // the first status of this ownership
		}
	}
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

// handOver gives an account up cleanly: the session closes, its last events
// reach the store, then the ownership is released, and another node may
// take it at once.
func (f *Fleet) handOver(ctx context.Context, account string, token int64, reason string) {
	f.yield(account, reason)
	if err := f.m.Flush(ctx); err != nil {
		f.log.Warn("storing the last events before a handover failed", "account", account, "err", err)
	}
	if err := f.node.Release(ctx, account, token); err != nil {
		f.log.Warn("handing an account over failed", "account", account, "err", err)
	}
}

func (f *Fleet) yield(account, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), f.node.ttl)
	defer cancel()
	if err := f.m.Yield(ctx, core.AccountID(account), reason); err != nil && !errors.Is(err, core.ErrClosed) {
		f.log.Warn("yielding an account failed", "account", account, "err", err)
	}
}

type ownership struct {
	node  string
	token int64
}

// owners reads every owner key, and the handoffs under way, in one request.
func (f *Fleet) owners(ctx context.Context) (map[string]ownership, map[string]string, error) {
	ownerPrefix, handoffPrefix := f.node.prefix+"owner/", f.node.prefix+"handoff/"
	resp, err := f.node.cli.Txn(ctx).Then(
		clientv3.OpGet(ownerPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(handoffPrefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, nil, err
	}
	owners := map[string]ownership{}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		owners[string(kv.Key[len(ownerPrefix):])] = ownership{node: string(kv.Value), token: kv.CreateRevision}
	}
	handoffs := map[string]string{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		handoffs[string(kv.Key[len(handoffPrefix):])] = string(kv.Value)
	}
	return owners, handoffs, nil
}
