package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"warden/core"
	"warden/core/fakewa"
)

// The fleet's soak, `make soak-cluster`: three node processes over 60
// accounts for 5 minutes (WARDEN_SOAK_DURATION changes it), the fake
// server's recoverable faults all along, and one disruption after another,
// at random: a node killed (SIGKILL) and started again, sometimes before its
// accounts were taken over; a node stopped cleanly (SIGTERM) and started
// again; a node cut off from etcd, then reconnected. Every poll checks that
// no device ever had two clients at once; at the end every account must be
// logged in exactly once. Before the disruptions, a minute at idle measures
// what cluster mode costs against single mode. The figures are logged.
func TestFleetSoak(t *testing.T) {
	if os.Getenv("WARDEN_SOAK_CLUSTER") != "1" {
		t.Skip("the fleet's soak runs for 5 minutes: run it with `make soak-cluster` " +
			"(WARDEN_SOAK_CLUSTER=1; WARDEN_SOAK_DURATION=10m changes its length)")
	}
	duration := 5 * time.Minute
	if s := os.Getenv("WARDEN_SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("WARDEN_SOAK_DURATION=%q: want a duration such as 5m", s)
		}
		duration = d
	}
	fleet := []string{"a", "b", "c"}
	r := newFleetRig(t, 3, 60)
	r.metrics = true
	r.startFleet(t, fleet...)
	single := r.startSingle(t, 20)
	r.measureIdle(t, fleet, single, time.Minute)
	if err := r.stop(t, single.name); err != nil {
		t.Error(err)
	}

	kinds := []fakewa.FaultKind{fakewa.FaultRestart, fakewa.FaultStream503, fakewa.FaultDrop,
		fakewa.FaultStall, fakewa.FaultFail402, fakewa.FaultFail500}
	r.srv.StartChaos(111, 3*time.Second, kinds...)
	rng := rand.New(rand.NewPCG(111, 11))
	before := r.logins()
	// The last of a node's accounts back, per event; and each account.
	var killed, stopped, cutTaken, cutClosed, healed, rebalanced durations
	var killedEach, stoppedEach, cutEach durations
	since := func(at time.Time, each []time.Time) (out durations) {
		for _, e := range each {
			out = append(out, e.Sub(at))
		}
		return out
	}
	var unclean []error
	began := time.Now()
	for time.Since(began) < duration {
		victim := fleet[rng.IntN(len(fleet))]
		pause := func() { time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Second)))) }
		switch rng.IntN(3) {
		case 0: // a crash
			accts, was := r.ownedBy(t, victim), r.logins()
			at := time.Now()
			r.kill(t, victim)
			early := rng.IntN(3) == 0 // started again while its orphans wait
			if early {
				pause()
				r.start(t, victim)
			}
			_, back, each := r.back(t, accts, was, time.Minute)
			killed, killedEach = append(killed, back.Sub(at)), append(killedEach, since(at, each)...)
			t.Logf("%v: node %s killed with %d accounts (started again before the takeover: %v): back after %v",
				ms(time.Since(began)), victim, len(accts), early, ms(back.Sub(at)))
			if !early {
				pause()
				joined := r.start(t, victim)
				rebalanced = append(rebalanced, r.spread(t, fleet).Sub(joined))
			}
		case 1: // a clean stop
			accts, was := r.ownedBy(t, victim), r.logins()
			at := time.Now()
			if err := r.stop(t, victim); err != nil {
				unclean = append(unclean, err)
			}
			_, back, each := r.back(t, accts, was, time.Minute)
			stopped, stoppedEach = append(stopped, back.Sub(at)), append(stoppedEach, since(at, each)...)
			t.Logf("%v: node %s stopped with %d accounts: back after %v", ms(time.Since(began)), victim, len(accts), ms(back.Sub(at)))
			pause()
			joined := r.start(t, victim)
			rebalanced = append(rebalanced, r.spread(t, fleet).Sub(joined))
		case 2: // a partition
			accts, was := r.ownedBy(t, victim), r.logins()
			at := time.Now()
			r.cut(victim)
			closed, back, each := r.back(t, accts, was, time.Minute)
			cutClosed, cutTaken = append(cutClosed, closed.Sub(at)), append(cutTaken, back.Sub(at))
			cutEach = append(cutEach, since(at, each)...)
			pause()
			heal := time.Now()
			r.heal(victim)
			healed = append(healed, r.spread(t, fleet).Sub(heal))
			t.Logf("%v: node %s cut off with %d accounts: its sessions closed by %v, back on the others after %v; healed: spread again after %v",
				ms(time.Since(began)), victim, len(accts), ms(closed.Sub(at)), ms(back.Sub(at)), ms(healed[len(healed)-1]))
		}
		r.spread(t, fleet)
	}
	r.srv.StopChaos()
	calm := time.Now()
	end := r.waitStable(t, "every account logged in once, the accounts spread", 3*time.Minute, 3*rigTTL,
		func() error { return r.settled(fleet, true) })
	if err := r.oneClient(); err != nil {
		t.Error(err)
	}
	t.Logf("soak: %v of disruptions with faults every 1.5–4.5 s, then settled %v after the faults stopped; "+
		"%d logins over 60 accounts; never two clients logged in at once for a device",
		ms(duration), ms(end.Sub(calm)), r.loginsSince(before))
	t.Logf("takeover after SIGKILL: the node's last account back %v; each account %v", killed, killedEach)
	t.Logf("takeover after a clean stop: the node's last account back %v; each account %v", stopped, stoppedEach)
	t.Logf("partition: the cut-off node's sessions closed by %v; its last account back on the others %v, each account %v; "+
		"after the heal, spread again %v", cutClosed, cutTaken, cutEach, healed)
	t.Logf("rebalance, a node (re)joins → the accounts spread to the fair share: %v", rebalanced)
	if len(unclean) > 0 {
		t.Errorf("%d of %d clean stops did not exit cleanly; the first: %v", len(unclean), len(stopped), unclean[0])
	}
}

