package whatsapp_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/store"
)

// BenchmarkReceiveBurst is the receiving figure: 200 accounts connected
// through Warden (Manager, Dialer, sessions, the bbolt store), then ten
// contacts each write to every account at once, 2,000 messages in all, the
// first of each contact to each account a prekey message. It reports the
// time from the first send to the last message stored, and the heap and RSS
// per account before and after. Every message must be stored once and
// confirmed to WhatsApp.
func BenchmarkReceiveBurst(b *testing.B) {
	defaultKeepAlive(b)
	const accounts, contacts = 200, 10
	p := testPolicy()
	p.StartSpread = 5 * time.Millisecond
	r := newRig(b, 540, p)
	senders := make([]string, contacts)
	for i := range senders {
		senders[i] = fmt.Sprintf("1555020%04d", i)
		if err := r.srv.AddContact(senders[i], 1); err != nil {
			b.Fatal(err)
		}
	}
	accts := make([]core.Account, accounts)
	for i := range accts {
		accts[i] = r.add(fmt.Sprintf("Burst %03d", i))
	}
	r.closeManager()
	waitUntil(b, "every socket is closed", func() bool { return r.srv.LiveSockets() == 0 })

	for b.Loop() {
		// A Manager on a bbolt store of its own starts every account again.
		db, err := store.Open(filepath.Join(b.TempDir(), "warden.db"))
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range accts {
			a.AutoStart = true
			if err := db.PutAccount(context.Background(), a); err != nil {
				b.Fatal(err)
			}
		}
		m, err := core.NewManager(core.Config{Dialer: r.d, Store: db, Policy: p, Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, a := range accts {
			waitUntil(b, a.Name+" connected", func() bool {
				st, _ := m.Status(a.ID)
				return st.State == core.Connected && r.srv.LoggedIn(a.JID) == 1
			})
		}
		time.Sleep(time.Second) // let post-login work (prekey checks) settle
		before := measure(b)

		start := time.Now()
		var wg sync.WaitGroup
		for _, a := range accts {
			wg.Go(func() {
				for i, from := range senders {
					if _, err := r.srv.SendText(from, a.Phone(), fmt.Sprintf("message %d", i)); err != nil {
						b.Error(err)
					}
				}
			})
		}
		stored := func() int {
			n := 0
			for _, st := range m.Statuses() {
				in, _ := st.Traffic.Today(time.Now())
				n += in
			}
			return n
		}
		deadline := time.Now().Add(5 * time.Minute)
		for stored() < accounts*contacts {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d messages stored after 5 minutes", stored(), accounts*contacts)
			}
			time.Sleep(2 * time.Millisecond)
		}
		last := time.Since(start)
		wg.Wait()
		after := measure(b)
		for _, a := range accts {
			msgs, err := db.Messages(context.Background(), a.ID, 0, 100)
			if err != nil || len(msgs) != contacts {
				b.Fatalf("%s stored %d messages (%v), want %d", a.Name, len(msgs), err, contacts)
			}
			waitUntil(b, "WhatsApp has every message of "+a.Name+" confirmed", func() bool { return r.srv.Pending(a.JID) == 0 })
		}
		b.ReportMetric(float64(last.Milliseconds()), "ms-to-last")
		b.ReportMetric(float64(accounts*contacts)/last.Seconds(), "msgs/s")
		b.ReportMetric(float64(before.heap)/accounts/1024, "heap-KiB/acct-before")
		b.ReportMetric(float64(after.heap)/accounts/1024, "heap-KiB/acct-after")
		b.ReportMetric((float64(after.heap)-float64(before.heap))/accounts/1024, "heap-growth-KiB/acct")
		b.ReportMetric(float64(before.rss)/accounts/1024, "rss-KiB/acct-before")
		b.ReportMetric(float64(after.rss)/accounts/1024, "rss-KiB/acct-after")

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := m.Close(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		waitUntil(b, "every socket is closed", func() bool { return r.srv.LiveSockets() == 0 })
	}
}
