package outbox_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
	"warden/core/outbox"
)

// crashChildEnv, when set, makes TestKilledWardenRedelivers the child: a
// Warden on the store at that path whose accounts receive messages until it
// is killed.
const crashChildEnv = "WARDEN_OUTBOX_CRASH_CHILD"

var crashAccounts = []string{"alfa", "bravo", "charlie"}

// A Warden killed with SIGKILL while it receives and delivers loses no
// event: after the restart, the receiver gets every message WhatsApp was
// told was delivered, in order per account, each under its one ID.
func TestKilledWardenRedelivers(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild(t)
		return
	}
	rc := newReceiver(t)
	// Every fifth message stalls at its first attempt: some are in flight
	// when the kill comes.
	rc.setAnswer(func(ev outbox.Event, n int) int {
		if n == 0 && (strings.HasSuffix(ev.ID, "0") || strings.HasSuffix(ev.ID, "5")) {
			return 0
		}
		return http.StatusOK
	})
	r := newRig(t, fastRetries())
	rc.register(r, outbox.TypeMessageReceived)
	r.close()

	acked := crashRun(t, r.path, 60)
	r.open()
	for acct, n := range acked {
		for seq := uint64(1); seq <= n; seq++ {
			id := outbox.MessageEventID(acct, seq)
			waitFor(t, id+" delivered", func() bool {
				for _, ev := range rc.taken() {
					if ev.ID == id {
						return true
					}
				}
				return false
			})
		}
	}
	firsts := map[core.AccountID][]string{}
	seen := map[string]bool{}
	for _, ev := range rc.taken() {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			firsts[ev.Account] = append(firsts[ev.Account], ev.ID)
		}
	}
	for acct, ids := range firsts {
		for i, id := range ids {
			if want := outbox.MessageEventID(acct, uint64(i+1)); id != want {
				t.Fatalf("%s's events arrived first as %v: %s where %s was due", acct, ids, id, want)
			}
		}
	}
	rc.checkSigned()
	t.Logf("%d messages acknowledged before the kill, all delivered (%d in all, %d requests)", sum(acked), len(seen), len(rc.all()))
}

func sum(acked map[core.AccountID]uint64) (n uint64) {
	for _, v := range acked {
		n += v
	}
	return n
}

// crashRun runs the child on the store at path, kills it once it reported
// at least n acknowledged messages, and returns how many each account had.
func crashRun(t *testing.T, path string, n int) map[core.AccountID]uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWardenRedelivers$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[core.AccountID]uint64{}
	enough := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		total := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue // the test framework's output
			}
			seq, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				continue
			}
			acked[core.AccountID(f[0])] = seq
			if total++; total == n {
				close(enough)
			}
		}
	}()
	select {
	case <-enough:
	case <-done:
		cmd.Wait()
		t.Fatal("the child ended before it received enough")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	<-done // the pipe still holds every line written before the kill
	cmd.Wait()
	return acked
}

// crashChild is the killed Warden: its accounts receive messages, and it
// prints "<account> <seq>" for each the Manager acknowledged.
func crashChild(t *testing.T) {
	r := &rig{t: t, path: os.Getenv(crashChildEnv), cfg: fastRetries(), d: coretest.NewDialer()}
	r.open()
	var ids []core.AccountID
	for _, name := range crashAccounts {
		ids = append(ids, r.paired(name))
	}
	r.startManager()
	var mu sync.Mutex // one line per write
	var wg sync.WaitGroup
	for _, id := range ids {
		r.waitState(id, core.Connected)
		wg.Go(func() {
			for seq := uint64(1); ; seq++ {
				msg := core.Message{ID: fmt.Sprintf("M%d", seq), Chat: "447700900123@s.whatsapp.net",
					Sender: "447700900123@s.whatsapp.net", Kind: core.KindText, Text: "crash", At: time.Now()}
				if err := r.d.Last(id).Receive(msg); err != nil {
					fmt.Fprintln(os.Stderr, "child:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("%s %d\n", id, seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
