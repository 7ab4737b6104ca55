package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
)

// crashChildEnv, when set, makes TestCrashLosesNoCommittedEvent (or
// TestCrashLosesNoCommittedMessage) the child: it appends to the store at that
// path until it is killed.
const crashChildEnv = "WARDEN_STORE_CRASH_CHILD"

var crashAccounts = []core.AccountID{"a", "b", "c", "d"}

// The child appends events in a loop, from one goroutine per account, and
// prints "<account> <seq>" for each append that returned nil. The parent kills
// it with SIGKILL at a random moment, reopens the file and checks that every
// reported event is there and that no account's sequence has a hole.
func TestCrashLosesNoCommittedEvent(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), DBFile)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for round := range 3 {
		reported := crashRound(t, "TestCrashLosesNoCommittedEvent", path, 50*time.Millisecond+time.Duration(rng.Int64N(int64(250*time.Millisecond))), round == 0)
		db, err := Open(path, WithLogger(discard))
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		total := 0
		for _, id := range crashAccounts {
			evs, err := db.Events(context.Background(), id, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			stored := make(map[uint64]bool, len(evs))
			for i, ev := range evs {
				if ev.Seq != uint64(i+1) {
					t.Fatalf("round %d: %s: event %d has seq %d: a hole in the sequence", round, id, i, ev.Seq)
				}
				stored[ev.Seq] = true
			}
			for _, seq := range reported[id] {
				if !stored[seq] {
					t.Errorf("round %d: %s: seq %d was reported committed but is missing", round, id, seq)
				}
			}
			total += len(reported[id])
		}
		db.Close()
		if total == 0 {
			t.Fatalf("round %d: the child reported no committed event", round)
		}
		t.Logf("round %d: %d events reported committed, all present", round, total)
	}
}

// crashRound runs test as the child, kills it after it has appended for d,
// and returns what it reported. With checkLock, it first checks that the
// child's lock keeps a second Open out (with the default timeout).
func crashRound(t *testing.T, test, path string, d time.Duration, checkLock bool) map[core.AccountID][]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := make(map[core.AccountID][]uint64)
	appending := make(chan struct{}) // closed at the first reported event
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue // not ours (test framework output)
			}
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				continue
			}
			if len(reported) == 0 {
				close(appending)
			}
			reported[core.AccountID(f[0])] = append(reported[core.AccountID(f[0])], seq)
		}
	}()
	select {
	case <-appending:
	case <-done:
		cmd.Wait()
		t.Fatal("the child ended before appending")
	}
	if checkLock {
		db, err := Open(path, WithLogger(discard))
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, ErrLocked) {
			cmd.Process.Kill()
			t.Fatalf("Open while another process has the store = %v, want ErrLocked", err)
		}
	}
	time.Sleep(d)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	<-done // the pipe still holds every line written before the kill
	cmd.Wait()
	return reported
}

func crashChild(path string) {
	db, err := Open(path, WithLogger(discard))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex // one line per write
	var wg sync.WaitGroup
	for _, id := range crashAccounts {
		if err := db.PutAccount(ctx, core.Account{ID: id, Name: string(id)}); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		last, err := db.Events(ctx, id, 1)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		seq := uint64(0)
		if len(last) == 1 {
			seq = last[0].Seq
		}
		wg.Go(func() {
			for {
				seq++
				ev := core.Event{Seq: seq, Account: id, At: time.Now(), From: core.Waiting, To: core.Connecting, Cause: core.CauseTimer}
				if err := db.AppendEvents(ctx, ev); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s %d\n", id, seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
