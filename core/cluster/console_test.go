package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"warden/core"
	"warden/core/cluster"
	"warden/core/cluster/etcdtest"
	"warden/core/coretest"
)

// ownerOf returns the account's node as a Console shows it.
func ownerOf(c *cluster.Console, id core.AccountID) string {
	st, _ := c.Status(id)
	return st.Node
}

// One window for the fleet: node b's console lists node a's accounts with
// their node, and its commands (Disconnect, Connect, send, Log out, Move,
// Delete) reach node a and come back with their results.
func TestConsoleRoutesCommandsToTheOwner(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	ids := storeAccounts(t, d, s, 4)
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	waitFor(t, "a runs every account", 10*time.Second, func() bool { return a.connected() == len(ids) })
	b := startNode(t, etcd.Endpoints[0], "b", d, s)
	ca, cb := a.fleet.Console(), b.fleet.Console()
	ctx := context.Background()

	// b may take accounts from a for the balance (share 3 of 4): find one
	// that a still runs once things settle.
	waitFor(t, "the balance settles", 10*time.Second, func() bool {
		return a.connected()+b.connected() == len(ids) && a.connected() <= cluster.FairShare(len(ids), 2)
	})
	var id core.AccountID
	for _, x := range ids {
		if ownerOf(ca, x) == "a" {
			id = x
		}
	}
	if id == "" {
		t.Fatal("a runs no account")
	}
	waitFor(t, "b's console shows a's account with its node", 5*time.Second, func() bool {
		st, ok := cb.Status(id)
		return ok && st.Node == "a" && st.State == core.Connected
	})
	if n := len(cb.Statuses()); n != len(ids) {
		t.Errorf("b's console lists %d accounts, want %d", n, len(ids))
	}
	updates, cancel := cb.Subscribe()
	defer cancel()
	events, cancelEvents := cb.SubscribeEvents()
	defer cancelEvents()

	// Disconnect from b: a closes the session, and b sees it.
	if err := cb.Disconnect(ctx, id); err != nil {
		t.Fatalf("Disconnect from b: %v", err)
	}
	if st, _ := a.m.Status(id); st.State != core.Idle || st.Account.AutoStart {
		t.Errorf("on a after b's Disconnect: %v, AutoStart %v", st.State, st.Account.AutoStart)
	}
	waitUpdate(t, updates, id, func(st core.Status) bool { return st.Node == "a" && st.State == core.Idle })
	// b's timeline follows a's events live, from the shared store.
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-events:
			got = ev.Account == id && ev.From == core.Connected && ev.To == core.Idle
		case <-deadline:
			t.Fatal("b's window never got a's Disconnect event")
		}
	}

	// An error on a comes back as itself.
	if err := cb.Logout(ctx, id); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("Log out of a disconnected account from b: %v, want ErrNotConnected", err)
	}
	if _, err := cb.SendText(ctx, id, "+1 555 123 4567", "hi"); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("a send from a disconnected account: %v, want ErrNotConnected", err)
	}

	// Connect from b: it runs on a again, not on b.
	if err := cb.Connect(ctx, id); err != nil {
		t.Fatalf("Connect from b: %v", err)
	}
	waitFor(t, "Connected on a", 5*time.Second, func() bool { st, _ := a.m.Status(id); return st.State == core.Connected })
	if st, _ := b.m.Status(id); st.State != core.Idle {
		t.Errorf("on b: %v", st.State)
	}
	res, err := cb.SendText(ctx, id, "+1 555 123 4567", "hello from b's window")
	if err != nil || res.MessageID == "" {
		t.Fatalf("a send from b's window: %+v, %v", res, err)
	}
	sent := d.Sent()
	if len(sent) == 0 || sent[len(sent)-1].Text != "hello from b's window" || sent[len(sent)-1].Account != id {
		t.Errorf("what the dialer sent: %+v", sent)
	}

	// Move to b: a closes, releases, b takes it; never two sessions.
	if err := cb.Move(ctx, id, "b"); err != nil {
		t.Fatalf("Move to b: %v", err)
	}
	waitFor(t, "Connected on b", 5*time.Second, func() bool { st, _ := b.m.Status(id); return st.State == core.Connected })
	if owner := ownerOf(cb, id); owner != "b" {
		t.Errorf("after the move, b's console says %q runs it", owner)
	}
	if err := cb.Move(ctx, id, "nowhere"); !errors.Is(err, cluster.ErrUnknownNode) {
		t.Errorf("a move to a node that does not exist: %v", err)
	}
	if err := b.m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, _ := b.m.Events(ctx, id, 1000)
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Errorf("the timeline across the move skips or repeats: #%d after #%d", evs[i].Seq, evs[i-1].Seq)
		}
	}

	nodes, err := ca.Nodes(ctx)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("Nodes: %v, %v", nodes, err)
	}
	total := 0
	for _, n := range nodes {
		total += n.Accounts
		if n.LeaseTTL <= 0 || n.Since.IsZero() || n.Self != (n.Name == "a") {
			t.Errorf("node %+v", n)
		}
	}
	if total != len(ids) {
		t.Errorf("the node list counts %d accounts, want %d", total, len(ids))
	}

	// Delete from a's window, of an account b runs now: gone everywhere.
	if err := ca.Delete(ctx, id); err != nil {
		t.Fatalf("Delete from a: %v", err)
	}
	if _, ok := b.m.Status(id); ok {
		t.Error("b still has the deleted account")
	}
	waitFor(t, "a's console drops it", 5*time.Second, func() bool { _, ok := ca.Status(id); return !ok })
	if _, ok := s.Account(id); ok {
		t.Error("the deleted account is still in the store")
	}
	for _, x := range ids {
		if n := d.MaxOpen(x); n > 1 {
			t.Errorf("%s had %d sessions at once", x, n)
		}
	}
}

