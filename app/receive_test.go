package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"warden/core"
	"warden/core/fakewa"
)

// A message is stored before WhatsApp hears it was delivered, so a crash
// at any point of its way in loses nothing and stores nothing twice.
// Warden runs as a process of its own (the fleet tests' node process, run
// alone) and is killed with SIGKILL in the middle of taking a message in:
// right after whatsmeow decrypted it, before it was stored; and right after
// it was stored, before the delivery receipt went out. The next start gets
// the message again from WhatsApp, which kept it, and it is stored once.

// envNodeCrash makes the node process kill itself on the first incoming
// message: "before" it is stored, or "after".
const envNodeCrash = "WARDEN_TEST_NODE_CRASH"

// crashInbox is an inbox that kills its process on the first message.
type crashInbox struct {
	core.Inbox
	after bool
}

func (c crashInbox) PutMessage(ctx context.Context, m core.Message) (core.Message, bool, error) {
	if !c.after {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	stored, dup, err := c.Inbox.PutMessage(ctx, m)
	if err == nil {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return stored, dup, err
}

// crashWrap returns the node process's inbox wrapper for envNodeCrash.
func crashWrap(mode string) func(core.Inbox) core.Inbox {
	if mode != "before" && mode != "after" {
		return nil
	}
	return func(in core.Inbox) core.Inbox { return crashInbox{Inbox: in, after: mode == "after"} }
}

func TestCrashWhileReceivingLosesNothing(t *testing.T) {
	for _, when := range []string{"before", "after"} {
		t.Run("killed "+when+" storing", func(t *testing.T) {
			srv := fakeServer(t, 170)
			const contact = "447700900123"
			if err := srv.AddContact(contact, 1); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			id, jid := pairAlone(t, srv, dir)
			phone := strings.SplitN(jid, ".", 2)[0]
			phone = strings.SplitN(phone, ":", 2)[0]
			phone = strings.SplitN(phone, "@", 2)[0]

			// Warden runs as its own process, and dies on the message.
			proc := startWarden(t, srv, dir, when)
			waitFor(t, 30*time.Second, func() bool { return srv.LoggedIn(jid) == 1 })
			msgID, err := srv.SendText(contact, phone, "do not lose me")
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-proc.exited:
				err := proc.err
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("Warden ended with %v, want killed by SIGKILL", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("Warden was not killed by the incoming message")
			}
			if n := srv.Pending(jid); n != 1 {
				t.Fatalf("after the crash WhatsApp holds %d unconfirmed messages, want 1", n)
			}

			// The next start: WhatsApp delivers the message again.
			svc, err := start(flags{dataDir: dir, httpClient: srv.HTTPClient()}, new(slog.LevelVar), slog.DiscardHandler)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.begin(flags{}); err != nil {
				t.Fatal(err)
			}
			defer closeServices(t, svc)
			waitFor(t, 30*time.Second, func() bool { return srv.Pending(jid) == 0 })
			msgs, err := svc.db.Messages(context.Background(), id, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0].ID != msgID || msgs[0].Text != "do not lose me" || msgs[0].Sender != contact+"@s.whatsapp.net" {
				t.Fatalf("stored after the restart: %+v; want the message once", msgs)
			}
		})
	}
}

// pairAlone pairs one account in the data directory dir, with Warden in
// this process, and stops it.
func pairAlone(t *testing.T, srv *fakewa.Server, dir string) (core.AccountID, string) {
	t.Helper()
	svc, err := start(flags{dataDir: dir, httpClient: srv.HTTPClient()}, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.begin(flags{}); err != nil {
		t.Fatal(err)
	}
	acct, err := svc.manager.Add(context.Background(), "Receiver")
	if err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, svc, acct.ID, "a QR code", func(st core.Status) bool { return st.QRCode != "" })
	jid, err := srv.ScanQR(st.QRCode)
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, svc, acct.ID, "Connected", func(st core.Status) bool { return st.State == core.Connected })
	closeServices(t, svc)
	return acct.ID, jid
}

func closeServices(t *testing.T, svc *services) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.close(ctx); err != nil {
		t.Fatal(err)
	}
}

// wardenProc is a Warden process; err says how it ended once exited is
// closed.
type wardenProc struct {
	exited chan struct{}
	err    error
}

// startWarden runs `warden --headless --data-dir dir` as a process of its
// own, with the crash mode crash.
func startWarden(t *testing.T, srv *fakewa.Server, dir, crash string) *wardenProc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), "warden.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetNodeProcess$")
	cmd.Env = append(os.Environ(), envNodeArgs+"="+strings.Join([]string{"--headless", "--data-dir", dir}, "\n"),
		envNodeFakeWA+"="+srv.Addr(), envNodeParent+"="+strconv.Itoa(os.Getpid()), envNodeCrash+"="+crash)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &wardenProc{exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		logf.Close()
		if t.Failed() {
			t.Logf("Warden's log:\n%s", tail(logf.Name(), 40))
		}
	})
	return p
}
