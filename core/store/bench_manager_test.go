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