// An account added in b's window is taken by b, which pairs it; a's console
// shows it, and once paired a would run it after b stops.
func TestConsoleAddPairsHere(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	b := startNode(t, etcd.Endpoints[0], "b", d, s)
	ctx := context.Background()
	acct, err := b.fleet.Console().Add(ctx, "New phone")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b shows the QR code", 5*time.Second, func() bool { st, _ := b.m.Status(acct.ID); return st.QRCode != "" })
	if ownerOf(b.fleet.Console(), acct.ID) != "b" {
		t.Errorf("the new account is not b's")
	}
	waitFor(t, "a's console lists it, run by b", 5*time.Second, func() bool {
		st, ok := a.fleet.Console().Status(acct.ID)
		return ok && st.Node == "b" && st.State == core.Pairing
	})
	if st, _ := a.m.Status(acct.ID); d.Open(acct.ID) != 1 || st.State != core.Idle {
		t.Errorf("a pairs it too: %v, %d sessions", st.State, d.Open(acct.ID))
	}
	d.Last(acct.ID).Pair()
	waitFor(t, "Connected on b", 5*time.Second, func() bool { st, _ := b.m.Status(acct.ID); return st.State == core.Connected })

	b.stop()
	waitFor(t, "a takes it over", 10*time.Second, func() bool { st, _ := a.m.Status(acct.ID); return st.State == core.Connected })
	if d.MaxOpen(acct.ID) != 1 {
		t.Errorf("%d sessions at once", d.MaxOpen(acct.ID))
	}
}

func waitUpdate(t *testing.T, updates <-chan core.Status, id core.AccountID, cond func(core.Status) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-updates:
			if st.Account.ID == id && cond(st) {
				return
			}
		case <-deadline:
			t.Fatal("the console's updates never showed it")
		}
	}
}

