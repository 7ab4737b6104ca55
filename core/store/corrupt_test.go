package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// goodFile writes a store with some data and returns its path and bytes.
func goodFile(t *testing.T) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	ids := []core.AccountID{"a", "b", "c"}
	putAccounts(t, db, ids...)
	for _, id := range ids {
		for range 2 {
			evs := make([]core.Event, 500)
			for i := range evs {
				evs[i] = event(id, 0, time.Now())
			}
			if err := db.AppendEvents(ctx, evs...); err != nil {
				t.Fatal(err)
			}
		}
		storeMessages(t, db, id, 3, func(int) time.Time { return time.Now() })
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func TestOpenDamagedFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	damages := []struct {
		name   string
		damage func(good []byte) []byte
	}{
		{"truncated to half", func(g []byte) []byte { return g[:len(g)/2] }},
		{"truncated to one page", func(g []byte) []byte { return g[:4096] }},
		{"truncated to 100 bytes", func(g []byte) []byte { return g[:100] }},
		{"last page cut off", func(g []byte) []byte { return g[:usedSize(t, g)-4096] }},
		{"zeroed", func(g []byte) []byte { return make([]byte, len(g)) }},
		{"meta pages zeroed", func(g []byte) []byte {
			b := bytes.Clone(g)
			clear(b[:2*4096])
			return b
		}},
		{"a leaf page zeroed", func(g []byte) []byte { return zeroPage(t, g, "leaf") }},
		{"a branch page zeroed", func(g []byte) []byte { return zeroPage(t, g, "branch") }},
		{"random bytes", func(g []byte) []byte { return random(len(g)) }},
		{"sqlite file", func(g []byte) []byte {
			return append([]byte("SQLite format 3\x00\x10\x00\x01\x01\x00\x40\x20\x20"), random(64<<10)...)
		}},
		{"text file", func([]byte) []byte { return []byte(strings.Repeat("this is not a database\n", 1000)) }},
	}
	_, good := goodFile(t)
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), DBFile)
			bad := d.damage(good)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			assertCorrupt(t, path, bad)
		})
	}
}

// A valid bbolt file that is not Warden's.
func TestOpenForeignBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	other, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	other.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertCorrupt(t, path, b)
}

// zeroPage returns a copy of the good file with the last page of the given
// type ("leaf", "branch") that is in use zeroed.
func zeroPage(t *testing.T, good []byte, typ string) []byte {
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page := -1
	db.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil {
				t.Fatal(err)
			}
			if info == nil {
				return nil
			}
			if info.Type == typ {
				page = id
			}
		}
	})
	if page < 0 {
		t.Fatalf("the good file has no %s page in use", typ)
	}
	b := bytes.Clone(good)
	clear(b[page*4096 : (page+1)*4096])
	return b
}

// usedSize returns how much of the good file bbolt uses: the rest is
// preallocated space.
func usedSize(t *testing.T, good []byte) int {
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var size int64
	db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	if size > int64(len(good)) || size < 4*4096 {
		t.Fatalf("bbolt uses %d bytes of a %d-byte file", size, len(good))
	}
	return int(size)
}

// assertCorrupt checks that Open refuses the file as damaged, naming it,
// and leaves it as want; it returns Open's error.
func assertCorrupt(t *testing.T, path string, want []byte) error {
	t.Helper()
	db, err := Open(path, WithLogger(discard), WithLockTimeout(200*time.Millisecond))
	if err == nil {
		db.Close()
		t.Fatal("Open of a damaged file succeeded")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Open = %v, want ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	got, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatalf("the file is gone: %v", rerr)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Open modified the damaged file (%d bytes before, %d after)", len(want), len(got))
	}
	return err
}

// An empty file is what a crash before the first write leaves: it opens as a
// new store.
func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path)
	putAccounts(t, db, "a")
	accts, err := db.Accounts(context.Background())
	if err != nil || len(accts) != 1 {
		t.Errorf("Accounts() = %v, %v; want one", accts, err)
	}
}

// A file whose pages are sound but whose records Warden reads at start do not
// decode is damaged too: Open says so, names the record, and writes nothing.
func TestOpenDamagedRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bucket [][]byte // the bucket's path from the root
		key    []byte
		want   string
	}{
		{"an account", [][]byte{bucketAccounts}, []byte("b"), `account "b"`},
		{"an account's last event", [][]byte{bucketEvents, []byte("c")}, seqKey(1000), `the last event of account "c"`},
		{"an account's last message", [][]byte{bucketInbox, []byte("c"), bucketMsgs}, seqKey(3), `the last message of account "c"`},
		{"the schema version", [][]byte{bucketMeta}, keyVersion, "schema version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _ := goodFile(t)
			other, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Update(func(tx *bolt.Tx) error {
				b := tx.Bucket(tc.bucket[0])
				for _, name := range tc.bucket[1:] {
					b = b.Bucket(name)
				}
				if b.Get(tc.key) == nil {
					t.Fatalf("the good file has no %q in %q", tc.key, tc.bucket)
				}
				return b.Put(tc.key, []byte(`{"id":"b","name":"Bo`)) // cut short
			}); err != nil {
				t.Fatal(err)
			}
			other.Close()
			bad, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			err = assertCorrupt(t, path, bad)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open = %v, want it to name %s", err, tc.want)
			}
		})
	}
}

// Open itself writes nothing to a sound file of the current schema, and with
// WithWritesHeld neither do the log handler and the pruner until
// ReleaseWrites: a start that fails after Open leaves the file as it was.
func TestOpenWritesNothingUntilReleased(t *testing.T) {
	path, good := goodFile(t)
	db, err := Open(path, WithLogger(discard), WithWritesHeld(), WithPruneInterval(time.Millisecond),
		WithRetention(1, time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(db.LogHandler(slog.LevelInfo))
	log.Info("a line logged while the start is not done")
	log.Info("another", AccountKey, "a")
	if _, err := db.Accounts(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The dialer saves a fetched WhatsApp Web version in the background.
	if err := db.SaveWebVersion(context.Background(), "2.3000.1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if v, _, err := db.WebVersion(context.Background()); err != nil || v != "2.3000.1" {
		t.Errorf("WebVersion while held = %q, %v; want the one just saved", v, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, good) {
		t.Fatal("the file changed, though nothing was released")
	}

	// Released, the held lines are written and the pruner runs.
	db = openAt(t, path, WithWritesHeld())
	log = slog.New(db.LogHandler(slog.LevelInfo))
	log.Info("held until the start is done")
	if err := db.SaveWebVersion(context.Background(), "2.3000.2", time.Now()); err != nil {
		t.Fatal(err)
	}
	db.ReleaseWrites()
	log.Info("after the start")
	db.FlushLogs()
	lines, err := db.Logs(context.Background(), "", 10, slog.LevelInfo, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Message != "held until the start is done" {
		t.Errorf("Warden's log after the release = %+v, want the held line and the next", lines)
	}
	db.Close()
	db = openAt(t, path)
	if v, _, err := db.WebVersion(context.Background()); err != nil || v != "2.3000.2" {
		t.Errorf("WebVersion after the release and a reopen = %q, %v; want the one saved while held", v, err)
	}
}
