package cluster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// memTable is the ownership table in memory, for tests in synctest bubbles:
// leases expire by (virtual) time, and a node can be cut off from it. It
// keeps etcd's rules: keys bound to a lease go with it, the token is the
// owner key's create revision, and Claim is one compare-and-swap.
type memTable struct {
	mu sync.Mutex
	// mu guards the following
	rev       int64
	nextLease LeaseID
	leases    map[LeaseID]time.Time // lease → expiry
	ttls      map[LeaseID]time.Duration
	nodes     map[string]memKV // node → its record
	owners    map[string]memKV // account → node
	devices   map[string]memKV // device → account
	last      map[string]memLast
	devLast   map[string]memLast
	handoffs  map[string]memKV
	cut       map[string]bool // nodes cut off from the table

	// latency is each operation's round trip, as etcd's over a network.
	latency time.Duration
}

type memKV struct {
	value  string
	lease  LeaseID
	create int64
}

type memLast struct {
	rec lastRecord
	mod int64
}

// errCut is what a node cut off from the table gets.
var errCut = errors.New("memtable: cut off")

func newMemTable() *memTable {
	return &memTable{
		leases: map[LeaseID]time.Time{}, ttls: map[LeaseID]time.Duration{},
		nodes: map[string]memKV{}, owners: map[string]memKV{}, devices: map[string]memKV{},
		last: map[string]memLast{}, devLast: map[string]memLast{}, handoffs: map[string]memKV{},
		cut: map[string]bool{},
	}
}

// view is the table as node sees it: nothing while it is cut off.
func (t *memTable) view(node string) Table { return &memView{t: t, node: node} }

func (t *memTable) setCut(node string, cut bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cut[node] = cut
}

// expire drops the leases past their expiry and their keys. t.mu is held.
func (t *memTable) expire() {
	now := time.Now()
	for l, at := range t.leases {
		if !now.Before(at) {
			t.drop(l)
		}
	}
}

func (t *memTable) drop(l LeaseID) {
	delete(t.leases, l)
	delete(t.ttls, l)
	for _, m := range []map[string]memKV{t.nodes, t.owners, t.devices, t.handoffs} {
		maps.DeleteFunc(m, func(_ string, kv memKV) bool { return kv.lease == l })
	}
}

// snapshot returns who owns each account now.
func (t *memTable) snapshot() map[string]Ownership {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expire()
	out := map[string]Ownership{}
	for a, kv := range t.owners {
		out[a] = Ownership{Node: kv.value, Token: kv.create}
	}
	return out
}

type memView struct {
	t    *memTable
	node string
}

var _ Table = (*memView)(nil)

// lock takes the table's lock for an operation of v's node.
func (v *memView) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v.t.mu.Lock()
	latency := v.t.latency
	v.t.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	v.t.mu.Lock()
	if v.t.cut[v.node] {
		v.t.mu.Unlock()
		return errCut
	}
	v.t.expire()
	return nil
}

func (v *memView) Grant(ctx context.Context, node string, ttl time.Duration, info []byte) (LeaseID, time.Duration, error) {
	if err := v.lock(ctx); err != nil {
		return 0, 0, err
	}
	defer v.t.mu.Unlock()
	ttl = ttl.Round(time.Second)
	v.t.nextLease++
	l := v.t.nextLease
	v.t.leases[l], v.t.ttls[l] = time.Now().Add(ttl), ttl
	v.t.rev++
	v.t.nodes[node] = memKV{value: string(info), lease: l, create: v.t.rev}
	return l, ttl, nil
}

func (v *memView) KeepAlive(ctx context.Context, lease LeaseID) (time.Duration, error) {
	if err := v.lock(ctx); err != nil {
		return 0, err
	}
	defer v.t.mu.Unlock()
	if _, ok := v.t.leases[lease]; !ok {
		return 0, errors.New("memtable: lease not found")
	}
	v.t.leases[lease] = time.Now().Add(v.t.ttls[lease])
	return v.t.ttls[lease], nil
}

func (v *memView) Revoke(ctx context.Context, lease LeaseID) error {
	if err := v.lock(ctx); err != nil {
		return err
	}
	defer v.t.mu.Unlock()
	v.t.drop(lease)
	return nil
}

