package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Node is this process's membership of the fleet: its lease, kept alive and
// fenced here, and what it owns (ownership.go).
type Node struct {
	cli    *clientv3.Client // nil with an in-memory Table: no Console
	table  Table
	name   string
	ttl    time.Duration
	margin time.Duration
	prefix string
	log    *slog.Logger
	now    func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// mu guards the following
	lease    LeaseID
	deadline time.Time // the fence: dial only before it
	// valid lives while the lease is surely alive: it ends at the fence
	// (then Lost is closed), and with Close. Dials run under it.
	valid    context.Context
	endValid context.CancelFunc
	lostAt   time.Time            // when the fence fell
	owned    map[string]owned     // account → its ownership
	leaving  map[string]owned     // withdrawn (handover under way), not yet released
	absent   map[string]time.Time // account → when seen ownerless, not released
	closed   bool
}

// owned is one ownership this node holds.
type owned struct {
	token  int64
	device string // the WhatsApp device it holds with it; "" when none
}

// Join grants this node's lease, registers the node, and keeps the lease
// alive until Close or the fence.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	if (cfg.Client == nil && cfg.Table == nil) || cfg.Name == "" {
		return nil, errors.New("cluster: a client and a node name are needed")
	}
	n := &Node{cli: cfg.Client, table: cfg.Table, name: cfg.Name, ttl: cfg.TTL, margin: cfg.Margin, prefix: cfg.Prefix, log: cfg.Logger, now: cfg.Now,
		owned: map[string]owned{}, leaving: map[string]owned{}, absent: map[string]time.Time{}}
	if n.ttl <= 0 {
		n.ttl = DefaultTTL
	}
	if n.margin <= 0 {
		n.margin = n.ttl / 5
	}
	if n.prefix == "" {
		n.prefix = DefaultPrefix
	}
	if n.table == nil {
		n.table = &etcdTable{cli: n.cli, prefix: n.prefix}
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.now == nil {
		n.now = time.Now
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	lease, deadline, err := n.grant(ctx)
	if err != nil {
		n.cancel()
		return nil, err
	}
	n.mu.Lock()
	n.start(lease, deadline)
	n.mu.Unlock()
	n.log.Info("joined the fleet", "node", n.name, "lease", fmt.Sprintf("%x", lease), "ttl", n.ttl)
	return n, nil
}

// grant grants a lease and registers the node under it; the deadline is the
// fence of that first grant.
func (n *Node) grant(ctx context.Context) (LeaseID, time.Time, error) {
	sent := n.now()
	info, _ := json.Marshal(map[string]any{"name": n.name, "since": sent.UTC()})
	lease, ttl, err := n.table.Grant(ctx, n.name, n.ttl, info)
	if err != nil {
		return 0, time.Time{}, err
	}
	return lease, sent.Add(ttl - n.margin), nil
}

// start begins a lease's life: its validity, keepalive and fence. n.mu is
// held.
func (n *Node) start(lease LeaseID, deadline time.Time) {
	n.lease, n.deadline = lease, deadline
	n.valid, n.endValid = context.WithCancel(n.ctx)
	n.lostAt = time.Time{}
	n.wg.Add(2)
	go n.keepAlive(lease, n.valid)
	go n.fence(lease, n.valid)
}

// Rejoin gives a fenced node a new lease, once etcd answers again, so that it
// takes its share of the accounts again. The caller must have closed every
// session of the old lease first (Lost closed; Fleet does so). The old lease
// is revoked, in case it still lives, but the accounts it owned are waited
// out as orphans all the same: nobody may assume how long it lived.
func (n *Node) Rejoin(ctx context.Context) error {
	n.mu.Lock()
	closed, old, valid := n.closed, n.lease, n.valid
	n.mu.Unlock()
	if closed {
		return errors.New("cluster: the node left the fleet")
	}
	if valid.Err() == nil {
		return nil // not fenced: nothing to do
	}
	lease, deadline, err := n.grant(ctx)
	if err != nil {
		return err
	}
	_ = n.table.Revoke(ctx, old)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_ = n.table.Revoke(context.Background(), lease)
		return errors.New("cluster: the node left the fleet")
	}
	n.owned = map[string]owned{} // an Acquire that ended after the fence
	n.leaving = map[string]owned{}
	n.absent = map[string]time.Time{}
	n.start(lease, deadline)
	n.mu.Unlock()
	n.log.Info("rejoined the fleet with a new lease", "node", n.name, "lease", fmt.Sprintf("%x", lease))
	return nil
}

