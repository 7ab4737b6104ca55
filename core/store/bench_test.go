package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// The large store: 1,000 accounts with 1,000 events each.
const (
	largeAccounts = 1000
	largePer      = 1000
)

// largeDir holds the large store shared by the benchmarks; TestMain removes it.
var (
	largeOnce sync.Once
	largeDir  string
	largeErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if largeDir != "" {
		os.RemoveAll(largeDir)
	}
	os.Exit(code)
}

func largeID(i int) core.AccountID { return core.AccountID(fmt.Sprintf("acct-%04d", i)) }

// largeEvent is the i-th event of a timeline: a realistic mix of transitions.
func largeEvent(id core.AccountID, i int, start time.Time) core.Event {
	states := []core.State{core.Connecting, core.Connected, core.Waiting, core.Connecting, core.Connected, core.Replaced}
	causes := []string{core.CauseTimer, "connected", "disconnected", core.CauseTimer, "connected", "replaced"}
	from, to := states[(i+len(states)-1)%len(states)], states[i%len(states)]
	ev := core.Event{Account: id, At: start.Add(time.Duration(i) * 37 * time.Minute), From: from, To: to,
		Cause: causes[i%len(causes)], Epoch: uint64(i/3 + 1)}
	if to == core.Waiting {
		ev.Reason = "stream error 503: service unavailable"
		ev.Attempt = i%7 + 1
		ev.Delay = 5*time.Second + time.Duration(i%500)*time.Millisecond
	}
	return ev
}

// genLarge builds the large store at path through the store's own write path
// (putEvents), 50 accounts per transaction.
func genLarge(path string, accounts int) error {
	db, err := Open(path, WithLogger(discard))
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now().Add(-largePer * 37 * time.Minute)
	for first := 0; first < accounts; first += 50 {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for a := first; a < first+50; a++ {
				id := largeID(a)
				acct, _ := json.Marshal(core.Account{ID: id, Name: string(id), CreatedAt: start.UTC()})
				if err := tx.Bucket(bucketAccounts).Put([]byte(id), acct); err != nil {
					return err
				}
				evs := make([]core.Event, largePer)
				for i := range evs {
					evs[i] = largeEvent(id, i, start)
				}
				values, err := encodeEvents(evs)
				if err != nil {
					return err
				}
				if _, err := putEvents(tx, evs, values); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// largeStore returns the path of the shared large store, built once.
func largeStore(b *testing.B) string {
	b.Helper()
	if testing.Short() {
		b.Skip("builds a 1,000,000-event store")
	}
	largeOnce.Do(func() {
		if largeDir, largeErr = os.MkdirTemp("", "warden-store-bench-"); largeErr != nil {
			return
		}
		largeErr = genLarge(filepath.Join(largeDir, DBFile), largeAccounts)
	})
	if largeErr != nil {
		b.Fatal(largeErr)
	}
	return filepath.Join(largeDir, DBFile)
}

// TestLargeStore builds the 1,000,000-event store and checks what the
// benchmarks rely on: every account's newest 500 events come back in order.
// Under the race detector it builds a tenth of it.
func TestLargeStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1,000,000-event store")
	}
	accounts := largeAccounts
	if raceEnabled {
		accounts /= 10
	}
	path := filepath.Join(t.TempDir(), DBFile)
	startGen := time.Now()
	if err := genLarge(path, accounts); err != nil {
		t.Fatal(err)
	}
	genTime := time.Since(startGen)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path)
	accts, err := db.Accounts(context.Background())
	if err != nil || len(accts) != accounts {
		t.Fatalf("Accounts() = %d, %v; want %d", len(accts), err, accounts)
	}
	for _, a := range []int{0, accounts / 2, accounts - 1} {
		evs, err := db.Events(context.Background(), largeID(a), 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 500 || evs[0].Seq != largePer-499 || evs[499].Seq != largePer || evs[499].Account != largeID(a) {
			t.Fatalf("Events(%s, 500) = %d events %d..%d", largeID(a), len(evs), evs[0].Seq, evs[len(evs)-1].Seq)
		}
	}
	t.Logf("%d events in %s, file %.1f MB", accounts*largePer, genTime.Round(time.Millisecond), float64(info.Size())/1e6)
}

// BenchmarkAppend16Writers appends through 16 concurrent writers, each to its
// own account, one AppendEvents call per perCall events; every call waits
// for its commit and sync. "writer" is the store's group-commit writer,
// "bolt-batch" the same write done through bbolt's DB.Batch instead.
func BenchmarkAppend16Writers(b *testing.B) {
	for _, mode := range []string{"writer", "bolt-batch"} {
		for _, perCall := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/%d-per-call", mode, perCall), func(b *testing.B) {
				benchAppend(b, mode, perCall)
			})
		}
	}
}

func benchAppend(b *testing.B, mode string, perCall int) {
	db := openTest(b)
	if mode == "bolt-batch" {
		benchAppendVia(b, db, perCall, func(_ context.Context, evs ...core.Event) error {
			values, err := encodeEvents(evs)
			if err != nil {
				return err
			}
			return db.bolt.Batch(func(tx *bolt.Tx) error {
				_, err := putEvents(tx, evs, values)
				return err
			})
		})
		return
	}
	benchAppendDB(b, db, perCall)
}

