package cluster

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

const simTTL = 2 * time.Second

// settle lets the fleet run for d of virtual time.
func settle(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// checkDevices fails the test if any device ever had two sessions at once.
func checkDevices(t *testing.T, sm *sim, when string) {
	t.Helper()
	if n := sm.d.MaxOpenAnyDevice(); n > 1 {
		t.Fatalf("%s: a device had %d sessions open at once", when, n)
	}
	if n := sm.d.MaxOpenAny(); n > 1 {
		t.Fatalf("%s: an account had %d sessions open at once", when, n)
	}
}

// A Connect pressed again and again on the node that hands an account over
// never dials it there: the account leaves what the node may run before its
// session closes, and the target alone runs it afterwards.
func TestHandoverShutsTheGateFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sm := newSim(simTTL)
		id := sm.account(0)
		a := sm.start("a")
		settle(2 * time.Second)
		b := sm.start("b")
		defer sm.stopAll()
		settle(2 * time.Second)
		if st, _ := a.m.Status(id); st.State != core.Connected {
			t.Fatalf("a: %v (%s), want Connected", st.State, st.Reason)
		}
		sm.d.Lock()
		sm.d.CloseDelay = 150 * time.Millisecond // a polite goodbye
		sm.d.Unlock()

		ctx, stop := context.WithCancel(context.Background())
		hammered := make(chan int)
		go func() { // the operator presses Connect on a all along
			n := 0
			defer func() { hammered <- n }()
			for ctx.Err() == nil {
				_ = a.m.Connect(ctx, id)
				n++
				time.Sleep(time.Millisecond)
			}
		}()
		err := a.fleet.giveTo(context.Background(), id, "b", func(ctx context.Context) error { return b.fleet.take(ctx, id) })
		if err != nil {
			t.Fatalf("move: %v", err)
		}
		settle(3 * simTTL)
		stop()
		t.Logf("Connect pressed %d times on a during and after the move", <-hammered)
		checkDevices(t, sm, "Connect pressed during a move")
		if st, _ := b.m.Status(id); st.State != core.Connected {
			t.Errorf("b: %v (%s), want Connected", st.State, st.Reason)
		}
		if st, _ := a.m.Status(id); st.State != core.Idle {
			t.Errorf("a: %v (%s), want Idle", st.State, st.Reason)
		}
	})
}

// The fence closes every session at once, however many: with a polite
// close of 150 ms each, 40 accounts are closed well before anyone may take
// them over, and a close that never ends is torn down within half the
// margin.
func TestFenceClosesEverySessionAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		accounts int
		close    time.Duration
	}{
		{"12 accounts, 150ms close", 12, 150 * time.Millisecond},
		{"40 accounts, 150ms close", 40, 150 * time.Millisecond},
		{"10 accounts, close never answered", 10, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sm := newSim(simTTL)
				for i := range tc.accounts {
					sm.account(i)
				}
				a := sm.start("a")
				settle(3 * time.Second)
				b := sm.start("b")
				defer sm.stopAll()
				settle(time.Second)
				ran := len(a.m.Running())
				if ran < tc.accounts/2 {
					t.Fatalf("a runs %d accounts of %d", ran, tc.accounts)
				}
				sm.d.Lock()
				sm.d.CloseDelay = tc.close
				sm.d.Unlock()

				sm.table.setCut("a", true)
				<-a.node.Lost()
				lost := time.Now()
				for len(a.m.Running()) > 0 {
					time.Sleep(time.Millisecond)
				}
				closed := time.Since(lost)
				t.Logf("fence → last of %d sessions closed: %v (margin %v)", ran, closed, a.node.Margin())
				if closed > a.node.Margin() {
					t.Errorf("the last session closed %v after the fence, beyond the margin %v", closed, a.node.Margin())
				}
				settle(4 * simTTL)
				checkDevices(t, sm, "after the fence")
				if n := len(b.m.Running()); n != tc.accounts {
					t.Errorf("b runs %d accounts after the takeover, want %d", n, tc.accounts)
				}
				// Healed, a rejoins and takes its share back, one at a time.
				sm.table.setCut("a", false)
				settle(10 * simTTL)
				checkDevices(t, sm, "after a rejoined")
				if n := len(a.m.Running()); n == 0 {
					t.Error("a took nothing back after it rejoined")
				}
			})
		})
	}
}

// One WhatsApp device held by two accounts (imported on two nodes within
// one round) runs on one node only: ownership is by device too.
func TestOneDeviceTwoAccountsTwoNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sm := newSim(simTTL)
		jid := "15550009999.0:1@s.whatsapp.net"
		sm.d.AddDevice(jid)
		for _, id := range []core.AccountID{"acct-x", "acct-y"} {
			if err := sm.s.PutAccount(context.Background(), core.Account{ID: id, Name: string(id), JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 4 {
			sm.account(i)
		}
		sm.start("a")
		sm.start("b")
		defer sm.stopAll()
		settle(10 * simTTL)
		checkDevices(t, sm, "two accounts of one device")
		c := sm.connected()
		if c["acct-x"]+c["acct-y"] != 1 {
			t.Errorf("%d sessions of the device Connected, want 1", c["acct-x"]+c["acct-y"])
		}
		// Kill whichever runs it: the other account may take the device
		// only after the owner's lease is waited out.
		owner := sm.table.snapshot()
		for _, acct := range []string{"acct-x", "acct-y"} {
			if o, ok := owner[acct]; ok {
				sm.kill(o.Node)
				break
			}
		}
		settle(10 * simTTL)
		checkDevices(t, sm, "after the device's node was killed")
	})
}

// Ownership is by device on the table: a second account cannot claim a
// device another account holds, whichever node asks.
func TestAcquireRefusesAHeldDevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		table := newMemTable()
		a, err := Join(context.Background(), Config{Table: table.view("a"), Name: "a", TTL: simTTL})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Join(context.Background(), Config{Table: table.view("b"), Name: "b", TTL: simTTL})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close(context.Background())
		defer b.Close(context.Background())
		ctx := context.Background()
		dev := "15551234567:3@s.whatsapp.net"
		token, err := a.Acquire(ctx, "acct-x", dev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Acquire(ctx, "acct-y", dev); !errors.Is(err, ErrDeviceOwned) {
			t.Errorf("b acquiring another account of a held device: %v, want ErrDeviceOwned", err)
		}
		if _, err := a.Acquire(ctx, "acct-y", dev); !errors.Is(err, ErrDeviceOwned) {
			t.Errorf("a acquiring another account of its own held device: %v, want ErrDeviceOwned", err)
		}
		if err := a.Release(ctx, "acct-x", token); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Acquire(ctx, "acct-y", dev); err != nil {
			t.Errorf("after a clean release: %v", err)
		}
	})
}
