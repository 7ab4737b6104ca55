package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// BenchmarkTimelineThroughManager measures the rate at which timeline events
// reach the store through the Manager's batching writer, with 16 accounts
// producing events concurrently from 16 goroutines. Each event is a note the
// Manager records for a late event of a closed session ("stale event
// dropped"), the cheapest way to make the engine record an event. The clock
// stops only when every event is stored (m.Events flushes the writer).
func BenchmarkTimelineThroughManager(b *testing.B) {
	const writers = 16
	ctx := context.Background()
	db := openAt(b, filepath.Join(b.TempDir(), DBFile))
	d := coretest.NewDialer()
	m, err := core.NewManager(core.Config{Dialer: d, Store: db, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(ctx)
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var ids []core.AccountID
	for i := range writers {
		a, err := m.Add(ctx, fmt.Sprintf("writer %d", i))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	// Wait for the pairing sessions, then close them: their events are stale.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		n := 0
		for _, id := range ids {
			if st, _ := m.Status(id); st.State == core.Pairing {
				n++
			}
		}
		if n == writers {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("accounts did not start pairing")
		}
	}
	var stale []*coretest.Session
	for _, id := range ids {
		stale = append(stale, d.Last(id))
		if err := m.Disconnect(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := m.Events(ctx, ids[0], 1); err != nil { // flush the set-up
		b.Fatal(err)
	}
	before, _ := m.Events(ctx, ids[0], 1)

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	per := b.N / writers
	for _, s := range stale {
		wg.Go(func() {
			for range per {
				s.Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
			}
		})
	}
	wg.Wait()
	last, err := m.Events(ctx, ids[0], 1) // waits until everything is stored
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := last[0].Seq - before[0].Seq; got != uint64(per) {
		b.Fatalf("%d events of the first account stored, want %d", got, per)
	}
	b.ReportMetric(float64(per*writers)/elapsed.Seconds(), "events/s")
}

// BenchmarkEvents100k reads a whole 100,000-event timeline of one account, as
// the Timeline tab does when it opens (its own benchmark, in ui, starts from
// events already in memory).
func BenchmarkEvents100k(b *testing.B) {
	const n = 100_000
	db := openAt(b, filepath.Join(b.TempDir(), DBFile))
	id := core.AccountID("busy")
	start := time.Now().Add(-n * 37 * time.Minute)
	evs := make([]core.Event, n)
	for i := range evs {
		evs[i] = largeEvent(id, i, start)
	}
	ctx := context.Background()
	if err := db.PutAccount(ctx, core.Account{ID: id, Name: "Busy", CreatedAt: start}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i += 10_000 {
		if err := db.AppendEvents(ctx, evs[i:i+10_000]...); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		got, err := db.Events(ctx, id, n)
		if err != nil || len(got) != n {
			b.Fatalf("%d events, %v", len(got), err)
		}
	}
}
