package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"warden/core"
	"warden/core/cluster"
	"warden/core/cluster/etcdtest"
	"warden/core/coretest"
)

// fleetNode is one Warden node of a test fleet: its etcd node, its Fleet and
// its Manager. All nodes share one store and one dialer, so the dialer sees
// every session of every node and can tell two clients of one account apart.
type fleetNode struct {
	node  *cluster.Node
	fleet *cluster.Fleet
	m     *core.Manager
}

func startNode(t testing.TB, etcdEndpoint string, name string, d *coretest.Dialer, s *coretest.Store) *fleetNode {
	t.Helper()
	n := join(t, client(t, etcdEndpoint), name)
	f := cluster.NewFleet(n)
	p := core.DefaultPolicy()
	p.StartSpread, p.StartWindow = time.Millisecond, 100*time.Millisecond
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p, Gate: f})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.Start(m)
	fn := &fleetNode{node: n, fleet: f, m: m}
	t.Cleanup(fn.stop)
	return fn
}

func (fn *fleetNode) stop() {
	fn.fleet.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = fn.m.Close(ctx)
	_ = fn.node.Close(ctx)
}

// connected counts the node's Connected accounts.
func (fn *fleetNode) connected() int {
	n := 0
	for _, st := range fn.m.Statuses() {
		if st.State == core.Connected {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func storeAccounts(t testing.TB, d *coretest.Dialer, s *coretest.Store, n int) []core.AccountID {
	t.Helper()
	var ids []core.AccountID
	for i := range n {
		id := core.AccountID(fmt.Sprintf("acct-%02d", i))
		jid := fmt.Sprintf("155500%05d.0:1@s.whatsapp.net", i)
		d.AddDevice(jid)
		if err := s.PutAccount(context.Background(), core.Account{ID: id, Name: string(id), JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// Two nodes share the accounts, each within its fair share plus one; when
// one is cut off from etcd it closes its sessions, and the other takes its
// accounts over, never with two clients on one account.
func TestFleetSharesAndTakesOver(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	ids := storeAccounts(t, d, s, 10)
	hole := etcdtest.NewBlackhole(t, etcd.Endpoints[0])
	a := startNode(t, hole.Endpoint(), "a", d, s)
	b := startNode(t, etcd.Endpoints[0], "b", d, s)

	// The node that joined first may take every account before the other
	// joins; it then hands them over, one a round, down to its share.
	share := cluster.FairShare(len(ids), 2)
	waitFor(t, "every account Connected on one node, each node within its share", 10*time.Second, func() bool {
		return a.connected()+b.connected() == len(ids) && a.connected() <= share && b.connected() <= share
	})
	t.Logf("a runs %d accounts, b %d", a.connected(), b.connected())
	for _, st := range a.m.Statuses() {
		if st.State == core.Connected {
			if other, _ := b.m.Status(st.Account.ID); other.State != core.Idle {
				t.Errorf("%s is Connected on a and %v on b", st.Account.ID, other.State)
			}
		}
	}

	// Cut a off: it fences itself, closes its sessions, and b takes every
	// account over.
	hole.Cut()
	t.Cleanup(hole.Heal)
	took := waitFor(t, "b runs every account", 6*ttl, func() bool { return b.connected() == len(ids) })
	t.Logf("b ran every account %v after a was cut off", took.Round(time.Millisecond))
	if a.connected() != 0 {
		t.Errorf("the cut-off node still runs %d accounts", a.connected())
	}

	// The network comes back: a rejoins with a new lease, and b hands it
	// accounts, one per round, down to b's fair share plus one.
	hole.Heal()
	back := waitFor(t, "a runs accounts again, b within its share", 10*ttl, func() bool {
		return a.node.Valid() && a.connected() > 0 && b.connected() <= share && a.connected()+b.connected() == len(ids)
	})
	t.Logf("after the network came back, a ran %d accounts and b %d within %v", a.connected(), b.connected(), back.Round(time.Millisecond))
	for _, id := range ids {
		if n := d.MaxOpen(id); n != 1 {
			t.Errorf("%s had %d sessions open at once", id, n)
		}
	}
}

// A clean stop hands the node's accounts over at once, without waiting for
// its lease.
func TestFleetCleanStopHandsOver(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	ids := storeAccounts(t, d, s, 6)
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	b := startNode(t, etcd.Endpoints[0], "b", d, s)
	waitFor(t, "every account Connected", 10*time.Second, func() bool { return a.connected()+b.connected() == len(ids) })

	// At idle the fleet writes nothing to etcd: its revision stays (lease
	// keepalives do not move it).
	cli := client(t, etcd.Endpoints...)
	rev := func() int64 {
		resp, err := cli.Get(context.Background(), "/warden/nodes/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Header.Revision
	}
	time.Sleep(ttl) // the last acquisitions' rounds settle
	before := rev()
	time.Sleep(2 * ttl)
	if after := rev(); after != before {
		t.Errorf("etcd's revision went from %d to %d in %v of idle: the fleet writes at idle", before, after, 2*ttl)
	}
	if a.connected() == 0 {
		t.Fatal("a runs nothing: the fair share should have given it accounts")
	}
	a.stop()
	took := waitFor(t, "b runs every account", 3*ttl, func() bool { return b.connected() == len(ids) })
	t.Logf("handed over %v after a clean stop (a lease is %v)", took.Round(time.Millisecond), ttl)
	for _, id := range ids {
		if n := d.MaxOpen(id); n != 1 {
			t.Errorf("%s had %d sessions open at once", id, n)
		}
	}
}

// Every node reads every account's status, published by its owner.
func TestFleetPublishesStatuses(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	ids := storeAccounts(t, d, s, 6)
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	b := startNode(t, etcd.Endpoints[0], "b", d, s)
	waitFor(t, "every account Connected", 10*time.Second, func() bool { return a.connected()+b.connected() == len(ids) })
	var got []cluster.Published
	waitFor(t, "every status published as Connected", 5*time.Second, func() bool {
		var err error
		got, err = b.fleet.Statuses(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range got {
			if p.Status.State == core.Connected {
				n++
			}
		}
		return n == len(ids)
	})
	for _, p := range got {
		owner, token, err := a.node.Owner(context.Background(), string(p.Status.Account.ID))
		if err != nil {
			t.Fatal(err)
		}
		if p.Node != owner || p.Token != token {
			t.Errorf("%s published by %s (token %d); etcd says %s owns it (token %d)", p.Status.Account.ID, p.Node, p.Token, owner, token)
		}
	}
}