func benchAppendDB(b *testing.B, db *DB, perCall int) {
	benchAppendVia(b, db, perCall, db.AppendEvents)
}

func benchAppendVia(b *testing.B, db *DB, perCall int, appendEvents func(context.Context, ...core.Event) error) {
	const writers = 16
	ctx := context.Background()
	ids := make([]core.AccountID, writers)
	for i := range ids {
		ids[i] = largeID(i)
	}
	putAccounts(b, db, ids...)
	var done atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			evs := make([]core.Event, perCall)
			for i := 0; done.Add(int64(perCall)) <= int64(b.N)+int64(perCall)-1; i++ {
				for j := range evs {
					evs[j] = largeEvent(ids[w], i*perCall+j, time.Now())
				}
				if err := appendEvents(ctx, evs...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEvents500 reads an account's newest 500 events from the
// 1,000,000-event store.
func BenchmarkEvents500(b *testing.B) {
	path := largeStore(b)
	db := openAt(b, path)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	b.ResetTimer()
	for b.Loop() {
		evs, err := db.Events(ctx, largeID(rng.IntN(largeAccounts)), 500)
		if err != nil || len(evs) != 500 {
			b.Fatalf("Events = %d, %v", len(evs), err)
		}
	}
}

// BenchmarkEvents1 is the Manager's seeding read at start-up.
func BenchmarkEvents1(b *testing.B) {
	path := largeStore(b)
	db := openAt(b, path)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 1))
	for b.Loop() {
		if evs, err := db.Events(ctx, largeID(rng.IntN(largeAccounts)), 1); err != nil || len(evs) != 1 {
			b.Fatalf("Events = %d, %v", len(evs), err)
		}
	}
}

// BenchmarkOpen opens (checks, migrates, starts) and closes the
// 1,000,000-event store; it reports the file's size.
func BenchmarkOpen(b *testing.B) {
	path := largeStore(b)
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		db, err := Open(path, WithLogger(discard))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(info.Size())/1e6, "MB-file")
}

// BenchmarkLogHandler is the cost of one slog call through LogHandler: the
// record is buffered; the flusher writes in the background.
func BenchmarkLogHandler(b *testing.B) {
	db := openTest(b)
	putAccounts(b, db, "a")
	logger := slog.New(db.LogHandler(slog.LevelInfo)).With(AccountKey, "a")
	for b.Loop() {
		logger.Info("stream error", "code", 503, "attempt", 2)
	}
}

// BenchmarkAllLogs merges the newest 500 lines of 1,000 accounts' logs.
func BenchmarkAllLogs(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 1,000 logs")
	}
	db := openTest(b)
	ctx := context.Background()
	ids := make([]core.AccountID, largeAccounts)
	for i := range ids {
		ids[i] = largeID(i)
	}
	putAccounts(b, db, ids...)
	start := time.Now()
	for i, id := range ids {
		lines := make([]LogLine, 100)
		for j := range lines {
			lines[j] = LogLine{At: start.Add(time.Duration(j*largeAccounts+i) * time.Millisecond), Level: slog.LevelInfo,
				Message: "connected", Attrs: map[string]string{"epoch": fmt.Sprint(j)}}
		}
		if err := db.AppendLogs(ctx, id, lines...); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if lines, err := db.AllLogs(ctx, 500, slog.LevelDebug, ""); err != nil || len(lines) != 500 {
			b.Fatalf("AllLogs = %d, %v", len(lines), err)
		}
	}
}

// BenchmarkPutMessageConcurrent stores messages from 200 goroutines, each an
// account receiving its messages one PutMessage at a time, as 200 accounts
// that receive at once do; every call waits for its commit and sync. An op is
// one message; page-writes/msg is what the commits wrote per message, the
// cost that sharing commits spreads. "writer" commits through the store's writer, "bolt-batch"
// through bbolt's DB.Batch instead.
func BenchmarkPutMessageConcurrent(b *testing.B) {
	for _, mode := range []string{"writer", "bolt-batch"} {
		b.Run(mode, func(b *testing.B) {
			db := openTest(b)
			commit := func(op func(tx *bolt.Tx) error) error { return db.write(context.Background(), op) }
			if mode == "bolt-batch" {
				commit = db.bolt.Batch
			}
			benchPutMessages(b, db, commit)
		})
	}
}

func benchPutMessages(b *testing.B, db *DB, commit func(op func(tx *bolt.Tx) error) error) {
	const accounts = 200
	ids := make([]core.AccountID, accounts)
	for i := range ids {
		ids[i] = largeID(i)
	}
	putAccounts(b, db, ids...)
	var done atomic.Int64
	var wg sync.WaitGroup
	before := db.bolt.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for a := range accounts {
		wg.Go(func() {
			for i := 0; done.Add(1) <= int64(b.N); i++ {
				if _, _, err := db.putMessage(message(ids[a], i, time.Now()), commit, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	after := db.bolt.Stats()
	b.ReportMetric(float64(after.TxStats.GetWrite()-before.TxStats.GetWrite())/float64(b.N), "page-writes/msg")
}
