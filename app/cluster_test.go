package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"warden/core"
	"warden/core/cluster"
	"warden/core/cluster/etcdtest"
	"warden/core/fakewa"
	"warden/core/pgserver"
	"warden/core/store"
)

// fleetNode starts a fleet node as `warden --headless --cluster … --devices-db
// …` would, against the fake server.
func fleetNode(t *testing.T, f flags) *services {
	t.Helper()
	svc, err := start(f, new(slog.LevelVar), slog.NewTextHandler(io.Discard, nil))
	if err != nil {
		t.Fatalf("start node %s: %v", f.node, err)
	}
	if err := svc.begin(flags{}); err != nil {
		t.Fatal(err)
	}
	return svc
}

func waitStatus(t *testing.T, svc *services, id core.AccountID, what string, cond func(core.Status) bool) core.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, ok := svc.manager.Status(id)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not reached: %v (%s)", id, what, st.State, st.Reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fleetOfTwo starts the engines of an in-process fleet (the fake WhatsApp
// server, etcd and PostgreSQL) and returns the flags its nodes share.
func fleetOfTwo(t *testing.T, seed int64) (*fakewa.Server, flags) {
	t.Helper()
	srv := fakeServer(t, seed)
	etcd := etcdtest.Start(t, 1)
	dsn := pgserver.Start(t)
	return srv, flags{cluster: etcd.Endpoints[0], devicesDB: dsn, leaseTTL: 2 * time.Second, httpClient: srv.HTTPClient()}
}

// pairShared adds the account "Shared" in node a's window and pairs it there
// by QR code; it returns once a runs it Connected.
func pairShared(t *testing.T, srv *fakewa.Server, a *services) (core.Account, string) {
	t.Helper()
	acct, err := a.controller().Add(context.Background(), "Shared")
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, a, acct.ID, "a QR code", func(st core.Status) bool { return st.QRCode != "" })
	jid, err := srv.ScanQR(st.QRCode)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, a, acct.ID, "Connected on a", func(st core.Status) bool { return st.State == core.Connected })
	return acct, jid
}

