// Package cluster is account ownership across Warden nodes, on etcd: the
// invariant "one client per account" held across machines.
//
// Each node holds one etcd lease. An account's owner key is created in a
// transaction bound to that lease, and only when no one owns it; its create
// revision is the ownership's fencing token. A node dials only the accounts
// it owns, and only while its lease is surely alive by its own clock.
//
// The fence. A node cut off from etcd learns late that its lease is gone
// (measured up to 0.5 s after another node could own the account). So a
// node counts its lease as alive only until the time it *sent* its last
// acknowledged keepalive, plus the TTL, minus a margin: etcd cannot expire
// the lease before that send time plus the TTL, so the node stops (Lost
// closes) before etcd even lets the key go. And an account whose owner
// vanished without releasing it (a crash, a partition) is taken over only a
// full TTL after a node saw it ownerless, which absorbs clock-rate
// differences. A clean release (Release, Close) marks the account released,
// and another node may take it at once.
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

// Defaults of Config.
const (
	DefaultTTL    = 5 * time.Second
	DefaultPrefix = "/warden/"
)

// Errors callers branch on.
var (
	// ErrOwned is wrapped by Acquire when another node owns the account.
	ErrOwned = errors.New("another node owns the account")
	// ErrOrphanWait is wrapped by Acquire while an account whose owner
	// vanished waits out the TTL before anyone may take it.
	ErrOrphanWait = errors.New("the account's last owner vanished; waiting out its lease before taking it over")
	// ErrFenced is returned once this node's lease may have expired: it must
	// not dial, and owns nothing any more.
	ErrFenced = errors.New("this node's lease may have expired: it stopped dialling")
	// ErrNotOwner is wrapped by Release for a token that is not current.
	ErrNotOwner = errors.New("this node does not own the account with that token")
)

// Config configures a Node.
type Config struct {
	Client *clientv3.Client
	Name   string        // the node's name, unique in the fleet
	TTL    time.Duration // the lease's TTL; zero means DefaultTTL
	// Margin is how long before the lease's earliest possible expiry the
	// node fences itself. Zero means a fifth of the TTL.
	Margin time.Duration
	Prefix string // key prefix; "" means DefaultPrefix
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// Node is this process's membership of the fleet.
type Node struct {
	cli    *clientv3.Client
	name   string
	ttl    time.Duration
	margin time.Duration
	prefix string
	log    *slog.Logger
	now    func() time.Time
	lease  clientv3.LeaseID

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	deadline time.Time            // the fence: dial only before it
	lost     chan struct{}        // closed at the fence
	owned    map[string]int64     // account → token
	absent   map[string]time.Time // account → when seen ownerless, not released
	closed   bool
}

// lastRecord is what an account's "last" key says of its latest ownership.
type lastRecord struct {
	Node     string `json:"node"`
	Token    int64  `json:"token"`
	Released bool   `json:"released"`
}

// Join grants this node's lease, registers the node, and keeps the lease
// alive until Close or the fence.
func Join(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Client == nil || cfg.Name == "" {
		return nil, errors.New("cluster: a client and a node name are needed")
	}
	n := &Node{cli: cfg.Client, name: cfg.Name, ttl: cfg.TTL, margin: cfg.Margin, prefix: cfg.Prefix, log: cfg.Logger, now: cfg.Now,
		lost: make(chan struct{}), owned: map[string]int64{}, absent: map[string]time.Time{}}
	if n.ttl <= 0 {
		n.ttl = DefaultTTL
	}
	if n.margin <= 0 {
		n.margin = n.ttl / 5
	}
	if n.prefix == "" {
		n.prefix = DefaultPrefix
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
	n.lease, n.deadline = lease, deadline
	n.wg.Add(2)
	go n.keepAlive(lease, n.lost)
	go n.fence(n.lost)
	n.log.Info("joined the fleet", "node", n.name, "lease", fmt.Sprintf("%x", lease), "ttl", n.ttl)
	return n, nil
}

// grant grants a lease and registers the node under it.
func (n *Node) grant(ctx context.Context) (clientv3.LeaseID, time.Time, error) {
	sent := n.now()
	grant, err := n.cli.Grant(ctx, int64((n.ttl+time.Second-1)/time.Second))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("cluster: grant the node's lease: %w", err)
	}
	info, _ := json.Marshal(map[string]any{"name": n.name, "since": sent.UTC()})
	if _, err := n.cli.Put(ctx, n.key("nodes", n.name), string(info), clientv3.WithLease(grant.ID)); err != nil {
		_, _ = n.cli.Revoke(context.Background(), grant.ID)
		return 0, time.Time{}, fmt.Errorf("cluster: register node %s: %w", n.name, err)
	}
	return grant.ID, sent.Add(time.Duration(grant.TTL)*time.Second - n.margin), nil
}

// Rejoin gives a fenced node a new lease, once etcd answers again, so that it
// takes its share of the accounts again. The caller must have closed every
// session of the old lease first (Lost closed; Fleet does so). The old lease
// is revoked, in case it still lives, but the accounts it owned are waited
// out as orphans all the same: nobody may assume how long it lived.
func (n *Node) Rejoin(ctx context.Context) error {
	n.mu.Lock()
	closed, old := n.closed, n.lease
	lost := n.lost
	n.mu.Unlock()
	if closed {
		return errors.New("cluster: the node left the fleet")
	}
	select {
	case <-lost:
	default:
		return nil // not fenced: nothing to do
	}
	lease, deadline, err := n.grant(ctx)
	if err != nil {
		return err
	}
	_, _ = n.cli.Revoke(ctx, old)
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		_, _ = n.cli.Revoke(context.Background(), lease)
		return errors.New("cluster: the node left the fleet")
	}
	n.lease, n.deadline = lease, deadline
	n.lost = make(chan struct{})
	n.owned = map[string]int64{} // an Acquire that ended after the fence
	n.absent = map[string]time.Time{}
	n.wg.Add(2)
	go n.keepAlive(lease, n.lost)
	go n.fence(n.lost)
	n.mu.Unlock()
	n.log.Info("rejoined the fleet with a new lease", "node", n.name, "lease", fmt.Sprintf("%x", lease))
	return nil
}

