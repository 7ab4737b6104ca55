package app

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
)

// BenchmarkReceiveBurst is the receiving figure: 200 accounts run by Warden
// as it runs itself (start: the bbolt store, the device store, the
// adapter, the Manager), then ten contacts each write to every account at
// once, 2,000 messages in all, the first of each contact to each account a
// prekey message. It reports the time from the first send to the last
// message stored, and the heap and RSS per account before and after (the
// whole process: Warden, the whatsmeow clients, fakewa and its contacts).
// Every message must be stored once and confirmed to WhatsApp.
func BenchmarkReceiveBurst(b *testing.B) {
	const accounts, contacts = 200, 10
	srv := fakeServer(b, 540)
	senders := make([]string, contacts)
	for i := range senders {
		senders[i] = fmt.Sprintf("1555020%04d", i)
		if err := srv.AddContact(senders[i], 1); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	svc, err := start(flags{dataDir: dir, httpClient: srv.HTTPClient()}, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.begin(flags{}); err != nil {
		b.Fatal(err)
	}
	accts := make([]core.Account, accounts)
	for i := range accts {
		acct, err := svc.manager.Add(context.Background(), fmt.Sprintf("Burst %03d", i))
		if err != nil {
			b.Fatal(err)
		}
		st := waitStatusB(b, svc, acct.ID, func(st core.Status) bool { return st.QRCode != "" })
		if _, err := srv.ScanQR(st.QRCode); err != nil {
			b.Fatal(err)
		}
		accts[i] = waitStatusB(b, svc, acct.ID, func(st core.Status) bool { return st.State == core.Connected }).Account
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := svc.close(ctx); err != nil {
			b.Error(err)
		}
	}()
	time.Sleep(time.Second) // let post-login work (prekey uploads) settle

	for round := 0; b.Loop(); round++ {
		before := measureB(b)
		start := time.Now()
		var wg sync.WaitGroup
		for _, a := range accts {
			wg.Go(func() {
				for i, from := range senders {
					if _, err := srv.SendText(from, a.Phone(), fmt.Sprintf("round %d, message %d", round, i)); err != nil {
						b.Error(err)
					}
				}
			})
		}
		want := (round + 1) * accounts * contacts
		stored := func() int {
			n := 0
			for _, st := range svc.manager.Statuses() {
				in, _ := st.Traffic.Today(time.Now())
				n += in
			}
			return n
		}
		deadline := time.Now().Add(5 * time.Minute)
		for stored() < want {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d messages stored after 5 minutes", stored(), want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		last := time.Since(start)
		wg.Wait()
		after := measureB(b)
		for _, a := range accts {
			msgs, err := svc.db.Messages(context.Background(), a.ID, 0, 1000)
			if err != nil || len(msgs) != (round+1)*contacts {
				b.Fatalf("%s stored %d messages (%v), want %d", a.Name, len(msgs), err, (round+1)*contacts)
			}
			deadline := time.Now().Add(time.Minute)
			for srv.Pending(a.JID) != 0 {
				if time.Now().After(deadline) {
					b.Fatalf("WhatsApp still holds %d unconfirmed messages of %s", srv.Pending(a.JID), a.Name)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		b.ReportMetric(float64(last.Milliseconds()), "ms-to-last")
		b.ReportMetric(float64(accounts*contacts)/last.Seconds(), "msgs/s")
		b.ReportMetric(float64(before.heap)/accounts/1024, "heap-KiB/acct-before")
		b.ReportMetric(float64(after.heap)/accounts/1024, "heap-KiB/acct-after")
		b.ReportMetric(float64(before.rss)/accounts/1024, "rss-KiB/acct-before")
		b.ReportMetric(float64(after.rss)/accounts/1024, "rss-KiB/acct-after")
	}
}

// waitStatusB waits until the account's status passes cond.
func waitStatusB(b *testing.B, svc *services, id core.AccountID, cond func(core.Status) bool) core.Status {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, ok := svc.manager.Status(id); ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			st, _ := svc.manager.Status(id)
			b.Fatalf("%s: %v (%s)", id, st.State, st.Reason)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// memory is the process's live heap and resident set after a full
// collection.
type memory struct{ heap, rss uint64 }

func measureB(b *testing.B) memory {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{heap: ms.HeapAlloc}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Logf("no RSS: %v", err)
		return m
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			if kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
				m.rss = kb * 1024
			}
		}
	}
	return m
}