// spread waits until every account runs once, spread over names, and
// returns when they were.
func (r *fleetRig) spread(t *testing.T, names []string) time.Time {
	t.Helper()
	return r.waitFor(t, "every account once, spread over "+strings.Join(names, ", "), 2*time.Minute,
		func() error { return r.settled(names, true) })
}

// startSingle pairs n more accounts in a data directory of their own, as a
// single-mode Warden (bbolt, SQLite), then runs them there in a node process
// of its own, `warden --headless --data-dir DIR --metrics ADDR`.
func (r *fleetRig) startSingle(t *testing.T, n int) *nodeProc {
	t.Helper()
	dir := filepath.Join(r.dir, "single")
	svc, err := start(flags{dataDir: dir, httpClient: r.srv.HTTPClient()}, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.begin(flags{}); err != nil {
		t.Fatal(err)
	}
	var jids []string
	for i := range n {
		acct, err := svc.manager.Add(context.Background(), fmt.Sprintf("Single %02d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		st := waitStatus(t, svc, acct.ID, "a QR code", func(st core.Status) bool { return st.QRCode != "" })
		jid, err := r.srv.ScanQR(st.QRCode)
		if err != nil {
			t.Fatal(err)
		}
		waitStatus(t, svc, acct.ID, "Connected", func(st core.Status) bool { return st.State == core.Connected })
		jids = append(jids, jid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.close(ctx); err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{name: "single", log: filepath.Join(r.dir, "single.log"), metrics: freeAddr(t)}
	r.nodes[p.name] = p
	r.names = append(r.names, p.name)
	r.spawn(t, p, []string{"--headless", "--data-dir", dir, "--metrics", p.metrics})
	r.waitFor(t, "the single-mode node's accounts logged in", time.Minute, func() error {
		for _, jid := range jids {
			if n := r.srv.LoggedIn(jid); n != 1 {
				return fmt.Errorf("%s: %d clients logged in", jid, n)
			}
		}
		return nil
	})
	return p
}

// measureIdle logs, over a quiet period, each node's heap and resident memory
// (the median of samples every 5 s) and the etcd requests and PostgreSQL
// transactions of the whole fleet, nothing else touching either meanwhile.
func (r *fleetRig) measureIdle(t *testing.T, fleet []string, single *nodeProc, period time.Duration) {
	t.Helper()
	addrs := map[string]string{single.name: single.metrics}
	for _, name := range fleet {
		addrs[name] = r.nodes[name].metrics
	}
	ctx := context.Background()
	pg, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(ctx)
	transactions := func() int64 {
		var n int64
		if err := pg.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	etcd0, pg0, rev0 := etcdRequests(t), transactions(), r.revision(t)
	samples := map[string]map[string][]float64{}
	began := time.Now()
	for time.Since(began) < period {
		time.Sleep(5 * time.Second)
		for name, addr := range addrs {
			m, err := scrape(addr)
			if err != nil {
				t.Fatalf("node %s's metrics: %v", name, err)
			}
			if samples[name] == nil {
				samples[name] = map[string][]float64{}
			}
			for _, k := range []string{"go_memstats_heap_inuse_bytes", "process_resident_memory_bytes", "go_goroutines"} {
				samples[name][k] = append(samples[name][k], m[k])
			}
		}
		r.check(t)
	}
	elapsed := time.Since(began)
	etcd1, pg1, rev1 := etcdRequests(t), transactions(), r.revision(t)
	perMin := func(n float64) float64 { return n / elapsed.Minutes() }
	median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	var heap, rss, gor float64
	for _, name := range fleet {
		heap += median(samples[name]["go_memstats_heap_inuse_bytes"]) / float64(len(fleet))
		rss += median(samples[name]["process_resident_memory_bytes"]) / float64(len(fleet))
		gor += median(samples[name]["go_goroutines"]) / float64(len(fleet))
	}
	sHeap, sRSS, sGor := median(samples[single.name]["go_memstats_heap_inuse_bytes"]),
		median(samples[single.name]["process_resident_memory_bytes"]), median(samples[single.name]["go_goroutines"])
	const mib = 1 << 20
	t.Logf("idle %v: a fleet node running 20 of the 60 accounts: heap %.1f MiB, RSS %.1f MiB, %.0f goroutines; "+
		"a single-mode Warden running 20: heap %.1f MiB, RSS %.1f MiB, %.0f goroutines; "+
		"cluster mode costs %+.0f KiB heap, %+.0f KiB RSS, %+.1f goroutines per account run",
		ms(elapsed), heap/mib, rss/mib, gor, sHeap/mib, sRSS/mib, sGor, (heap-sHeap)/20/1024, (rss-sRSS)/20/1024, (gor-sGor)/20)
	var total float64
	for _, n := range etcd1 {
		total += n
	}
	for m, n := range etcd0 {
		total -= n
		etcd1[m] -= n
	}
	t.Logf("idle: etcd %.0f requests a minute for 3 nodes and 60 accounts (%.1f a node, %.2f an account), revision +%d (writes); "+
		"PostgreSQL %.0f transactions a minute (%.1f a node, %.2f an account); by etcd method: %v",
		perMin(total), perMin(total)/3, perMin(total)/60, rev1-rev0,
		perMin(float64(pg1-pg0-1)), perMin(float64(pg1-pg0-1))/3, perMin(float64(pg1-pg0-1))/60, perMinute(etcd1, elapsed))
}

// etcdRequests counts the requests and stream messages the embedded etcd
// members received, by method.
func etcdRequests(t *testing.T) map[string]float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "grpc_server_msg_received_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			method := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "grpc_method" {
					method = l.GetValue()
				}
			}
			out[method] += m.GetCounter().GetValue()
		}
	}
	if len(out) == 0 {
		t.Fatal("etcd's gRPC metrics are not registered")
	}
	return out
}

func perMinute(counts map[string]float64, d time.Duration) map[string]int {
	out := map[string]int{}
	for m, n := range counts {
		if n > 0 {
			out[m] = int(n/d.Minutes() + 0.5)
		}
	}
	return out
}

// scrape reads the unlabelled samples of a node's /metrics.
func scrape(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// durations are the figures of one kind of event.
type durations []time.Duration

func (d durations) String() string {
	if len(d) == 0 {
		return "none"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	p95 := s[min(len(s)-1, (len(s)*95+99)/100-1)]
	return fmt.Sprintf("median %v, p95 %v, max %v (n=%d)", ms(s[len(s)/2]), ms(p95), ms(s[len(s)-1]), len(s))
}
