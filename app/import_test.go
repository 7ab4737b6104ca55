package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.mau.fi/whatsmeow/types"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/store"
)

// An import is all or nothing: a file the stores would refuse any part of
// is refused before anything is written, in words that say what is wrong,
// and leaves every table as it was; the good file then imports.

// exported is a fleet of two paired accounts, Alice and Bob, exported from
// one Warden (which then closed), as the file's bytes.
type exported struct {
	srv        *fakewa.Server
	data       []byte
	alice, bob core.Account
}

func exportTwo(t testing.TB, seed int64) *exported {
	t.Helper()
	srv := fakeServer(t, seed)
	src := newEngine(t, srv, filepath.Join(t.TempDir(), "source"))
	alice := src.pair(srv, "Alice")
	bob := src.pair(srv, "Bob")
	path := filepath.Join(t.TempDir(), "fleet.warden")
	if _, err := exportAccounts(context.Background(), src.m, src.d, path, src.m); err != nil {
		t.Fatal(err)
	}
	src.close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &exported{srv: srv, data: data, alice: alice, bob: bob}
}

// edit returns the file with Alice first, then Bob (the export is in the
// order of their IDs), and fn applied to its JSON.
func (x *exported) edit(t testing.TB, fn func(f map[string]any)) []byte {
	t.Helper()
	var f map[string]any
	dec := json.NewDecoder(bytes.NewReader(x.data))
	dec.UseNumber() // 64-bit integers stay whole
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	if a, _ := fileAccount(f, 0); a["name"] == "Bob" {
		accts := f["accounts"].([]any)
		accts[0], accts[1] = accts[1], accts[0]
	}
	fn(f)
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fileAccount returns the i-th account of a decoded file, and its device
// keys (nil when it has none).
func fileAccount(f map[string]any, i int) (acct, device map[string]any) {
	ea := f["accounts"].([]any)[i].(map[string]any)
	device, _ = ea["device"].(map[string]any)
	return ea["account"].(map[string]any), device
}

// respell writes the i-th account's device JID as jid: in the account, in its
// keys and in every row of its keys.
func respell(f map[string]any, i int, jid string) {
	acct, device := fileAccount(f, i)
	old := acct["jid"].(string)
	acct["jid"] = jid
	device["jid"] = jid
	for _, rows := range device["tables"].(map[string]any) {
		for _, row := range rows.([]any) {
			for _, v := range row.(map[string]any) {
				if s, ok := v.(map[string]any)["s"]; ok && s == old {
					v.(map[string]any)["s"] = jid
				}
			}
		}
	}
}

// counts is what an import may change: the rows of every table of the
// device store, and the accounts in warden.db and in the Manager.
func (e *engine) counts() map[string]int {
	e.t.Helper()
	_, devicesPath := store.Paths(e.dir)
	db, err := sql.Open("sqlite", readOnly(devicesPath))
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		e.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			e.t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		e.t.Fatalf("the device store has only the tables %v", tables)
	}
	out := make(map[string]int, len(tables)+2)
	for _, table := range tables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+table+`"`).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out["devices.db "+table] = n
	}
	accts, err := e.db.Accounts(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out["warden.db accounts"] = len(accts)
	out["the Manager's accounts"] = len(e.m.Statuses())
	return out
}

// readOnly is SQLite's URI of the file at path, opened read-only.
func readOnly(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?mode=ro"
}