// leaseID returns the node's current lease.
func (n *Node) leaseID() clientv3.LeaseID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lease
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

func (n *Node) key(kind, name string) string { return n.prefix + kind + "/" + name }

// keepAlive renews the lease every third of the TTL and moves the fence
// from each acknowledged renewal's send time.
func (n *Node) keepAlive(lease clientv3.LeaseID, lost chan struct{}) {
	defer n.wg.Done()
	tick := time.NewTicker(n.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-lost:
			return
		case <-tick.C:
		}
		sent := n.now()
		ctx, cancel := context.WithTimeout(n.ctx, n.ttl/3)
		resp, err := n.cli.KeepAliveOnce(ctx, lease)
		cancel()
		if err != nil {
			n.log.Warn("renewing the node's lease failed", "err", err)
			continue
		}
		n.mu.Lock()
		if d := sent.Add(time.Duration(resp.TTL)*time.Second - n.margin); d.After(n.deadline) && n.lease == lease {
			n.deadline = d
		}
		n.mu.Unlock()
	}
}

// fence closes Lost at the deadline, unless renewals moved it.
func (n *Node) fence(lost chan struct{}) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		wait := n.deadline.Sub(n.now())
		n.mu.Unlock()
		if wait <= 0 {
			n.mu.Lock()
			n.owned = map[string]int64{}
			n.mu.Unlock()
			close(lost)
			n.log.Error("the node's lease may have expired: it stops dialling", "node", n.name)
			return
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(min(wait, n.ttl/10)):
		}
	}
}

// Lost is closed once the node's lease may have expired: every session must
// close, and the node owns nothing any more. After Rejoin, Lost returns the
// new lease's channel.
func (n *Node) Lost() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lost
}

// Valid reports whether the node may dial now.
func (n *Node) Valid() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.lost:
		return false
	default:
	}
	return !n.closed && n.now().Before(n.deadline)
}

// Deadline is the fence's time now.
func (n *Node) Deadline() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.deadline
}

// Acquire makes this node the account's owner and returns the fencing
// token. It fails with ErrOwned while another node owns it, and with
// ErrOrphanWait while an owner that vanished without releasing it is waited
// out (a full TTL from when this node first saw it ownerless).
func (n *Node) Acquire(ctx context.Context, account string) (int64, error) {
	if !n.Valid() {
		return 0, ErrFenced
	}
	ownerKey, lastKey := n.key("owner", account), n.key("last", account)
	resp, err := n.cli.Txn(ctx).Then(clientv3.OpGet(ownerKey), clientv3.OpGet(lastKey)).Commit()
	if err != nil {
		return 0, fmt.Errorf("cluster: look up %s: %w", account, err)
	}
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		n.mu.Lock()
		delete(n.absent, account)
		n.mu.Unlock()
		return 0, fmt.Errorf("%w: %s (node %s)", ErrOwned, account, kvs[0].Value)
	}
	var lastRev int64
	if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
		lastRev = kvs[0].ModRevision
		var last lastRecord
		if err := json.Unmarshal(kvs[0].Value, &last); err != nil {
			return 0, fmt.Errorf("cluster: %s: unreadable ownership record: %w", account, err)
		}
		if !last.Released {
			now := n.now()
			n.mu.Lock()
			seen, ok := n.absent[account]
			if !ok {
				seen = now
				n.absent[account] = now
			}
			n.mu.Unlock()
			if wait := seen.Add(n.ttl).Sub(now); wait > 0 {
				return 0, fmt.Errorf("%w: %s (node %s), %v more", ErrOrphanWait, account, last.Node, wait.Round(time.Millisecond))
			}
		}
	}
	if !n.Valid() {
		return 0, ErrFenced
	}
	// The token is the revision of this transaction: the owner key's create
	// revision.
	lease := n.leaseID()
	rec, _ := json.Marshal(lastRecord{Node: n.name})
	txn, err := n.cli.Txn(ctx).If(
		clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", 0),
		clientv3.Compare(clientv3.ModRevision(lastKey), "=", lastRev),
	).Then(
		clientv3.OpPut(ownerKey, n.name, clientv3.WithLease(lease)),
		clientv3.OpPut(lastKey, string(rec)),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("cluster: acquire %s: %w", account, err)
	}
	if !txn.Succeeded {
		return 0, fmt.Errorf("%w: %s (taken meanwhile)", ErrOwned, account)
	}
	token := txn.Header.Revision
	// The last record names its token: fix it up (same node, no race: only
	// the owner writes it while it owns the account).
	rec, _ = json.Marshal(lastRecord{Node: n.name, Token: token})
	if _, err := n.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).
		Then(clientv3.OpPut(lastKey, string(rec))).Commit(); err != nil {
		n.log.Warn("recording the ownership's token failed", "account", account, "err", err)
	}
	n.mu.Lock()
	stale := n.lease != lease
	select {
	case <-n.lost:
		stale = true
	default:
	}
	if !stale {
		n.owned[account] = token
		delete(n.absent, account)
	}
	n.mu.Unlock()
	if stale {
		// The fence fell meanwhile: this ownership dies with the old lease,
		// and nothing may dial under it.
		return 0, ErrFenced
	}
	n.log.Info("account acquired", "account", account, "token", token)
	return token, nil
}

