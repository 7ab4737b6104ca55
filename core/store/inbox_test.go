package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// message is the i-th message of an account, received at received.
func message(id core.AccountID, i int, received time.Time) core.Message {
	return core.Message{Account: id, ID: fmt.Sprintf("3EB0%06d", i), Chat: "15550001111@s.whatsapp.net",
		Sender: "15550001111@s.whatsapp.net", Kind: core.KindText, Text: fmt.Sprint("message ", i),
		At: received, Received: received}
}

// storeMessages stores n messages of id, the i-th received at received(i),
// in one transaction through the store's own write path.
func storeMessages(t *testing.T, db *DB, id core.AccountID, n int, received func(i int) time.Time) {
	t.Helper()
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for i := range n {
			m := message(id, i, received(i).UTC())
			v, err := encodeMessage(m)
			if err != nil {
				return err
			}
			if _, err := storeMessage(tx, id, []byte(m.Key()), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// inboxRange describes the account's inbox: how many messages, first and
// last seq, and how many keys index them.
func inboxRange(t *testing.T, db *DB, id core.AccountID) string {
	t.Helper()
	ms, err := db.Messages(context.Background(), id, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	db.bolt.View(func(tx *bolt.Tx) error {
		if b := inboxKeys(tx.Bucket(bucketInbox).Bucket([]byte(id))); b != nil {
			keys = b.Stats().KeyN
		}
		return nil
	})
	if len(ms) == 0 {
		return fmt.Sprintf("none, %d keys", keys)
	}
	return fmt.Sprintf("%d messages, %d..%d, %d keys", len(ms), ms[0].Seq, ms[len(ms)-1].Seq, keys)
}

// The pruner keeps each inbox within the count, in chunks, and the age,
// keeping the newest message, and removes the pruned messages' keys.
func TestPruneMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db := openTest(t, WithMessageRetention(500, 10*24*time.Hour), WithPruneInterval(time.Hour))
		defer db.Close()
		putAccounts(t, db, "busy", "daily", "idle")
		now := time.Now()
		day := 24 * time.Hour
		storeMessages(t, db, "busy", 2600, func(int) time.Time { return now })
		storeMessages(t, db, "daily", 20, func(i int) time.Time { return now.Add(time.Duration(i-19) * day) })
		storeMessages(t, db, "idle", 5, func(int) time.Time { return now.Add(-365 * day) })

		time.Sleep(30 * time.Second)
		synctest.Wait()
		for id, want := range map[core.AccountID]string{
			"busy":  "500 messages, 2101..2600, 500 keys",
			"daily": "10 messages, 11..20, 10 keys",
			"idle":  "1 messages, 5..5, 1 keys",
		} {
			if got := inboxRange(t, db, id); got != want {
				t.Errorf("%s's inbox after pruning: %s, want %s", id, got, want)
			}
		}
		// A pruned message delivered again is new; a kept one is not.
		if _, dup, err := db.PutMessage(ctx, message("busy", 0, now)); err != nil || dup {
			t.Errorf("a pruned message delivered again: dup %v, %v; want a new message", dup, err)
		}
		if m, dup, err := db.PutMessage(ctx, message("busy", 2599, now)); err != nil || !dup || m.Seq != 2600 {
			t.Errorf("a kept message delivered again: seq %d, dup %v, %v; want 2600, a dup", m.Seq, dup, err)
		}
	})
}

// A file of schema 2 gains the inbox and keeps its data.
func TestMigration3AddsInbox(t *testing.T) {
	ctx := context.Background()
	path := fileAt(t, 2, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Put([]byte("a"), []byte(`{"id":"a","name":"Old","created_at":"2025-01-01T00:00:00Z"}`))
	})
	db := openAt(t, path)
	if v := versionOf(t, db); v != schemaVersion {
		t.Errorf("version after Open = %d, want %d", v, schemaVersion)
	}
	if accts, err := db.Accounts(ctx); err != nil || len(accts) != 1 || accts[0].Name != "Old" {
		t.Errorf("Accounts() = %+v, %v; want the old account", accts, err)
	}
	if m, dup, err := db.PutMessage(ctx, message("a", 1, time.Now())); err != nil || dup || m.Seq != 1 {
		t.Errorf("PutMessage after migration 3 = seq %d, dup %v, %v", m.Seq, dup, err)
	}
}

// A file of the inbox's schema without the inbox bucket is damaged.
func TestOpenWithoutInbox(t *testing.T) {
	path, _ := goodFile(t)
	other, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketInbox) }); err != nil {
		t.Fatal(err)
	}
	other.Close()
	bad, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := assertCorrupt(t, path, bad); !strings.Contains(err.Error(), `no "inbox" bucket`) {
		t.Errorf("Open = %v, want it to name the missing inbox", err)
	}
}

// The child puts messages from one goroutine per account and prints
// "<account> <seq>" for each PutMessage that returned nil; every fifth
// message it delivers the last one again, which must come back as a dup. The
// parent kills it at a random moment, reopens the file and checks that every
// reported message is there, and that no sequence has a hole.
func TestCrashLosesNoCommittedMessage(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashMessageChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), DBFile)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for round := range 3 {
		reported := crashRound(t, "TestCrashLosesNoCommittedMessage", path,
			50*time.Millisecond+time.Duration(rng.Int64N(int64(250*time.Millisecond))), false)
		db, err := Open(path, WithLogger(discard))
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		total := 0
		for _, id := range crashAccounts {
			ms, err := db.Messages(context.Background(), id, 0, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				if m.Seq != uint64(i+1) {
					t.Fatalf("round %d: %s: message %d has seq %d: a hole in the sequence", round, id, i, m.Seq)
				}
			}
			for _, seq := range reported[id] {
				if seq > uint64(len(ms)) {
					t.Errorf("round %d: %s: seq %d was reported stored but is missing", round, id, seq)
				}
			}
			total += len(reported[id])
		}
		db.Close()
		if total == 0 {
			t.Fatalf("round %d: the child reported no stored message", round)
		}
		t.Logf("round %d: %d messages reported stored, all present", round, total)
	}
}

func crashMessageChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	db, err := Open(path, WithLogger(discard))
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	var mu sync.Mutex // one line per write
	var wg sync.WaitGroup
	for _, id := range crashAccounts {
		if err := db.PutAccount(ctx, core.Account{ID: id, Name: string(id)}); err != nil {
			fail(err)
		}
		wg.Go(func() {
			var last core.Message
			for i := 0; ; i++ {
				m := message(id, i, time.Now())
				m.ID = fmt.Sprintf("%d-%d", os.Getpid(), i) // new in every round
				redelivery := i%5 == 4
				if redelivery {
					m = last
				}
				stored, dup, err := db.PutMessage(ctx, m)
				if err != nil {
					fail(err)
				}
				if dup != redelivery || (redelivery && stored.Seq != last.Seq) {
					fail(fmt.Errorf("%s: message %d: seq %d, dup %v; the last was %d", id, i, stored.Seq, dup, last.Seq))
				}
				last = stored
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s %d\n", id, stored.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