// rowsOf counts the device store's rows of one device, under exactly this
// spelling of its JID.
func (e *engine) rowsOf(jid string) int {
	e.t.Helper()
	_, devicesPath := store.Paths(e.dir)
	db, err := sql.Open("sqlite", readOnly(devicesPath))
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	var n int
	q := `SELECT (SELECT COUNT(*) FROM whatsmeow_device WHERE jid = ?) + (SELECT COUNT(*) FROM whatsmeow_pre_keys WHERE jid = ?) + (SELECT COUNT(*) FROM whatsmeow_identity_keys WHERE our_jid = ?)`
	if err := db.QueryRow(q, jid, jid, jid).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fleet.warden")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// otherDevice is jid with its device number past 65535, which whatsmeow's
// parser wraps around to the same device.
func otherDevice(t testing.TB, jid string) string {
	t.Helper()
	j, err := types.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d@%s", j.User, int(j.Device)+65536, j.Server)
}

func TestImportIsAllOrNothing(t *testing.T) {
	x := exportTwo(t, 73)
	version := func(v string) []byte {
		b := bytes.Replace(x.data, []byte(`"version": 1,`), []byte(`"version": `+v+`,`), 1)
		if bytes.Equal(b, x.data) {
			t.Fatal("the export has no version 1")
		}
		return b
	}
	// Bob is the second account: Alice comes first, and must not stay.
	bob := func(field string, v any) []byte {
		return x.edit(t, func(f map[string]any) {
			acct, _ := fileAccount(f, 1)
			if acct["name"] != "Bob" {
				t.Fatalf("the second account is %v", acct["name"])
			}
			acct[field] = v
		})
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"an ID over 256 bytes", bob("id", strings.Repeat("b", 257)), "longer than 256 bytes"},
		{"an ID starting with a zero byte", bob("id", "\x00bob"), "zero byte"},
		{"a creation time past the year 9999 in UTC", bob("created_at", "9999-12-31T23:59:59-23:59"), "years 0 to 9999"},
		{"a device number past 65535", x.edit(t, func(f map[string]any) { respell(f, 1, otherDevice(t, x.bob.JID)) }), "go up to 65535"},
		{"a 70 KB proxy URL", bob("proxy", "socks5://"+strings.Repeat("p", 70_000)+".example.com:1080"), "longer than 2048"},
		{"version 1e400", version("1e400"), "version 1e400 is not one this Warden reads"},
		{"version -1 and no accounts", []byte(`{"format": "warden-accounts", "version": -1, "accounts": []}`), "version -1 is not one Warden writes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t, x.srv, filepath.Join(t.TempDir(), "data"))
			before := e.counts()
			n, err := importAccounts(context.Background(), e.m, e.d, writeFile(t, c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was imported") {
				t.Errorf("import = %d, %.300v; want an error saying %q and that nothing was imported", n, err, c.want)
			}
			t.Logf("refused: %v", err)
			if len(fmt.Sprint(err)) > 1000 {
				t.Errorf("the error is %d bytes long", len(err.Error()))
			}
			if after := e.counts(); !maps.Equal(after, before) {
				t.Errorf("the refused import changed the stores:\nbefore %v\nafter  %v", before, after)
			}
			// The good file imports afterwards, keys and all.
			n, err = importAccounts(context.Background(), e.m, e.d, writeFile(t, x.data))
			if err != nil || n != 2 {
				t.Fatalf("importing the good file afterwards = %d, %v; want 2", n, err)
			}
			for _, a := range []core.Account{x.alice, x.bob} {
				if ok, err := e.d.HasDevice(context.Background(), a); !ok || err != nil {
					t.Errorf("%s's keys after the good import: %v, %v", a.Name, ok, err)
				}
			}
		})
	}
}

// failingStore fails PutAccount once it has stored ok accounts.
type failingStore struct {
	core.Store
	ok   atomic.Int32
	puts atomic.Int32
}

func (s *failingStore) PutAccount(ctx context.Context, a core.Account) error {
	if s.puts.Add(1) > s.ok.Load() {
		return fmt.Errorf("the disk is full")
	}
	return s.Store.PutAccount(ctx, a)
}

// An account the store refuses after the device keys went in: the keys this
// import wrote are removed and the accounts it added go, so the same file
// imports once the store works again.
func TestImportUndoesTheKeysWhenAnAccountFails(t *testing.T) {
	x := exportTwo(t, 74)
	fs := &failingStore{}
	fs.ok.Store(1) // Alice is stored, Bob is not
	e := newEngineWith(t, x.srv, filepath.Join(t.TempDir(), "data"), func(s core.Store) core.Store { fs.Store = s; return fs })
	before := e.counts()
	file := writeFile(t, x.edit(t, func(map[string]any) {})) // Alice, then Bob
	if n, err := importAccounts(context.Background(), e.m, e.d, file); err == nil || !strings.Contains(err.Error(), `save "Bob": the disk is full`) || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("import with a failing store = %d, %v; want the store's error, and that nothing was imported", n, err)
	}
	if after := e.counts(); !maps.Equal(after, before) {
		t.Errorf("the failed import changed the stores:\nbefore %v\nafter  %v", before, after)
	}
	fs.ok.Store(1 << 20)
	if n, err := importAccounts(context.Background(), e.m, e.d, file); err != nil || n != 2 {
		t.Fatalf("importing again = %d, %v; want 2", n, err)
	}
}