// An account added and paired on one fleet node is run, after that node
// stops, by another node of the fleet, which logs it in with the shared keys:
// no pairing, never two clients.
func TestFleetNodesShareAccountsAndKeys(t *testing.T) {
	srv, base := fleetOfTwo(t, 80)

	fa := base
	fa.node, fa.dataDir = "a", filepath.Join(t.TempDir(), "a")
	a := fleetNode(t, fa)
	acct, jid := pairShared(t, srv, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.close(ctx); err != nil {
		t.Fatalf("closing node a: %v", err)
	}

	fb := base
	fb.node, fb.dataDir = "b", filepath.Join(t.TempDir(), "b")
	b := fleetNode(t, fb)
	t.Cleanup(func() { _ = b.close(context.Background()) })
	st := waitStatus(t, b, acct.ID, "Connected on b", func(st core.Status) bool { return st.State == core.Connected || st.QRCode != "" })
	if st.State != core.Connected {
		t.Fatal("node b pairs the account again instead of using the shared keys")
	}
	if srv.Logins(jid) != 2 || srv.MaxConcurrentLogins(jid) != 1 {
		t.Errorf("Logins %d, at once %d; want 2 (a, then b) and 1", srv.Logins(jid), srv.MaxConcurrentLogins(jid))
	}
	evs, err := b.manager.Events(context.Background(), acct.ID, 1000)
	if err != nil || len(evs) == 0 {
		t.Fatalf("the shared timeline: %v, %v", evs, err)
	}
	var fromA, tokens bool
	for _, ev := range evs {
		if ev.Cause == core.CauseShutdown {
			fromA = true // node a's "Warden was closed"
		}
		if ev.Token != 0 {
			tokens = true
		}
	}
	if !fromA || !tokens {
		t.Errorf("node b's timeline lacks node a's events (%v) or fencing tokens (%v)", fromA, tokens)
	}

	// Node b's Logs tab shows the account's lines of both nodes.
	b.db.FlushLogs()
	src := &logSource{db: b.db, book: b.book, shared: b.fleet.store}
	lines, err := src.History(context.Background(), acct.ID, false, 1000, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, l := range lines {
		nodes[l.Attrs["node"]] = true
	}
	if !nodes["a"] || !nodes["b"] {
		t.Errorf("node b's logs of the account come from nodes %v, want a and b", nodes)
	}
}

// File › Export with "disconnect them here" on node b, of an account node a
// runs: node a disconnects it (the command goes to its node, as the window's
// Disconnect does), and no node starts it again.
func TestFleetExportDisconnectsOnTheOwner(t *testing.T) {
	srv, base := fleetOfTwo(t, 81)
	ctx := context.Background()

	fa := base
	fa.node, fa.dataDir = "a", filepath.Join(t.TempDir(), "a")
	a := fleetNode(t, fa)
	t.Cleanup(func() { _ = a.close(context.Background()) })
	acct, jid := pairShared(t, srv, a)

	fb := base
	fb.node, fb.dataDir = "b", filepath.Join(t.TempDir(), "b")
	b := fleetNode(t, fb)
	t.Cleanup(func() { _ = b.close(context.Background()) })
	waitFor(t, 10*time.Second, func() bool { // b's window shows it, run by a
		st, ok := b.controller().(*cluster.Console).Status(acct.ID)
		return ok && st.Node == "a" && st.State == core.Connected
	})

	n, err := windowBackup{b}.Export(filepath.Join(t.TempDir(), "fleet.json"), true)
	if err != nil || n != 1 {
		t.Fatalf("export on b = %d, %v; want 1 account, disconnected", n, err)
	}
	if st, _ := a.manager.Status(acct.ID); st.State != core.Idle || st.Account.AutoStart {
		t.Errorf("on a after b's export: %v, AutoStart %v; want Idle, not to start again", st.State, st.Account.AutoStart)
	}
	stored, err := b.fleet.store.Accounts(ctx)
	if err != nil || len(stored) != 1 || stored[0].AutoStart {
		t.Errorf("the fleet's record after the export: %+v, %v; want AutoStart off", stored, err)
	}
	waitFor(t, 5*time.Second, func() bool { return srv.LoggedIn(jid) == 0 }) // a's socket closes
	if st, _ := b.manager.Status(acct.ID); st.State != core.Idle {
		t.Errorf("on b after its export: %v", st.State)
	}
}

func TestClusterFlags(t *testing.T) {
	if _, err := parseFlags([]string{"--cluster", "http://127.0.0.1:2379"}, io.Discard); err == nil {
		t.Error("--cluster without --devices-db accepted")
	}
	f, err := parseFlags([]string{"--cluster", "http://e1:2379,http://e2:2379", "--devices-db", "postgres://w@db/warden", "--node", "n1", "--lease-ttl", "7s"}, io.Discard)
	if err != nil || f.node != "n1" || f.leaseTTL != 7*time.Second {
		t.Errorf("parseFlags = %+v, %v", f, err)
	}
	for _, args := range [][]string{
		{"--cluster", "e1:2379", "--devices-db", "postgres://w@db/warden"},
		{"--cluster", "http://e1:2379", "--devices-db", "mysql://w@db/warden"},
		{"--cluster", "http://e1:2379", "--devices-db", "postgres://w@db/warden", "--node", "my node"},
		{"--cluster", "http://e1:2379", "--devices-db", "postgres://w@db/warden", "--lease-ttl", "500ms"},
		{"--cluster", "http://e1:2379", "--devices-db", "postgres://w@db/warden", "--standalone"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

// A fleet saved in Settings is joined at the next start; --standalone runs
// alone for one start, leaving the setting as it is.
func TestFleetFromSettings(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dsn := pgserver.Start(t)
	dir := t.TempDir()
	ctx := context.Background()
	alone := func(f flags) *services {
		t.Helper()
		svc, err := start(f, new(slog.LevelVar), slog.NewTextHandler(io.Discard, nil))
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	svc := alone(flags{dataDir: dir})
	if svc.fleet != nil {
		t.Fatal("a new desktop joined a fleet")
	}
	s := svc.settings
	s.Fleet = store.Fleet{Endpoints: etcd.Endpoints[0], DatabaseURL: dsn, Node: "desk-1", LeaseTTL: 3 * time.Second}
	if err := svc.db.SaveSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := svc.close(ctx); err != nil {
		t.Fatal(err)
	}

	svc = alone(flags{dataDir: dir})
	if svc.fleet == nil || svc.fleet.node.Name() != "desk-1" {
		t.Fatalf("the saved fleet was not joined: %+v", svc.fleet)
	}
	if _, ok := svc.controller().(*cluster.Console); !ok {
		t.Error("the window of a fleet node does not drive the fleet's console")
	}
	if err := svc.close(ctx); err != nil {
		t.Fatal(err)
	}

	svc = alone(flags{dataDir: dir, standalone: true})
	defer svc.close(ctx)
	if svc.fleet != nil {
		t.Error("--standalone joined the saved fleet")
	}
	if svc.settings.Fleet.Endpoints == "" {
		t.Error("--standalone forgot the saved fleet")
	}
}