// leaseID returns the node's current lease.
func (n *Node) leaseID() LeaseID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lease
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

func (n *Node) key(kind, name string) string { return n.prefix + kind + "/" + name }

// keepAlive renews the lease every third of the TTL and moves the fence
// from each acknowledged renewal's send time.
func (n *Node) keepAlive(lease LeaseID, valid context.Context) {
	defer n.wg.Done()
	tick := time.NewTicker(n.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-valid.Done():
			return
		case <-tick.C:
		}
		sent := n.now()
		ctx, cancel := context.WithTimeout(valid, n.ttl/3)
		ttl, err := n.table.KeepAlive(ctx, lease)
		cancel()
		if err != nil {
			if valid.Err() == nil {
				n.log.Warn("renewing the node's lease failed", "err", err)
			}
			continue
		}
		n.mu.Lock()
		if d := sent.Add(ttl - n.margin); d.After(n.deadline) && n.lease == lease {
			n.deadline = d
		}
		n.mu.Unlock()
	}
}

// fence ends the lease's validity at the deadline, unless renewals moved it.
func (n *Node) fence(lease LeaseID, valid context.Context) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		wait := n.deadline.Sub(n.now())
		if wait <= 0 && n.lease == lease && valid.Err() == nil {
			n.owned = map[string]owned{}
			n.leaving = map[string]owned{}
			n.lostAt = n.now()
			n.endValid()
			n.mu.Unlock()
			n.log.Error("the node's lease may have expired: it stops dialling", "node", n.name)
			return
		}
		n.mu.Unlock()
		if wait <= 0 {
			return // closed, or a new lease
		}
		t := time.NewTimer(wait)
		select {
		case <-valid.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Lost is closed once the node's lease may have expired: every session must
// close, and the node owns nothing any more. After Rejoin, Lost returns the
// new lease's channel.
func (n *Node) Lost() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.valid.Done()
}

// LostAt is when the fence last fell; zero while the lease is valid.
func (n *Node) LostAt() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lostAt
}

// Margin is how long before the lease's earliest possible expiry the node
// fences itself.
func (n *Node) Margin() time.Duration { return n.margin }

// Valid reports whether the node may dial now.
func (n *Node) Valid() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.validLocked()
}

func (n *Node) validLocked() bool {
	return n.valid.Err() == nil && !n.closed && n.now().Before(n.deadline)
}

// Deadline is the fence's time now.
func (n *Node) Deadline() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.deadline
}

// Close releases every account the node owns (the caller closed their
// sessions), then revokes the lease. It is safe to call twice.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	mine := n.owned
	for a, o := range n.leaving {
		mine[a] = o
	}
	n.owned, n.leaving = map[string]owned{}, map[string]owned{}
	fenced, lease := n.valid.Err() != nil, n.lease
	n.mu.Unlock()
	if fenced {
		mine = nil // the lease is gone or going, and the orphans are waited out
	}
	var errs []error
	for account, o := range mine {
		if err := n.release(ctx, account, o); err != nil {
			errs = append(errs, err)
		}
	}
	n.cancel()
	n.wg.Wait()
	if err := n.table.Revoke(ctx, lease); err != nil {
		errs = append(errs, fmt.Errorf("cluster: revoke the node's lease: %w", err))
	}
	n.log.Info("left the fleet", "node", n.name)
	return errors.Join(errs...)
}

// crash stops renewing without releasing or revoking anything, as a process
// that was killed: for tests.
func (n *Node) crash() {
	n.cancel()
	n.wg.Wait()
}