// Release gives the account up, marked released so that another node may
// take it at once. The caller must have closed its session first.
func (n *Node) Release(ctx context.Context, account string, token int64) error {
	ownerKey, lastKey := n.key("owner", account), n.key("last", account)
	rec, _ := json.Marshal(lastRecord{Node: n.name, Token: token, Released: true})
	txn, err := n.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(ownerKey), "=", token)).
		Then(clientv3.OpDelete(ownerKey), clientv3.OpPut(lastKey, string(rec)), clientv3.OpDelete(n.key("status", account))).Commit()
	if err != nil {
		return fmt.Errorf("cluster: release %s: %w", account, err)
	}
	n.mu.Lock()
	delete(n.owned, account)
	n.mu.Unlock()
	if !txn.Succeeded {
		return fmt.Errorf("%w: %s (token %d)", ErrNotOwner, account, token)
	}
	n.log.Info("account released", "account", account, "token", token)
	return nil
}

// Owner returns the node owning the account and the ownership's token; ""
// when no one does.
func (n *Node) Owner(ctx context.Context, account string) (string, int64, error) {
	resp, err := n.cli.Get(ctx, n.key("owner", account))
	if err != nil {
		return "", 0, fmt.Errorf("cluster: owner of %s: %w", account, err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, nil
	}
	return string(resp.Kvs[0].Value), resp.Kvs[0].CreateRevision, nil
}

// Current reports whether token is still this node's ownership of the
// account, as etcd says now: a session with a token that is not current must
// close.
func (n *Node) Current(ctx context.Context, account string, token int64) (bool, error) {
	owner, cur, err := n.Owner(ctx, account)
	if err != nil {
		return false, err
	}
	return owner == n.name && cur == token && n.Valid(), nil
}

// Nodes returns the names of the nodes whose leases are alive.
func (n *Node) Nodes(ctx context.Context) ([]string, error) {
	resp, err := n.cli.Get(ctx, n.prefix+"nodes/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	out := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key[len(n.prefix+"nodes/"):]))
	}
	return out, nil
}

// forget drops an ownership that etcd no longer holds, unless the account
// was acquired again since.
func (n *Node) forget(account string, token int64) {
	n.mu.Lock()
	if n.owned[account] == token {
		delete(n.owned, account)
	}
	n.mu.Unlock()
}

// Owned returns the accounts this node owns, with their tokens.
func (n *Node) Owned() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]int64, len(n.owned))
	for a, t := range n.owned {
		out[a] = t
	}
	return out
}

// FairShare is how many of accounts one of nodes may own: its fair share,
// rounded up, plus one, so that adding a node moves accounts gradually.
func FairShare(accounts, nodes int) int {
	if nodes < 1 {
		nodes = 1
	}
	return (accounts+nodes-1)/nodes + 1
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
	owned := n.owned
	n.owned = map[string]int64{}
	lost, lease := n.lost, n.lease
	n.mu.Unlock()
	select {
	case <-lost:
		owned = nil // fenced: the lease is gone or going, and the orphans are waited out
	default:
	}
	var errs []error
	for account, token := range owned {
		if err := n.Release(ctx, account, token); err != nil {
			errs = append(errs, err)
		}
	}
	n.cancel()
	n.wg.Wait()
	if _, err := n.cli.Revoke(ctx, lease); err != nil {
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
