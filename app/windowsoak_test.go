package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/store"
)

// TestWindowSoak is `make soak-window`, a measurement, not a pass/fail
// test: it runs a bare Fyne app (testdata/barefyne), Warden's window on the
// demo (its faults and messages off, so what is measured is the window at
// rest) and Warden's window on a fresh data directory with one stopped
// account, each under its own Xvfb, all at once so they share the
// machine's load. After WARDEN_SOAK_WINDOW_IDLE (30s) it reads, over
// WARDEN_SOAK_WINDOW_MEASURE (1m): the resident memory (VmRSS, median of
// samples every 5 s), the CPU used (utime+stime) and, for Warden, the
// garbage made (go_memstats_alloc_bytes_total of --metrics). With
// WARDEN_SOAK_WINDOW_PROFILES=DIR it then writes a heap profile and a 30 s
// CPU profile of each Warden there (the binary is built with the soakpprof
// tag, which serves Go's profiles; releases are built without it).
// WARDEN_SOAK_WINDOW_TAGS adds build tags to Warden's build (say no_emoji),
// to weigh a build option.
func TestWindowSoak(t *testing.T) {
	if os.Getenv("WARDEN_SOAK_WINDOW") == "" {
		t.Skip("a measurement of the idle window; run it with `make soak-window`")
	}
	idle := envDuration(t, "WARDEN_SOAK_WINDOW_IDLE", 30*time.Second)
	measure := envDuration(t, "WARDEN_SOAK_WINDOW_MEASURE", time.Minute)
	profiles := os.Getenv("WARDEN_SOAK_WINDOW_PROFILES")
	tmp := t.TempDir()

	warden, bare := filepath.Join(tmp, "warden"), filepath.Join(tmp, "barefyne")
	for _, b := range []struct{ out, tags, pkg string }{
		{warden, strings.TrimSpace("migrated_fynedo soakpprof " + os.Getenv("WARDEN_SOAK_WINDOW_TAGS")), "."},
		{bare, "migrated_fynedo", "./app/testdata/barefyne"},
	} {
		build := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, b.pkg)
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", b.pkg, err, out)
		}
	}

	oneDir := filepath.Join(tmp, "one")
	dbPath, _ := store.Paths(oneDir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAccount(context.Background(), core.Account{ID: "a1", Name: "Shop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	procs := []*soakProc{
		{name: "bare Fyne app", bin: bare},
		{name: "Warden --demo (quiet)", bin: warden, metrics: freeAddr(t), pprof: freeAddr(t),
			env: []string{"WARDEN_DEMO_FAULT_EVERY=1000h", "WARDEN_DEMO_MESSAGE_EVERY=1000h"}},
		{name: "Warden, one stopped account", bin: warden, metrics: freeAddr(t), pprof: freeAddr(t),
			args: []string{"--data-dir", oneDir}},
	}
	procs[1].args = []string{"--demo", "--metrics", procs[1].metrics}
	procs[2].args = append(procs[2].args, "--metrics", procs[2].metrics)
	for i, p := range procs {
		home := filepath.Join(tmp, fmt.Sprint("home", i))
		if err := os.MkdirAll(home, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(p.bin, p.args...)
		cmd.Env = append(os.Environ(), "DISPLAY="+xvfb(t), "HOME="+home, "XDG_CONFIG_HOME="+home,
			"XDG_CACHE_HOME="+home, "XDG_DATA_HOME="+home, "DBUS_SESSION_BUS_ADDRESS=disabled:")
		if p.pprof != "" {
			cmd.Env = append(cmd.Env, "WARDEN_PPROF="+p.pprof)
		}
		log, err := os.Create(filepath.Join(tmp, fmt.Sprint("log", i)))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		p.pid = cmd.Process.Pid
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
	}

	time.Sleep(idle) // the measurement's settling time, not a wait for a condition
	load0 := loadAvg()
	for _, p := range procs {
		p.cpu0 = cpuTicks(t, p.pid)
		p.alloc0 = scrapeAlloc(t, p.metrics)
	}
	began := time.Now()
	for time.Since(began) < measure {
		for _, p := range procs {
			p.rss = append(p.rss, rssKB(t, p.pid))
		}
		time.Sleep(5 * time.Second)
	}
	took := time.Since(began).Seconds()
	load1 := loadAvg()
	t.Logf("idle %v, measured over %.0fs; load average %s at the start, %s at the end", idle, took, load0, load1)
	bareRSS := 0.0
	for i, p := range procs {
		rss := medianF(p.rss) / 1024
		if i == 0 {
			bareRSS = rss
		}
		cpu := float64(cpuTicks(t, p.pid)-p.cpu0) / clockTicks / took * 100
		line := fmt.Sprintf("%-28s RSS %6.1f MB (%.2f× bare, max %.1f)  CPU %5.2f %% of a core", p.name, rss, rss/bareRSS, slices.Max(p.rss)/1024, cpu)
		if p.metrics != "" {
			garbage := (scrapeAlloc(t, p.metrics) - p.alloc0) / took / (1 << 20)
			line += fmt.Sprintf("  garbage %.3f MiB/s", garbage)
		}
		t.Log(line)
	}

	if profiles == "" {
		return
	}
	if err := os.MkdirAll(profiles, 0o755); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, p := range procs {
		if p.pprof == "" {
			continue
		}
		for kind, path := range map[string]string{"heap": "/debug/pprof/heap?gc=1", "cpu": "/debug/pprof/profile?seconds=30"} {
			wg.Go(func() {
				out := filepath.Join(profiles, fmt.Sprintf("%d-%s.pprof", i, kind))
				if err := fetchTo("http://"+p.pprof+path, out); err != nil {
					t.Errorf("%s's %s profile: %v", p.name, kind, err)
					return
				}
				t.Logf("%s: %s profile in %s", p.name, kind, out)
			})
		}
	}
	wg.Wait()
}

// soakProc is one process of the window soak.
type soakProc struct {
	name, bin      string
	args, env      []string
	metrics, pprof string // addresses, Warden only
	pid            int
	cpu0           int64
	alloc0         float64
	rss            []float64 // kB
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc (100 on Linux).
const clockTicks = 100

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration like 30s", name, s)
	}
	return d
}

// cpuTicks is the CPU time pid used so far, user and system, in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("process %d is gone: %v", pid, err)
	}
	// The fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th of the line, the 12th and 13th after ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// rssKB is pid's resident memory in kB.
func rssKB(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("process %d is gone: %v", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb
		}
	}
	t.Fatalf("no VmRSS for process %d", pid)
	return 0
}

func scrapeAlloc(t *testing.T, addr string) float64 {
	if addr == "" {
		return 0
	}
	m, err := scrape(addr)
	if err != nil {
		t.Fatalf("metrics of %s: %v", addr, err)
	}
	v, ok := m["go_memstats_alloc_bytes_total"]
	if !ok {
		t.Fatalf("metrics of %s: no go_memstats_alloc_bytes_total", addr)
	}
	return v
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func medianF(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func fetchTo(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
