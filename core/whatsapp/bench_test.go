package whatsapp_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"warden/core"
	"warden/core/fakewa"
)

// BenchmarkReconnectAfterDrop measures how long Warden takes from a socket
// the server dropped to Connected again, minus the policy's delay: the time
// spent noticing the drop, closing, dialling and logging in. It reports the
// median. The target is under 50 ms on loopback.
func BenchmarkReconnectAfterDrop(b *testing.B) {
	defaultKeepAlive(b)
	p := testPolicy()
	p.Schedule = []core.Backoff{{UpTo: 1, Delay: time.Millisecond}}
	p.Jitter = 0
	r := newRig(b, 300, p)
	acct := r.add("Bench")
	updates, cancel := r.m.Subscribe()
	defer cancel()

	var samples []time.Duration
	for b.Loop() {
		epoch := r.status(acct.ID).Epoch
		start := time.Now()
		r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
		timeout := time.After(wait)
	waiting:
		for {
			select {
			case st := <-updates:
				if st.Account.ID == acct.ID && st.State == core.Connected && st.Epoch > epoch {
					break waiting
				}
			case <-timeout:
				b.Fatalf("not Connected again within %v; timeline:\n%s", wait, r.timeline(acct.ID))
			}
		}
		samples = append(samples, time.Since(start)-p.Delay(1))
	}
	slices.Sort(samples)
	median := samples[len(samples)/2]
	b.ReportMetric(float64(median.Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(samples[len(samples)*9/10].Microseconds())/1000, "ms-p90")
	r.oneClient(acct.JID)
}

// memory is a snapshot of the process's memory after a full collection.
type memory struct {
	heap       uint64 // bytes of live heap
	rss        uint64 // bytes resident, from the kernel
	goroutines int
}

func measure(b *testing.B) memory {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memory{heap: ms.HeapAlloc, rss: rss(b), goroutines: runtime.NumGoroutine()}
}

// rss reads the resident set size of this process (Linux).
func rss(b *testing.B) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Logf("no RSS: %v", err)
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// perAccount is the growth from base to m, per account, in KiB.
func perAccount(base, m memory, n int) (heap, rss float64, goroutines float64) {
	return float64(int64(m.heap)-int64(base.heap)) / float64(n) / 1024,
		float64(int64(m.rss)-int64(base.rss)) / float64(n) / 1024,
		float64(m.goroutines-base.goroutines) / float64(n)
}

// BenchmarkMemoryPerAccount connects 200 accounts to fakewa through Warden
// (Manager, Dialer, sessions), then the same 200 devices as bare whatsmeow
// clients, and reports the heap and RSS each costs per connected account.
// Both figures include fakewa's side of each socket, which is the same for
// both. The target is a Warden overhead under 10 %.
func BenchmarkMemoryPerAccount(b *testing.B) {
	defaultKeepAlive(b)
	const n = 200
	p := testPolicy()
	p.StartSpread = 5 * time.Millisecond
	r := newRig(b, 301, p)
	accts := make([]core.Account, n)
	for i := range accts {
		accts[i] = r.add(fmt.Sprintf("Mem %03d", i))
	}
	r.closeManager()
	waitUntil(b, "every socket is closed", func() bool { return r.srv.LiveSockets() == 0 })

	// The bare clients read the same device store.
	container, err := sqlstore.New(context.Background(), "sqlite",
		"file:"+r.path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer container.Close()

	runWarden := func() (base, after memory) {
		// A Manager starts every account again.
		base = measure(b)
		r.start()
		for _, acct := range accts {
			r.waitState(acct.ID, core.Connected, func(core.Status) bool { return r.srv.LoggedIn(acct.JID) == 1 })
		}
		time.Sleep(time.Second) // let post-login work (prekey checks) settle
		after = measure(b)
		r.closeManager()
		waitUntil(b, "every socket is closed", func() bool { return r.srv.LiveSockets() == 0 })
		return base, after
	}
	runBare := func() (base, after memory) {
		// Bare whatsmeow clients, with auto-reconnect off as Warden sets it.
		base = measure(b)
		clients := make([]*whatsmeow.Client, 0, n)
		connected := make(chan struct{}, n)
		for _, acct := range accts {
			jid, err := types.ParseJID(acct.JID)
			if err != nil {
				b.Fatal(err)
			}
			dev, err := container.GetDevice(context.Background(), jid)
			if err != nil || dev == nil {
				b.Fatalf("GetDevice(%s) = %v, %v", jid, dev, err)
			}
			cli := whatsmeow.NewClient(dev, nil)
			cli.EnableAutoReconnect = false
			cli.SetPreLoginHTTPClient(r.srv.HTTPClient())
			cli.SetWebsocketHTTPClient(r.srv.HTTPClient())
			cli.AddEventHandler(func(evt any) {
				if _, ok := evt.(*events.Connected); ok {
					connected <- struct{}{}
				}
			})
			if err := cli.Connect(); err != nil {
				b.Fatalf("bare Connect: %v", err)
			}
			clients = append(clients, cli)
		}
		for range n {
			select {
			case <-connected:
			case <-time.After(wait):
				b.Fatal("bare clients did not all connect")
			}
		}
		time.Sleep(time.Second)
		after = measure(b)
		for _, cli := range clients {
			cli.Disconnect()
		}
		waitUntil(b, "every bare socket is closed", func() bool { return r.srv.LiveSockets() == 0 })
		return base, after
	}

	for b.Loop() {
		// Bare first: Warden is measured second, on a heap the bare run
		// has already grown and fragmented, which if anything counts
		// against it.
		bareBase, bare := runBare()
		wardenBase, warden := runWarden()
		wh, wr, wg := perAccount(wardenBase, warden, n)
		bh, br, bg := perAccount(bareBase, bare, n)
		b.ReportMetric(wh, "warden-heap-KiB/acct")
		b.ReportMetric(bh, "bare-heap-KiB/acct")
		b.ReportMetric(wr, "warden-rss-KiB/acct")
		b.ReportMetric(br, "bare-rss-KiB/acct")
		b.ReportMetric(wg, "warden-goroutines/acct")
		b.ReportMetric(bg, "bare-goroutines/acct")
		b.ReportMetric(100*(wh-bh)/bh, "heap-overhead-%")
		b.ReportMetric(100*(wr-br)/br, "rss-overhead-%")
	}
	for _, acct := range accts {
		r.oneClient(acct.JID)
	}
}