// BenchmarkRoutedCommand is one command from node b's window to an account
// node a runs, and its answer: a put, a watch, the owner's run and its
// reply, through a real etcd.
func BenchmarkRoutedCommand(b *testing.B) {
	etcd := etcdtest.Start(b, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	ids := storeAccounts(b, d, s, 1)
	na := startNode(b, etcd.Endpoints[0], "a", d, s)
	for na.connected() != 1 {
		time.Sleep(10 * time.Millisecond)
	}
	nb := startNode(b, etcd.Endpoints[0], "b", d, s)
	cb := nb.fleet.Console()
	ctx := context.Background()
	for {
		if st, ok := cb.Status(ids[0]); ok && st.Node == "a" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ResetTimer()
	for i := range b.N {
		if err := cb.Rename(ctx, ids[0], fmt.Sprintf("name %d", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// Accounts being paired stay on the node where the operator pairs them:
// they neither count toward its share nor get handed over.
func TestPairingAccountsStayWhereTheyPair(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	startNode(t, etcd.Endpoints[0], "b", d, s)
	ctx := context.Background()
	var ids []core.AccountID
	for i := range 3 {
		acct, err := a.fleet.Console().Add(ctx, fmt.Sprintf("Phone %d", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, acct.ID)
	}
	time.Sleep(4 * ttl / 3) // four rounds: the share is 1 (no paired account)
	for _, id := range ids {
		if st, _ := a.m.Status(id); st.State != core.Pairing || st.QRCode == "" {
			t.Errorf("%s: %v (%s), want still pairing on a", id, st.State, st.Reason)
		}
		if owner := ownerOf(a.fleet.Console(), id); owner != "a" {
			t.Errorf("%s is run by %q", id, owner)
		}
	}
}

// A node whose console starts after another node published its accounts'
// statuses follows those accounts' timelines live from their next event:
// every event stored after the console started reaches its window once, in
// order, also across a move to this node.
func TestConsoleFollowsAccountsPublishedBeforeItStarted(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	d, s := coretest.NewDialer(), coretest.NewStore()
	id := storeAccounts(t, d, s, 1)[0]
	a := startNode(t, etcd.Endpoints[0], "a", d, s)
	ctx := context.Background()
	waitFor(t, "a publishes its account Connected", 10*time.Second, func() bool {
		ps, err := a.fleet.Statuses(ctx)
		return err == nil && len(ps) == 1 && ps[0].Node == "a" && ps[0].Status.State == core.Connected
	})
	b := startNode(t, etcd.Endpoints[0], "b", d, s)
	cb := b.fleet.Console()
	waitFor(t, "b's console shows a's account", 5*time.Second, func() bool {
		st, ok := cb.Status(id)
		return ok && st.Node == "a" && st.State == core.Connected
	})
	events, cancel := cb.SubscribeEvents()
	defer cancel()

	if err := a.m.Disconnect(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := a.m.Connect(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected on a again", 5*time.Second, func() bool { st, _ := a.m.Status(id); return st.State == core.Connected })

	var got []core.Event
	deadline := time.After(5 * time.Second)
	for len(got) == 0 || got[len(got)-1].To != core.Connected {
		select {
		case ev := <-events:
			if ev.Account == id {
				got = append(got, ev)
			}
		case <-deadline:
			t.Fatalf("b's window got %v of a's events, not up to the reconnection", seqs(got))
		}
	}
	if got[0].From != core.Connected || got[0].To != core.Idle {
		t.Errorf("b's window's first live event: %v → %v, want a's Disconnect", got[0].From, got[0].To)
	}

	// Moved to b: a's last events (its handover), then b's own, still each
	// once and in order.
	if err := cb.Move(ctx, id, "b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Connected on b", 5*time.Second, func() bool { st, _ := b.m.Status(id); return st.State == core.Connected })
	for n := len(got); len(got) == n || got[len(got)-1].To != core.Connected; {
		select {
		case ev := <-events:
			if ev.Account == id {
				got = append(got, ev)
			}
		case <-deadline:
			t.Fatalf("b's window got %v, not up to the reconnection on b", seqs(got))
		}
	}
	if err := b.m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stored, _ := s.Events(ctx, id, 1000)
	var want []uint64
	for _, ev := range stored {
		if ev.Seq >= got[0].Seq {
			want = append(want, ev.Seq)
		}
	}
	if !slices.Equal(seqs(got), want) {
		t.Errorf("b's window got events %v, want %v: each stored one once, in order", seqs(got), want)
	}
}

func seqs(evs []core.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}
