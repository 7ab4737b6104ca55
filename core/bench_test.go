package core_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// connectedFleet starts a Manager with n paired, connected accounts.
func connectedFleet(b *testing.B, n int) (*core.Manager, *coretest.Dialer, []*coretest.Session) {
	b.Helper()
	d, s := coretest.NewDialer(), coretest.NewStore()
	p := core.DefaultPolicy()
	p.StartSpread, p.StartWindow = 0, 0
	ctx := context.Background()
	var ids []core.AccountID
	for i := range n {
		id := core.AccountID(fmt.Sprintf("acct%04d", i))
		jid := fmt.Sprintf("1555%07d.0:1@s.whatsapp.net", i)
		d.AddDevice(jid)
		if err := s.PutAccount(ctx, core.Account{ID: id, Name: string(id), JID: jid, AutoStart: true, CreatedAt: time.Unix(int64(i), 0)}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: p})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close(context.Background()) })
	if err := m.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		all := true
		for _, id := range ids {
			if !m.IsConnectionActive(id) {
				all = false
				break
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the fleet did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sessions := make([]*coretest.Session, n)
	for i, id := range ids {
		sessions[i] = d.Last(id)
	}
	return m, d, sessions
}

// BenchmarkManagerEvents pushes session events through the Manager for 1,000
// connected accounts (keepalive failing and recovering, which changes the
// status each time) and reports events/s and the subscriber's latency.
func BenchmarkManagerEvents(b *testing.B) {
	m, _, sessions := connectedFleet(b, 1000)
	updates, cancel := m.Subscribe()
	defer cancel()
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		for st := range updates {
			if since := st.KeepAliveFailingSince; !since.IsZero() {
				lat = append(lat, time.Since(since))
			}
		}
	}()
	timeout := core.SessionEvent{Kind: core.SessionKeepAliveTimeout}
	restored := core.SessionEvent{Kind: core.SessionKeepAliveRestored}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s := sessions[i%len(sessions)]
		if (i/len(sessions))%2 == 0 {
			s.Emit(timeout)
		} else {
			s.Emit(restored)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-latency-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-latency-µs")
	}
}

// BenchmarkIdleAccountHeap reports the heap each idle account costs.
func BenchmarkIdleAccountHeap(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	for b.Loop() {
		s := coretest.NewStore()
		for i := range n {
			id := core.AccountID(fmt.Sprintf("a%05d", i))
			_ = s.PutAccount(ctx, core.Account{ID: id, Name: "Account " + string(id), JID: "15550001111.0:1@s.whatsapp.net", CreatedAt: time.Unix(int64(i), 0)})
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: s})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/account")
		if len(m.Statuses()) != n {
			b.Fatal("accounts missing")
		}
		_ = m.Close(ctx)
	}
}