func (v *memView) Look(ctx context.Context, account, device string) (Look, error) {
	if err := v.lock(ctx); err != nil {
		return Look{}, err
	}
	defer v.t.mu.Unlock()
	var l Look
	if kv, ok := v.t.owners[account]; ok {
		l.Owner = kv.value
	}
	if r, ok := v.t.last[account]; ok {
		rec := r.rec
		l.Last, l.LastRev = &rec, r.mod
	}
	if device != "" {
		if kv, ok := v.t.devices[device]; ok {
			l.DeviceOwner = kv.value
		}
		if r, ok := v.t.devLast[device]; ok {
			rec := r.rec
			l.DevLast, l.DevLastRev = &rec, r.mod
		}
	}
	return l, nil
}

func (v *memView) Claim(ctx context.Context, lease LeaseID, node, account, device string, look Look) (int64, error) {
	if err := v.lock(ctx); err != nil {
		return 0, err
	}
	defer v.t.mu.Unlock()
	t := v.t
	if _, ok := t.leases[lease]; !ok {
		return 0, errors.New("memtable: lease not found")
	}
	if _, ok := t.owners[account]; ok || t.last[account].mod != look.LastRev {
		return 0, nil
	}
	if device != "" {
		if _, ok := t.devices[device]; ok || t.devLast[device].mod != look.DevLastRev {
			return 0, nil
		}
	}
	t.rev++
	token := t.rev
	t.owners[account] = memKV{value: node, lease: lease, create: token}
	t.last[account] = memLast{rec: lastRecord{Node: node, Token: token}, mod: token}
	if device != "" {
		t.devices[device] = memKV{value: account, lease: lease, create: token}
		t.devLast[device] = memLast{rec: lastRecord{Node: node, Token: token, Account: account}, mod: token}
	}
	return token, nil
}

func (v *memView) Release(ctx context.Context, node, account, device string, token int64) (bool, error) {
	if err := v.lock(ctx); err != nil {
		return false, err
	}
	defer v.t.mu.Unlock()
	t := v.t
	if kv, ok := t.owners[account]; !ok || kv.create != token {
		return false, nil
	}
	t.rev++
	delete(t.owners, account)
	t.last[account] = memLast{rec: lastRecord{Node: node, Token: token, Released: true}, mod: t.rev}
	if device != "" {
		delete(t.devices, device)
		t.devLast[device] = memLast{rec: lastRecord{Node: node, Token: token, Released: true, Account: account}, mod: t.rev}
	}
	return true, nil
}

func (v *memView) Owners(ctx context.Context) (map[string]Ownership, map[string]string, error) {
	if err := v.lock(ctx); err != nil {
		return nil, nil, err
	}
	defer v.t.mu.Unlock()
	owners := map[string]Ownership{}
	for a, kv := range v.t.owners {
		owners[a] = Ownership{Node: kv.value, Token: kv.create}
	}
	handoffs := map[string]string{}
	for a, kv := range v.t.handoffs {
		handoffs[a] = kv.value
	}
	return owners, handoffs, nil
}

func (v *memView) Owner(ctx context.Context, account string) (Ownership, error) {
	if err := v.lock(ctx); err != nil {
		return Ownership{}, err
	}
	defer v.t.mu.Unlock()
	kv, ok := v.t.owners[account]
	if !ok {
		return Ownership{}, nil
	}
	return Ownership{Node: kv.value, Token: kv.create}, nil
}

func (v *memView) Nodes(ctx context.Context) ([]string, error) {
	if err := v.lock(ctx); err != nil {
		return nil, err
	}
	defer v.t.mu.Unlock()
	return slices.Sorted(maps.Keys(v.t.nodes)), nil
}

func (v *memView) Handoff(ctx context.Context, lease LeaseID, account, node string) error {
	if err := v.lock(ctx); err != nil {
		return err
	}
	defer v.t.mu.Unlock()
	v.t.rev++
	v.t.handoffs[account] = memKV{value: node, lease: lease, create: v.t.rev}
	return nil
}

func (v *memView) EndHandoff(ctx context.Context, account string) error {
	if err := v.lock(ctx); err != nil {
		return err
	}
	defer v.t.mu.Unlock()
	delete(v.t.handoffs, account)
	return nil
}
