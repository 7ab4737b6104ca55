package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

// The fleet under random operations, many seeds: 3 nodes over 30 accounts,
// with Moves, Connects, Disconnects, Deletes, imports (also of a device
// already in the fleet), kills and restarts, partitions and heals, and slow
// or never-ending closes, all interleaved with the nodes' own rounds. After
// every step no device and no account may ever have had two sessions open
// at once; at the end, healed, every account that should run runs once.
//
// WARDEN_SIM_SEED=N replays one seed; WARDEN_SIM_SEEDS=N runs more.
func TestFleetRandomized(t *testing.T) {
	seeds := []uint64{}
	if s := os.Getenv("WARDEN_SIM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, n)
	} else {
		count := 24
		if s := os.Getenv("WARDEN_SIM_SEEDS"); s != "" {
			count, _ = strconv.Atoi(s)
		}
		for i := range count {
			seeds = append(seeds, uint64(i+1))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runRandomFleet(t, seed) })
			if t.Failed() {
				t.Logf("replay: WARDEN_SIM_SEED=%d go test -tags migrated_fynedo -run 'TestFleetRandomized' ./core/cluster/", seed)
			}
		})
	}
}

func runRandomFleet(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5741524445))
	sm := newSim(simTTL)
	var devices []string
	for i := range 30 {
		id := sm.account(i)
		acct, _ := sm.s.Account(id)
		devices = append(devices, acct.JID)
	}
	names := []string{"a", "b", "c"}
	for _, n := range names {
		sm.start(n)
	}
	var ops sync.WaitGroup // operations that run on while the next step starts
	defer func() {
		ops.Wait()
		sm.stopAll()
	}()
	settle(2 * time.Second)

	alive := func() []*simNode {
		var out []*simNode
		for _, n := range names {
			if sn := sm.nodes[n]; sn != nil {
				out = append(out, sn)
			}
		}
		return out
	}
	accounts := func() []core.AccountID {
		accts, _ := sm.s.Accounts(context.Background())
		var out []core.AccountID
		for _, a := range accts {
			out = append(out, a.ID)
		}
		slices.Sort(out)
		return out
	}
	owner := func(id core.AccountID) *simNode {
		if o, ok := sm.table.snapshot()[string(id)]; ok {
			return sm.nodes[o.Node]
		}
		return nil
	}
	pick := func(ids []core.AccountID) core.AccountID {
		if len(ids) == 0 {
			return ""
		}
		return ids[rng.IntN(len(ids))]
	}
	cut := map[string]bool{}
	imported := 0

	for step := range 80 {
		ids := accounts()
		id := pick(ids)
		nodes := alive()
		var what string
		switch r := rng.IntN(100); {
		case r < 15 && id != "": // Move to another live node
			src, dst := owner(id), nodes[rng.IntN(len(nodes))]
			if src == nil || src == dst {
				what = "move: nothing to move"
				break
			}
			what = fmt.Sprintf("move %s %s→%s", id, src.name, dst.name)
			ops.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*simTTL)
				defer cancel()
				_ = src.fleet.giveTo(ctx, id, dst.name, func(ctx context.Context) error { return dst.fleet.take(ctx, id) })
			})
		case r < 35 && id != "": // Connect on any node, again and again
			sn := nodes[rng.IntN(len(nodes))]
			what = fmt.Sprintf("connect %s on %s", id, sn.name)
			pauses := make([]time.Duration, 1+rng.IntN(5))
			for i := range pauses {
				pauses[i] = time.Duration(rng.IntN(200)) * time.Millisecond
			}
			ops.Go(func() {
				for _, pause := range pauses {
					ctx, cancel := context.WithTimeout(context.Background(), simTTL)
					_ = sn.m.Connect(ctx, id)
					cancel()
					time.Sleep(pause)
				}
			})
		case r < 42 && id != "": // Disconnect where it runs
			if sn := owner(id); sn != nil {
				what = fmt.Sprintf("disconnect %s on %s", id, sn.name)
				ops.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*simTTL)
					defer cancel()
					_ = sn.m.Disconnect(ctx, id)
				})
			}
		case r < 47 && id != "": // Delete where it runs
			if sn := owner(id); sn != nil {
				what = fmt.Sprintf("delete %s on %s", id, sn.name)
				ops.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*simTTL)
					defer cancel()
					_ = sn.fleet.deleteOwned(ctx, id)
				})
			}
		case r < 57: // Import a device, half the time one the fleet has
			sn := nodes[rng.IntN(len(nodes))]
			imported++
			jid := fmt.Sprintf("155590%05d.0:1@s.whatsapp.net", imported)
			if rng.IntN(2) == 0 {
				jid = devices[rng.IntN(len(devices))]
			} else {
				sm.d.AddDevice(jid)
				devices = append(devices, jid)
			}
			nid := core.AccountID(fmt.Sprintf("imp-%02d", imported))
			what = fmt.Sprintf("import %s (%s) on %s", nid, jid, sn.name)
			ops.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), simTTL)
				defer cancel()
				_, _ = sn.m.AddExisting(ctx, core.Account{ID: nid, Name: string(nid), JID: jid, AutoStart: true})
			})
		case r < 64 && len(nodes) > 1: // Kill a node
			sn := nodes[rng.IntN(len(nodes))]
			what = "kill " + sn.name
			sm.kill(sn.name)
			sm.table.setCut(sn.name, false)
			delete(cut, sn.name)
		case r < 70: // Restart a killed node
			for _, n := range names {
				if sm.nodes[n] == nil {
					what = "restart " + n
					sm.start(n)
					break
				}
			}
		case r < 78 && len(nodes) > 1: // Cut a node off from the table
			sn := nodes[rng.IntN(len(nodes))]
			what = "cut " + sn.name
			sm.table.setCut(sn.name, true)
			cut[sn.name] = true
		case r < 86: // Heal
			for n := range cut {
				what = "heal " + n
				sm.table.setCut(n, false)
				delete(cut, n)
				break
			}
		default: // Slow closes: polite, slow, or never answered
			delays := []time.Duration{0, 150 * time.Millisecond, 600 * time.Millisecond, time.Hour}
			dl := delays[rng.IntN(len(delays))]
			what = fmt.Sprintf("closes take %v", dl)
			sm.d.Lock()
			sm.d.CloseDelay = dl
			sm.d.Unlock()
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		if n := sm.d.MaxOpenAnyDevice(); n > 1 {
			t.Fatalf("step %d (%s): a device had %d sessions open at once", step, what, n)
		}
		if n := sm.d.MaxOpenAny(); n > 1 {
			t.Fatalf("step %d (%s): an account had %d sessions open at once", step, what, n)
		}
	}

	// Healed and whole again, every account that should run runs once.
	sm.d.Lock()
	sm.d.CloseDelay = 0
	sm.d.Unlock()
	for n := range cut {
		sm.table.setCut(n, false)
	}
	for _, n := range names {
		if sm.nodes[n] == nil {
			sm.start(n)
		}
	}
	ops.Wait()
	settle(30 * simTTL)
	checkDevices(t, sm, "at the end")
	accts, _ := sm.s.Accounts(context.Background())
	byDevice := map[string][]core.Account{}
	for _, a := range accts {
		byDevice[a.Device()] = append(byDevice[a.Device()], a)
	}
	connected := sm.connected()
	for dev, as := range byDevice {
		want, got := false, 0
		for _, a := range as {
			want = want || (a.AutoStart && sm.d.HasDevice(a.JID))
			got += connected[a.ID]
		}
		if got > 1 || (want && got != 1) {
			var states []string
			for _, a := range as {
				for _, sn := range sm.nodes {
					st, _ := sn.m.Status(a.ID)
					states = append(states, fmt.Sprintf("%s on %s: %v %q", a.ID, sn.name, st.State, st.Reason))
				}
			}
			t.Errorf("device %s: %d Connected, want %d: %v; stored: %+v", dev, got, map[bool]int{true: 1}[want], states, as)
		}
	}
}
