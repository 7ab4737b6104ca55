package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/store"
	"warden/core/whatsapp"
)

// engine is Warden's engine on a data directory, dialling the fake server.
type engine struct {
	t   testing.TB
	db  *store.DB
	d   *whatsapp.Dialer
	m   *core.Manager
	dir string
}

// fakeServer starts a fake WhatsApp server for the test, closed with it.
func fakeServer(t testing.TB, seed int64) *fakewa.Server {
	t.Helper()
	srv, err := fakewa.New(fakewa.Config{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func newEngine(t testing.TB, srv *fakewa.Server, dir string) *engine {
	t.Helper()
	return newEngineWith(t, srv, dir, nil)
}

// newEngineWith is newEngine with the Manager's store wrapped by wrap (nil:
// the store itself), for a store that fails on purpose.
func newEngineWith(t testing.TB, srv *fakewa.Server, dir string, wrap func(core.Store) core.Store) *engine {
	t.Helper()
	dbPath, devicesPath := store.Paths(dir)
	if err := store.EnsureDataDir(dir); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: devicesPath, HTTPClient: srv.HTTPClient(), NoVersionFetch: true})
	if err != nil {
		t.Fatal(err)
	}
	p := core.DefaultPolicy()
	p.StartSpread = 10 * time.Millisecond
	var st core.Store = db
	if wrap != nil {
		st = wrap(db)
	}
	m, err := core.NewManager(core.Config{Dialer: d, Store: st, Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &engine{t: t, db: db, d: d, m: m, dir: dir}
	t.Cleanup(e.close)
	return e
}

func (e *engine) close() {
	if e.m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = e.m.Close(ctx)
	_ = e.d.Close()
	_ = e.db.Close()
	e.m = nil
}

func (e *engine) wait(id core.AccountID, what string, cond func(core.Status) bool) core.Status {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, ok := e.m.Status(id)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: %s not reached; it is %v (%s)", id, what, st.State, st.Reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *engine) pair(srv *fakewa.Server, name string, opts ...core.AccountOption) core.Account {
	e.t.Helper()
	a, err := e.m.Add(context.Background(), name, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	st := e.wait(a.ID, "a QR code", func(st core.Status) bool { return st.QRCode != "" })
	if _, err := srv.ScanQR(st.QRCode); err != nil {
		e.t.Fatal(err)
	}
	return e.wait(a.ID, "Connected", func(st core.Status) bool { return st.State == core.Connected }).Account
}

func byName(m *core.Manager) map[string]core.Status {
	out := map[string]core.Status{}
	for _, st := range m.Statuses() {
		out[st.Account.Name] = st
	}
	return out
}

// Export, wipe, import: every paired account logs in without pairing.
func TestExportWipeImport(t *testing.T) {
	srv := fakeServer(t, 70)
	old := newEngine(t, srv, filepath.Join(t.TempDir(), "old"))
	alice := old.pair(srv, "Alice")
	bob := old.pair(srv, "Bob", core.WithProxy(core.ProxyDirect))
	if _, err := old.m.Add(context.Background(), "Never paired"); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "fleet.warden")
	n, err := exportAccounts(context.Background(), old.m, old.d, file, old.m)
	if err != nil || n != 3 {
		t.Fatalf("export = %d, %v; want 3 accounts", n, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the export file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	for _, a := range []core.Account{alice, bob} {
		old.wait(a.ID, "disconnected after the export", func(st core.Status) bool { return st.State == core.Idle })
		if srv.LoggedIn(a.JID) != 0 {
			t.Errorf("%s is still logged in here after the export", a.Name)
		}
	}
	old.close()
	logins := srv.Logins(alice.JID)

	// A new desktop: a fresh data directory.
	fresh := newEngine(t, srv, filepath.Join(t.TempDir(), "new"))
	n, err = importAccounts(context.Background(), fresh.m, fresh.d, file)
	if err != nil || n != 3 {
		t.Fatalf("import = %d, %v; want 3", n, err)
	}
	got := byName(fresh.m)
	if len(got) != 3 {
		t.Fatalf("after the import: %d accounts", len(got))
	}
	if got["Bob"].Account.Proxy != core.ProxyDirect || got["Alice"].Account.JID != alice.JID {
		t.Errorf("imported accounts lost their details: %+v", got)
	}
	// They were running when exported: they start here, with no QR code.
	for _, name := range []string{"Alice", "Bob"} {
		id := got[name].Account.ID
		st := fresh.wait(id, "Connected", func(st core.Status) bool { return st.State == core.Connected || st.State == core.Pairing })
		if st.State != core.Connected {
			t.Fatalf("%s pairs again after the import", name)
		}
	}
	if srv.Logins(alice.JID) != logins+1 || srv.MaxConcurrentLogins(alice.JID) != 1 {
		t.Errorf("Alice: %d logins, %d at once; want one more login, never two at once", srv.Logins(alice.JID), srv.MaxConcurrentLogins(alice.JID))
	}
	if got["Never paired"].Account.JID != "" {
		t.Errorf("the unpaired account came with a JID")
	}

	// A second import of the same file is refused as a whole.
	if _, err := importAccounts(context.Background(), fresh.m, fresh.d, file); !errors.Is(err, core.ErrDuplicateAccount) {
		t.Errorf("importing again = %v, want ErrDuplicateAccount", err)
	}
	if len(fresh.m.Statuses()) != 3 {
		t.Errorf("a refused import added accounts: %d", len(fresh.m.Statuses()))
	}
}

// Export with "disconnect them here" when some accounts run nothing: one the
// operator disconnected, one left pairing when Warden last closed (Idle, but
// meant to run). The export succeeds, and none of them starts again.
func TestExportDisconnectsAccountsAlreadyIdle(t *testing.T) {
	srv := fakeServer(t, 72)
	dir := filepath.Join(t.TempDir(), "data")
	e := newEngine(t, srv, dir)
	ctx := context.Background()
	alice := e.pair(srv, "Alice")
	bob := e.pair(srv, "Bob")
	if err := e.m.Disconnect(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	carol, err := e.m.Add(ctx, "Carol")
	if err != nil {
		t.Fatal(err)
	}
	e.wait(carol.ID, "a QR code", func(st core.Status) bool { return st.QRCode != "" })
	e.close()
	e = newEngine(t, srv, dir)
	e.wait(alice.ID, "Connected", func(st core.Status) bool { return st.State == core.Connected })
	if st, _ := e.m.Status(carol.ID); st.State != core.Idle || !st.Account.AutoStart {
		t.Fatalf("Carol: %v, AutoStart %v; want Idle, meant to run", st.State, st.Account.AutoStart)
	}

	n, err := exportAccounts(ctx, e.m, e.d, filepath.Join(t.TempDir(), "fleet.json"), e.m)
	if err != nil || n != 3 {
		t.Fatalf("export = %d, %v; want 3 accounts, all disconnected", n, err)
	}
	stored, err := e.db.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range stored {
		if st, _ := e.m.Status(a.ID); st.State != core.Idle || st.Account.AutoStart || a.AutoStart {
			t.Errorf("%s after the export: %v, AutoStart %v (stored %v); want Idle, not to start again", a.Name, st.State, st.Account.AutoStart, a.AutoStart)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return srv.LoggedIn(alice.JID) == 0 }) // Alice's socket closes
}

func TestImportRefusesBadFiles(t *testing.T) {
	srv := fakeServer(t, 71)
	e := newEngine(t, srv, filepath.Join(t.TempDir(), "data"))
	e.pair(srv, "Alice")
	good := filepath.Join(t.TempDir(), "good.warden")
	if _, err := exportAccounts(context.Background(), e.m, e.d, good, nil); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var newer map[string]any
	_ = json.Unmarshal(data, &newer)
	newer["version"] = exportVersion + 1
	newerData, _ := json.Marshal(newer)

	cases := map[string]struct {
		path string
		want string
	}{
		"cut short":    {write("half.warden", data[:len(data)/2]), "damaged or cut short"},
		"not ours":     {write("photo.jpg", []byte("\xff\xd8\xff\xe0 JFIF")), "not a file of accounts exported by Warden"},
		"newer":        {write("newer.warden", newerData), "newer Warden"},
		"missing":      {filepath.Join(dir, "nowhere.warden"), "no such file"},
		"already here": {good, "already in Warden"},
	}
	for name, c := range cases {
		before := len(e.m.Statuses())
		_, err := importAccounts(context.Background(), e.m, e.d, c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: import = %v, want an error saying %q", name, err, c.want)
		}
		if len(e.m.Statuses()) != before {
			t.Errorf("%s: the refused import changed the accounts", name)
		}
	}
}

func TestWriteSecretFileLeavesNoHalfFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fleet.warden")
	if err := writeSecretFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	// A directory in the way of the rename: the write fails, the old file
	// stays whole and no temporary file is left.
	if err := writeSecretFile(dir, []byte("second")); err == nil {
		t.Error("writing over a directory succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Errorf("the file reads %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