// A device JID written with its agent ("U.0:4@…") is one device with
// "U:4@…": its keys are stored under whatsmeow's spelling, where the
// account's session finds them, and it logs in without pairing.
func TestImportStoresKeysUnderTheCanonicalJID(t *testing.T) {
	x := exportTwo(t, 75)
	j, err := types.ParseJID(x.bob.JID)
	if err != nil {
		t.Fatal(err)
	}
	raw := fmt.Sprintf("%s.0:%d@%s", j.User, j.Device, j.Server)
	file := x.edit(t, func(f map[string]any) { respell(f, 1, raw) })
	e := newEngine(t, x.srv, filepath.Join(t.TempDir(), "data"))
	if n, err := importAccounts(context.Background(), e.m, e.d, writeFile(t, file)); err != nil || n != 2 {
		t.Fatalf("import = %d, %v; want 2", n, err)
	}
	if n := e.rowsOf(raw); n != 0 {
		t.Errorf("%d rows stored under %q", n, raw)
	}
	if n := e.rowsOf(j.String()); n == 0 {
		t.Errorf("no rows stored under %q", j.String())
	}
	bob := byName(e.m)["Bob"]
	st := e.wait(bob.Account.ID, "Connected", func(st core.Status) bool { return st.State == core.Connected || st.State == core.Pairing })
	if st.State != core.Connected {
		t.Errorf("Bob pairs again after the import")
	}
}

