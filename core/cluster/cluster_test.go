package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"warden/core/cluster"
	"warden/core/cluster/etcdtest"
)

// ttl is the lease TTL of the tests: etcd's shortest with its default
// election timing is 2 s.
const ttl = 2 * time.Second

func client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func join(t testing.TB, cli *clientv3.Client, name string) *cluster.Node {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("WARDEN_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", name)
	}
	n, err := cluster.Join(context.Background(), cluster.Config{Client: cli, Name: name, TTL: ttl, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Close(ctx)
	})
	return n
}

// acquireWithin tries until the account is this node's, and returns when.
func acquireWithin(t *testing.T, n *cluster.Node, account string, d time.Duration) (int64, time.Time) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		token, err := n.Acquire(context.Background(), account, "")
		if err == nil {
			return token, time.Now()
		}
		if !errors.Is(err, cluster.ErrOwned) && !errors.Is(err, cluster.ErrOrphanWait) {
			t.Fatalf("%s: Acquire(%s): %v", n.Name(), account, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get %s within %v: %v", n.Name(), account, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAcquireIsExclusive(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := join(t, client(t, etcd.Endpoints...), "a")
	b := join(t, client(t, etcd.Endpoints...), "b")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, n := range []*cluster.Node{a, b, a, b, a, b} {
		wg.Go(func() {
			if _, err := n.Acquire(context.Background(), "acct-1", ""); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, cluster.ErrOwned) {
				t.Errorf("Acquire: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d acquisitions of one account succeeded, want 1", wins.Load())
	}
	owner, token, err := a.Owner(context.Background(), "acct-1")
	if err != nil || owner == "" || token == 0 {
		t.Fatalf("Owner = %q, %d, %v", owner, token, err)
	}
	winner := map[string]*cluster.Node{"a": a, "b": b}[owner]
	if ok, _ := winner.Current(context.Background(), "acct-1", token); !ok {
		t.Error("the winner's token is not current")
	}
	nodes, err := a.Nodes(context.Background())
	if err != nil || len(nodes) != 2 {
		t.Errorf("Nodes = %v, %v; want a and b", nodes, err)
	}
}

func TestCleanReleaseHandsOverAtOnce(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := join(t, client(t, etcd.Endpoints...), "a")
	b := join(t, client(t, etcd.Endpoints...), "b")
	ctx := context.Background()
	first, err := a.Acquire(ctx, "acct-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "acct-1", ""); !errors.Is(err, cluster.ErrOwned) {
		t.Fatalf("b acquired an owned account: %v", err)
	}
	if err := a.Release(ctx, "acct-1", first+1); !errors.Is(err, cluster.ErrNotOwner) {
		t.Errorf("Release with a wrong token = %v", err)
	}
	if err := a.Release(ctx, "acct-1", first); err != nil {
		t.Fatal(err)
	}
	second, err := b.Acquire(ctx, "acct-1", "")
	if err != nil {
		t.Fatalf("after a clean release: %v", err)
	}
	if second <= first {
		t.Errorf("tokens %d then %d: the fencing token must grow", first, second)
	}
	if ok, _ := a.Current(ctx, "acct-1", first); ok {
		t.Error("the old token is still current")
	}
	// Close releases cleanly too.
	ctx2, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Close(ctx2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx, "acct-1", ""); err != nil {
		t.Errorf("after the owner closed: %v", err)
	}
}

// A killed owner's accounts are taken over only after its lease expired and
// a full TTL more.
func TestCrashedOwnerIsWaitedOut(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := join(t, client(t, etcd.Endpoints...), "a")
	b := join(t, client(t, etcd.Endpoints...), "b")
	if _, err := a.Acquire(context.Background(), "acct-1", ""); err != nil {
		t.Fatal(err)
	}
	deadline := a.Deadline()
	a.Crash()
	crashed := time.Now()
	_, got := acquireWithin(t, b, "acct-1", 4*ttl)
	took := got.Sub(crashed)
	t.Logf("taken over %v after the crash", took.Round(time.Millisecond))
	if !got.After(deadline.Add(ttl)) {
		t.Errorf("taken over at %v, before the crashed node's fence %v plus a TTL", got, deadline)
	}
}

// A node cut off from etcd fences itself before its account can be taken.
func TestPartitionedNodeFencesBeforeTakeover(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	hole := etcdtest.NewBlackhole(t, etcd.Endpoints[0])
	a := join(t, client(t, hole.Endpoint()), "a")
	b := join(t, client(t, etcd.Endpoints...), "b")
	if _, err := a.Acquire(context.Background(), "acct-1", ""); err != nil {
		t.Fatal(err)
	}
	hole.Cut()
	cutAt := time.Now()
	fenced := make(chan time.Time, 1)
	go func() {
		<-a.Lost()
		fenced <- time.Now()
	}()
	_, takenAt := acquireWithin(t, b, "acct-1", 5*ttl)
	var fencedAt time.Time
	select {
	case fencedAt = <-fenced:
	case <-time.After(time.Second):
		t.Fatal("the cut-off node never fenced itself")
	}
	t.Cleanup(hole.Heal) // let its Close reach etcd
	t.Logf("cut at 0, fenced after %v, taken over after %v",
		fencedAt.Sub(cutAt).Round(time.Millisecond), takenAt.Sub(cutAt).Round(time.Millisecond))
	if !fencedAt.Before(takenAt) {
		t.Errorf("the account was taken over %v before the cut-off node fenced itself", fencedAt.Sub(takenAt))
	}
	if a.Valid() {
		t.Error("the fenced node still says it may dial")
	}
	if _, err := a.Acquire(context.Background(), "acct-2", ""); !errors.Is(err, cluster.ErrFenced) {
		t.Errorf("a fenced node acquired: %v", err)
	}
	if len(a.Owned()) != 0 {
		t.Errorf("a fenced node still owns %v", a.Owned())
	}

	// The network comes back: the node rejoins with a new lease and may
	// take accounts again, but not the one b took over.
	hole.Heal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*ttl)
	defer cancel()
	for {
		err := a.Rejoin(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the node never rejoined after the network came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !a.Valid() {
		t.Fatal("a rejoined node may not dial")
	}
	select {
	case <-a.Lost():
		t.Fatal("a rejoined node's Lost is still closed")
	default:
	}
	if _, err := a.Acquire(ctx, "acct-1", ""); !errors.Is(err, cluster.ErrOwned) {
		t.Errorf("the rejoined node took b's account: %v", err)
	}
	if _, err := a.Acquire(ctx, "acct-2", ""); err != nil {
		t.Errorf("the rejoined node cannot acquire: %v", err)
	}
	if nodes, err := b.Nodes(ctx); err != nil || len(nodes) != 2 {
		t.Errorf("the fleet's nodes after the rejoin: %v, %v", nodes, err)
	}
}

func TestFairShare(t *testing.T) {
	for _, c := range []struct{ accounts, nodes, want int }{
		{60, 3, 21}, {61, 3, 22}, {0, 3, 1}, {5, 0, 6}, {1, 1, 2},
	} {
		if got := cluster.FairShare(c.accounts, c.nodes); got != c.want {
			t.Errorf("FairShare(%d, %d) = %d, want %d", c.accounts, c.nodes, got, c.want)
		}
	}
}

// Losing etcd's leader (of three members) gives no account two owners; the
// nodes keep or regain their leases once a new leader is elected.
func TestLeaderLoss(t *testing.T) {
	etcd := etcdtest.Start(t, 3)
	a := join(t, client(t, etcd.Endpoints...), "a")
	b := join(t, client(t, etcd.Endpoints...), "b")
	ctx := context.Background()
	accounts := []string{"acct-1", "acct-2", "acct-3", "acct-4"}
	for i, acct := range accounts {
		n := []*cluster.Node{a, b}[i%2]
		if _, err := n.Acquire(ctx, acct, ""); err != nil {
			t.Fatal(err)
		}
	}
	leader := etcd.Leader(t)
	stopped := time.Now()
	etcd.Stop(leader)

	// Meanwhile both nodes keep trying to take every account: none may end
	// up with two owners.
	// (At least a lease's TTL and a half, so that an expiry would show.)
	deadline := time.Now().Add(4 * ttl)
	var recovered time.Duration
	for time.Now().Before(deadline) && (recovered == 0 || time.Since(stopped) < 3*ttl/2+recovered) {
		for _, acct := range accounts {
			for _, n := range []*cluster.Node{a, b} {
				_, _ = n.Acquire(ctx, acct, "")
			}
			ao, bo := a.Owned()[acct] != 0, b.Owned()[acct] != 0
			if ao && bo {
				t.Fatalf("%s has two owners after the leader stopped", acct)
			}
		}
		if recovered == 0 && a.Valid() && b.Valid() {
			if _, err := a.Nodes(ctx); err == nil {
				recovered = time.Since(stopped)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("etcd answered again %v after its leader stopped; a valid %v, b valid %v", recovered.Round(time.Millisecond), a.Valid(), b.Valid())
	if recovered == 0 {
		t.Error("etcd never answered again after losing its leader")
	}
	for _, acct := range accounts {
		owner, _, err := a.Owner(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			n := map[string]*cluster.Node{"a": a, "b": b}[owner]
			if n.Owned()[acct] == 0 {
				t.Errorf("etcd says %s owns %s, but it does not think so", owner, acct)
			}
		}
	}
}

// On etcd too, a device is owned like an account: a second account of the
// same device is refused on any node until the first is released, and a
// node that vanished holding it is waited out.
func TestDeviceIsOwnedOnEtcd(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	a := join(t, client(t, etcd.Endpoints[0]), "a")
	b := join(t, client(t, etcd.Endpoints[0]), "b")
	ctx := context.Background()
	dev := "15551234567:3@s.whatsapp.net"
	token, err := a.Acquire(ctx, "acct-x", dev)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*cluster.Node{a, b} {
		if _, err := n.Acquire(ctx, "acct-y", dev); !errors.Is(err, cluster.ErrDeviceOwned) {
			t.Errorf("%s acquiring another account of a held device: %v, want ErrDeviceOwned", n.Name(), err)
		}
	}
	if err := a.Release(ctx, "acct-x", token); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "acct-y", dev); err != nil {
		t.Fatalf("after a clean release: %v", err)
	}
	// b vanishes holding the device: a waits out a full TTL before another
	// account of it may run.
	b.Crash()
	start := time.Now()
	for {
		_, err := a.Acquire(ctx, "acct-x", dev)
		if err == nil {
			break
		}
		if !errors.Is(err, cluster.ErrDeviceOwned) && !errors.Is(err, cluster.ErrOrphanWait) {
			t.Fatalf("a: %v", err)
		}
		if time.Since(start) > 10*ttl {
			t.Fatalf("the device was never freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if waited := time.Since(start); waited < ttl {
		t.Errorf("another account of the device ran %v after its holder vanished, before a full TTL (%v)", waited, ttl)
	}
}