// FuzzImportAccounts imports any file into a new Warden. A refused import
// leaves every table's row count as it was and says that nothing was
// imported; an accepted one imports every account of the file, the paired
// ones with keys their sessions find.
func FuzzImportAccounts(f *testing.F) {
	x := exportTwo(f, 76)
	// Two prekeys a device instead of 812: small seeds, which the fuzzer
	// mutates many times faster.
	x.data = x.edit(f, func(file map[string]any) {
		for i := range 2 {
			_, dev := fileAccount(file, i)
			tables := dev["tables"].(map[string]any)
			tables["whatsmeow_pre_keys"] = tables["whatsmeow_pre_keys"].([]any)[:2]
		}
	})
	bob := func(field string, v any) []byte {
		return x.edit(f, func(file map[string]any) { acct, _ := fileAccount(file, 1); acct[field] = v })
	}
	j, err := types.ParseJID(x.bob.JID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(x.data)
	// The triggers.
	f.Add(bob("id", strings.Repeat("b", 257)))
	f.Add(bob("id", "\x00bob"))
	f.Add(bob("created_at", "9999-12-31T23:59:59-23:59"))
	f.Add(x.edit(f, func(file map[string]any) { respell(file, 1, otherDevice(f, x.bob.JID)) }))
	f.Add(x.edit(f, func(file map[string]any) { respell(file, 1, fmt.Sprintf("%s.0:%d@%s", j.User, j.Device, j.Server)) }))
	f.Add(bob("proxy", "socks5://"+strings.Repeat("p", 70_000)+".example.com:1080"))
	f.Add(bytes.Replace(x.data, []byte(`"version": 1,`), []byte(`"version": 1e400,`), 1))
	f.Add([]byte(`{"format": "warden-accounts", "version": -1, "accounts": []}`))
	// Cut short.
	f.Add(x.data[:len(x.data)/2])
	f.Add(x.data[:len(x.data)-1])
	// Huge numbers.
	f.Add(bytes.Replace(x.data, []byte(`"device_schema": `), []byte(`"device_schema": 1e400, "x": `), 1))
	f.Add(bytes.Replace(x.data, []byte(`"i": `), []byte(`"i": 1e400, "x": `), 1))
	f.Add(bob("auto_start", 1e300))
	// Duplicates: one account twice, and the accounts key twice (the last wins).
	f.Add(x.edit(f, func(file map[string]any) {
		accts := file["accounts"].([]any)
		file["accounts"] = append(accts, accts[0])
	}))
	f.Add(append([]byte(`{"accounts": [], `), x.data[1:]...))
	// Rows of another device: one of Alice's prekeys among Bob's keys, and
	// Alice's keys given to Bob.
	f.Add(x.edit(f, func(file map[string]any) {
		_, alice := fileAccount(file, 0)
		_, bob := fileAccount(file, 1)
		at, bt := alice["tables"].(map[string]any), bob["tables"].(map[string]any)
		bt["whatsmeow_pre_keys"] = append(bt["whatsmeow_pre_keys"].([]any), at["whatsmeow_pre_keys"].([]any)[0])
	}))
	f.Add(x.edit(f, func(file map[string]any) {
		_, alice := fileAccount(file, 0)
		ea := file["accounts"].([]any)[1].(map[string]any)
		ea["device"] = alice
	}))
	// Enormous fields.
	f.Add(bob("name", strings.Repeat("n", 100_000)))
	f.Add(x.edit(f, func(file map[string]any) {
		_, bob := fileAccount(file, 1)
		bob["tables"].(map[string]any)[strings.Repeat("t", 100_000)] = []any{}
	}))
	// Accounts never paired.
	f.Add([]byte(`{"format": "warden-accounts", "version": 1, "accounts": [{"account": {"id": "a1", "name": "One"}}, {"account": {"id": "a1", "name": "Two", "auto_start": true}}]}`))

	// The Warden importing dials a server that is gone: the imported accounts
	// wait to retry and keep their keys. With -fuzz, the inputs come from the
	// process that made the seeds, whose fake server paired Alice and Bob, and
	// each worker's own server would log them out and wipe their keys.
	gone, err := fakewa.New(fakewa.Config{Seed: 77})
	if err != nil {
		f.Fatal(err)
	}
	gone.Close()

	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEngine(t, gone, filepath.Join(t.TempDir(), "data"))
		before := e.counts()
		ctx := context.Background()
		n, err := importAccounts(ctx, e.m, e.d, writeFile(t, data))
		after := e.counts()
		if err != nil {
			if !maps.Equal(after, before) {
				t.Errorf("a refused import (%.300v) changed the stores:\nbefore %v\nafter  %v", err, before, after)
			}
			if n != 0 || !strings.Contains(err.Error(), "nothing was imported") {
				t.Errorf("a refused import = %d, %.300v; want 0 and words saying nothing was imported", n, err)
			}
			if len(err.Error()) > 4096 {
				t.Errorf("the error is %d bytes long: %.300v", len(err.Error()), err)
			}
			return
		}
		var file exportFile
		if err := json.Unmarshal(data, &file); err != nil {
			t.Fatalf("an import of a file that does not decode was accepted: %v", err)
		}
		if n != len(file.Accounts) {
			t.Errorf("import = %d, want every account of the file: %d", n, len(file.Accounts))
		}
		for _, k := range []string{"warden.db accounts", "the Manager's accounts"} {
			if after[k] != before[k]+len(file.Accounts) {
				t.Errorf("%s: %d before, %d after importing %d", k, before[k], after[k], len(file.Accounts))
			}
		}
		here := map[string]core.Account{}
		for _, st := range e.m.Statuses() {
			here[st.Account.Device()] = st.Account
		}
		for _, ea := range file.Accounts {
			if ea.Device == nil || ea.Account.JID == "" {
				continue
			}
			a, ok := here[core.CanonicalDevice(ea.Account.JID)]
			if !ok {
				t.Errorf("%q was imported without its device %s", ea.Account.Name, ea.Account.JID)
				continue
			}
			if ok, err := e.d.HasDevice(ctx, a); !ok || err != nil {
				t.Errorf("%q: its session finds no keys under %s (%v)", a.Name, a.JID, err)
			}
		}
	})
}
