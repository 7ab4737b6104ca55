package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"warden/core"
)

// Console is one node's window on the whole fleet, with the methods of the
// window's controller (ui.Controller): every account with the node that runs
// it, and commands that reach that node.
//   - An account this node runs is served by its Manager.
//   - An account another node runs shows that node's published status, and
//     its commands go to that node (command.go); their results come back.
//   - An account no node runs is taken by this node for the command: a
//     Connect or an Add pairs it here, where the operator looks at the QR
//     code.
//
// Timelines come from the shared store, so they are whole whichever node
// wrote them.
type Console struct {
	f *Fleet

	hub    *core.StatusHub
	events *core.EventHub
	ready  chan struct{} // closed once the console knows where each timeline stands (baseline)

	mu sync.Mutex
	// mu guards the following
	remote map[core.AccountID]Published // statuses other nodes published
	// lastSeq is the newest event of each account that the window has: as
	// the store had it when the console started, then the newest forwarded.
	// An account missing from it was added since: all its events are new.
	lastSeq map[core.AccountID]uint64
	blind   map[core.AccountID]bool // accounts whose timeline could not be read at the start
	fetch   map[core.AccountID]bool // an event fetch is scheduled
}

// Console returns the Fleet's console; it runs between Start and Stop.
func (f *Fleet) Console() *Console { return f.console }

func newConsole(f *Fleet) *Console {
	return &Console{f: f, hub: core.NewStatusHub(), events: core.NewEventHub(), ready: make(chan struct{}),
		remote: map[core.AccountID]Published{}, lastSeq: map[core.AccountID]uint64{},
		blind: map[core.AccountID]bool{}, fetch: map[core.AccountID]bool{}}
}

// orphanReason is shown for an account that should run but that no node
// runs at this moment (its node stopped or was cut off).
const orphanReason = "no node runs it now: another node takes it over within the lease's time"

// m returns the Manager; nil before the Fleet starts.
func (c *Console) m() *core.Manager {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return c.f.m
}

// errNotStarted is returned by commands given before the Fleet runs.
var errNotStarted = errors.New("this node has not joined its fleet's accounts yet: try again in a moment")

// Node returns this node's name.
func (c *Console) Node() string { return c.f.node.name }

// merged is the account's status as the fleet sees it. c.mu is held.
func (c *Console) merged(id core.AccountID, local core.Status, haveLocal bool) (core.Status, bool) {
	if p, ok := c.remote[id]; ok && p.Node != c.f.node.name {
		st := p.Status
		st.Node = p.Node
		if haveLocal {
			st.Account = local.Account // the record is the store's, kept fresh by Refresh
		}
		return st, true
	}
	if !haveLocal {
		return core.Status{}, false
	}
	st := local
	if _, ok := c.f.Allowed(id); ok {
		st.Node = c.f.node.name
	} else if st.State == core.Idle && st.Account.AutoStart && st.Account.JID != "" && st.Reason == core.ReasonElsewhere {
		st.Reason = orphanReason
	}
	return st, true
}

// Statuses implements ui.Controller: every account of the fleet.
func (c *Console) Statuses() []core.Status {
	var local []core.Status
	if m := c.m(); m != nil {
		local = m.Statuses()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[core.AccountID]bool, len(local))
	out := make([]core.Status, 0, len(local))
	for _, st := range local {
		seen[st.Account.ID] = true
		if m, ok := c.merged(st.Account.ID, st, true); ok {
			out = append(out, m)
		}
	}
	for id, p := range c.remote {
		if !seen[id] && p.Node != c.f.node.name {
			st := p.Status
			st.Node = p.Node
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b core.Status) int {
		if c := a.Account.CreatedAt.Compare(b.Account.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.Account.ID), string(b.Account.ID))
	})
	return out
}

// Status returns one account's status as the fleet sees it.
func (c *Console) Status(id core.AccountID) (core.Status, bool) {
	var local core.Status
	var ok bool
	if m := c.m(); m != nil {
		local, ok = m.Status(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.merged(id, local, ok)
}

// Subscribe implements ui.Controller.
func (c *Console) Subscribe() (<-chan core.Status, func()) { return c.hub.Subscribe() }

// SubscribeEvents implements ui.Controller: this node's events as they
// happen, and other nodes' as they reach the shared store.
func (c *Console) SubscribeEvents() (<-chan core.Event, func()) { return c.events.Subscribe() }

// Events implements ui.Controller, from the shared store. It waits until the
// console knows where each timeline stands, so that what the window loads and
// what SubscribeEvents brings afterwards leave no gap.
func (c *Console) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	m := c.m()
	if m == nil {
		return nil, errNotStarted
	}
	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return m.Events(ctx, id, limit)
}

// Add implements ui.Controller: the account is created in the shared store,
// taken by this node, and paired here.
func (c *Console) Add(ctx context.Context, name string, opts ...core.AccountOption) (core.Account, error) {
	if c.m() == nil {
		return core.Account{}, errNotStarted
	}
	acct, err := c.m().Add(ctx, name, opts...)
	if err != nil {
		return acct, err
	}
	if _, err := c.f.node.Acquire(ctx, string(acct.ID), acct.Device()); err != nil {
		return acct, fmt.Errorf("the account was added, but this node could not take it to pair it: %w", err)
	}
	if err := c.m().Connect(ctx, acct.ID); err != nil {
		return acct, err
	}
	return acct, nil
}

// owner is who runs the account now: this node, another, or none.
func (c *Console) owner(ctx context.Context, id core.AccountID) (string, error) {
	if _, ok := c.f.Allowed(id); ok {
		return c.f.node.name, nil
	}
	owner, _, err := c.f.node.Owner(ctx, string(id))
	if err != nil {
		return "", err
	}
	return owner, nil
}

// do runs a command where the account runs. local runs it on this node's
// Manager; with claim, an account no node runs is first taken by this node
// (and kept when keep is set, given back otherwise).
func (c *Console) do(ctx context.Context, id core.AccountID, req request, claim, keep bool, local func() error) (reply, error) {
	if c.m() == nil {
		return reply{}, errNotStarted
	}
	owner, err := c.owner(ctx, id)
	if err != nil {
		return reply{}, err
	}
	switch owner {
	case c.f.node.name:
		return reply{}, local()
	case "":
		if !claim {
			return reply{}, local()
		}
		st, _ := c.m().Status(id)
		token, err := c.f.node.Acquire(ctx, string(id), st.Account.Device())
		if err != nil {
			if errors.Is(err, ErrOwned) {
				return c.do(ctx, id, req, claim, keep, local) // taken meanwhile: go there
			}
			return reply{}, err
		}
		if err := c.m().Resync(ctx, id); err != nil {
			_ = c.f.node.Release(ctx, string(id), token)
			return reply{}, err
		}
		err = local()
		if !keep {
			if st, ok := c.m().Status(id); !ok || st.State == core.Idle {
				_ = c.m().Flush(ctx)
				_ = c.f.node.Release(ctx, string(id), token)
			}
		}
		return reply{}, err
	default:
		r, err := c.f.call(ctx, owner, req)
		if err != nil {
			return reply{}, err
		}
		return r, r.err()
	}
}

// Connect implements ui.Controller. An account no node runs starts here.
func (c *Console) Connect(ctx context.Context, id core.AccountID) error {
	_, err := c.do(ctx, id, request{Op: opConnect, Account: id}, true, true, func() error { return c.m().Connect(ctx, id) })
	return err
}

// Disconnect implements ui.Controller.
func (c *Console) Disconnect(ctx context.Context, id core.AccountID) error {
	_, err := c.do(ctx, id, request{Op: opDisconnect, Account: id}, true, false, func() error { return c.m().Disconnect(ctx, id) })
	return err
}

// Logout implements ui.Controller.
func (c *Console) Logout(ctx context.Context, id core.AccountID) error {
	_, err := c.do(ctx, id, request{Op: opLogout, Account: id}, true, false, func() error { return c.m().Logout(ctx, id) })
	return err
}

// Delete implements ui.Controller.
func (c *Console) Delete(ctx context.Context, id core.AccountID) error {
	_, err := c.do(ctx, id, request{Op: opDelete, Account: id}, true, false, func() error { return c.f.deleteOwned(ctx, id) })
	return err
}

// PairPhone implements ui.Controller.
func (c *Console) PairPhone(ctx context.Context, id core.AccountID, phone string) (string, error) {
	var code string
	r, err := c.do(ctx, id, request{Op: opPairPhone, Account: id, Arg: phone}, false, false, func() error {
		var err error
		code, err = c.m().PairPhone(ctx, id, phone)
		return err
	})
	if r.Text != "" {
		code = r.Text
	}
	return code, err
}

// Rename implements ui.Controller.
func (c *Console) Rename(ctx context.Context, id core.AccountID, name string) error {
	_, err := c.do(ctx, id, request{Op: opRename, Account: id, Arg: name}, true, false, func() error { return c.m().Rename(ctx, id, name) })
	return err
}

// SetProxy implements ui.Controller.
func (c *Console) SetProxy(ctx context.Context, id core.AccountID, proxy string) error {
	_, err := c.do(ctx, id, request{Op: opSetProxy, Account: id, Arg: proxy}, true, false, func() error { return c.m().SetProxy(ctx, id, proxy) })
	return err
}

// SendText implements ui.Controller: the message leaves from the node that
// runs the account.
func (c *Console) SendText(ctx context.Context, id core.AccountID, to, text string) (core.SendResult, error) {
	var res core.SendResult
	r, err := c.do(ctx, id, request{Op: opSend, Account: id, Arg: to, Arg2: text}, false, false, func() error {
		var err error
		res, err = c.m().SendText(ctx, id, to, text)
		return err
	})
	if r.Sent != nil {
		res = *r.Sent
	}
	return res, err
}

// Move hands the account over to node, cleanly: its node closes the session,
// stores its last events and releases it, and node takes it at once. The
// balancer may move it again later if node runs more than its fair share
// plus one.
func (c *Console) Move(ctx context.Context, id core.AccountID, node string) error {
	owner, err := c.owner(ctx, id)
	if err != nil {
		return err
	}
	switch owner {
	case node:
		return nil
	case c.f.node.name:
		return c.f.moveOwned(ctx, id, node)
	case "":
		// No node runs it: the target simply takes it.
		r, err := c.f.call(ctx, node, request{Op: opTake, Account: id})
		if err != nil {
			return err
		}
		return r.err()
	default:
		r, err := c.f.call(ctx, owner, request{Op: opMove, Account: id, Arg: node})
		if err != nil {
			return err
		}
		return r.err()
	}
}

// NodeInfo is one node of the fleet, as the node list shows it.
type NodeInfo struct {
	Name     string
	Since    time.Time     // when it joined (its current lease)
	Accounts int           // accounts it owns
	LeaseTTL time.Duration // what is left of its lease: it renews it every third of the TTL
	Self     bool
}

// Nodes lists the fleet's nodes.
func (c *Console) Nodes(ctx context.Context) ([]NodeInfo, error) {
	n := c.f.node
	resp, err := n.cli.Txn(ctx).Then(
		clientv3.OpGet(n.prefix+"nodes/", clientv3.WithPrefix()),
		clientv3.OpGet(n.prefix+"owner/", clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("list the fleet's nodes: %w", err)
	}
	owned := map[string]int{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		owned[string(kv.Value)]++
	}
	var out []NodeInfo
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		var info struct {
			Name  string    `json:"name"`
			Since time.Time `json:"since"`
		}
		_ = json.Unmarshal(kv.Value, &info)
		name := string(kv.Key[len(n.prefix+"nodes/"):])
		ni := NodeInfo{Name: name, Since: info.Since, Accounts: owned[name], Self: name == n.name}
		if ttl, err := n.cli.TimeToLive(ctx, clientv3.LeaseID(kv.Lease)); err == nil && ttl.TTL > 0 {
			ni.LeaseTTL = time.Duration(ttl.TTL) * time.Second
		}
		out = append(out, ni)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// deleteOwned deletes an account this node owns, then lets its ownership go.
func (f *Fleet) deleteOwned(ctx context.Context, id core.AccountID) error {
	grant, _ := f.Allowed(id)
	err := f.m.Delete(ctx, id)
	if _, still := f.m.Status(id); !still && grant.Token != 0 && !slices.Contains(f.m.Running(), id) {
		if rerr := f.node.Release(ctx, string(id), grant.Token); rerr != nil {
			f.log.Warn("releasing a deleted account failed", "account", id, "err", rerr)
		}
	}
	return err
}

// moveOwned hands an account this node owns over to node.
func (f *Fleet) moveOwned(ctx context.Context, id core.AccountID, node string) error {
	return f.giveTo(ctx, id, node, func(ctx context.Context) error {
		r, err := f.call(ctx, node, request{Op: opTake, Account: id})
		if err != nil {
			return err
		}
		return r.err()
	})
}

// giveTo hands an account this node owns over to node (handover.go), then
// has node take it with take.
func (f *Fleet) giveTo(ctx context.Context, id core.AccountID, node string, take func(context.Context) error) error {
	nodes, err := f.node.Nodes(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(nodes, node) {
		return fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	grant, ok := f.Allowed(id)
	if !ok {
		return fmt.Errorf("%w: %s", errMoved, id)
	}
	// The hint keeps the other nodes' rounds off the account between the
	// release and node's take; it dies with this node's lease.
	if err := f.node.table.Handoff(ctx, f.node.leaseID(), string(id), node); err != nil {
		return fmt.Errorf("move %s: %w", id, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.node.table.EndHandoff(dctx, string(id))
	}()
	f.handOver(string(id), grant.Token, "moved to node "+node+" by the operator")
	if err := take(ctx); err != nil {
		return fmt.Errorf("%s was released, but node %s did not take it (another node will): %w", id, node, err)
	}
	return nil
}

// take acquires an account handed over to this node and runs it.
func (f *Fleet) take(ctx context.Context, id core.AccountID) error {
	if _, ok := f.Allowed(id); ok {
		return nil
	}
	st, _ := f.m.Status(id)
	if _, err := f.node.Acquire(ctx, string(id), st.Account.Device()); err != nil {
		return fmt.Errorf("%w: %v", errHandover, err)
	}
	if err := f.m.Resync(ctx, id); err != nil {
		return err
	}
	st, _ = f.m.Status(id)
	if !st.Account.AutoStart {
		return nil // moved while disconnected: it stays so, here
	}
	if err := f.m.Connect(ctx, id); err != nil && !errors.Is(err, core.ErrAlreadyConnected) {
		return err
	}
	return nil
}

// viewLoop keeps the console's view: other nodes' published statuses,
// watched in etcd, merged with this node's Manager.
func (c *Console) viewLoop() {
	f := c.f
	defer f.wg.Done()
	defer c.hub.Close()
	defer c.events.Close()
	// Before the subscriptions: every local event published after them
	// comes after the position read.
	c.baseline()
	local, cancelLocal := f.m.Subscribe()
	defer cancelLocal()
	evs, cancelEvs := f.m.SubscribeEvents()
	defer cancelEvs()
	for _, st := range f.m.Statuses() {
		c.changed(st.Account.ID) // what the Manager published before the console ran
	}
	prefix := f.node.prefix + "status/"
	for f.ctx.Err() == nil {
		resp, err := f.node.cli.Get(f.ctx, prefix, clientv3.WithPrefix())
		if err != nil {
			select {
			case <-f.ctx.Done():
				return
			case <-time.After(f.every):
				continue
			}
		}
		fresh := map[core.AccountID]Published{}
		for _, kv := range resp.Kvs {
			var p Published
			if json.Unmarshal(kv.Value, &p) == nil {
				fresh[p.Status.Account.ID] = p
			}
		}
		c.mu.Lock()
		old := c.remote
		c.remote = fresh
		c.mu.Unlock()
		for id := range old {
			c.changed(id)
		}
		for id := range fresh {
			c.changed(id)
			// Events stored since the position read (or while the watch
			// was down) whose status changes this read took in at once.
			c.fetchEvents(id)
		}
		watch := f.node.cli.Watch(clientv3.WithRequireLeader(f.ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	inner:
		for {
			select {
			case <-f.ctx.Done():
				return
			case st, ok := <-local:
				if !ok {
					return
				}
				if st.Removed {
					c.mu.Lock()
					delete(c.remote, st.Account.ID)
					delete(c.lastSeq, st.Account.ID)
					delete(c.blind, st.Account.ID)
					c.mu.Unlock()
					c.hub.Publish(st)
					continue
				}
				c.changed(st.Account.ID)
			case ev, ok := <-evs:
				if !ok {
					return
				}
				c.forward(c.upTo(ev))
			case wr, ok := <-watch:
				if !ok || wr.Err() != nil {
					break inner // etcd lost its leader or we lost etcd: read it all again
				}
				for _, ev := range wr.Events {
					id := core.AccountID(string(ev.Kv.Key[len(prefix):]))
					c.mu.Lock()
					if ev.Type == clientv3.EventTypeDelete {
						delete(c.remote, id)
					} else {
						var p Published
						if json.Unmarshal(ev.Kv.Value, &p) == nil {
							c.remote[id] = p
						}
					}
					c.mu.Unlock()
					c.changed(id)
					c.fetchEvents(id)
				}
			}
		}
	}
}

// changed publishes the account's merged status.
func (c *Console) changed(id core.AccountID) {
	local, ok := c.m().Status(id) // the view loop runs only once started
	c.mu.Lock()
	st, ok := c.merged(id, local, ok)
	c.mu.Unlock()
	if ok {
		c.hub.Publish(st)
	}
}

// fetchLimit is how many of an account's newest events one look at the
// store reads.
const fetchLimit = 50

// baseline reads where each account's timeline stands in the store: the
// window loads the events up to there itself (Events waits for this), and the
// console forwards every later one.
func (c *Console) baseline() {
	defer close(c.ready)
	failed := 0
	var lastErr error
	for _, st := range c.f.m.Statuses() {
		id := st.Account.ID
		ctx, cancel := context.WithTimeout(c.f.ctx, 5*time.Second)
		last, err := c.f.m.Events(ctx, id, 1)
		cancel()
		c.mu.Lock()
		switch {
		case errors.Is(err, core.ErrUnknownAccount):
			// deleted meanwhile
		case err != nil:
			c.blind[id] = true
			failed, lastErr = failed+1, err
		case len(last) > 0:
			c.lastSeq[id] = last[0].Seq
		default:
			c.lastSeq[id] = 0
		}
		c.mu.Unlock()
	}
	if failed > 0 && c.f.ctx.Err() == nil {
		c.f.log.Warn("reading where the timelines stand failed: the live timeline of these accounts starts at their next look at the store",
			"accounts", failed, "err", lastErr)
	}
}

// forward hands events to the window's stream, each once and in order: an
// event no newer than the newest the window has is dropped.
func (c *Console) forward(evs []core.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if last, ok := c.lastSeq[ev.Account]; ok && ev.Seq <= last {
			continue
		}
		c.lastSeq[ev.Account] = ev.Seq
		delete(c.blind, ev.Account)
		c.events.Publish(ev) // under mu, so that forwards keep their order; the hub never blocks
	}
}

// upTo returns this node's event ev, preceded by the events of its account
// that the window lacks before it: those another node stored just before
// this one took the account, not yet forwarded.
func (c *Console) upTo(ev core.Event) []core.Event {
	c.mu.Lock()
	last, known := c.lastSeq[ev.Account]
	known = known || !c.blind[ev.Account]
	c.mu.Unlock()
	if !known || ev.Seq <= last+1 {
		return []core.Event{ev}
	}
	ctx, cancel := context.WithTimeout(c.f.ctx, 5*time.Second)
	defer cancel()
	stored, err := c.f.m.Events(ctx, ev.Account, fetchLimit)
	if err != nil {
		return []core.Event{ev}
	}
	var out []core.Event
	for _, s := range stored {
		if s.Seq > last && s.Seq < ev.Seq {
			out = append(out, s)
		}
	}
	return append(out, ev)
}

// fetchEvents forwards, a moment later, the events another node stored for
// an account since the newest the window has.
func (c *Console) fetchEvents(id core.AccountID) {
	c.mu.Lock()
	if c.fetch[id] {
		c.mu.Unlock()
		return
	}
	c.fetch[id] = true
	c.mu.Unlock()
	time.AfterFunc(300*time.Millisecond, func() {
		c.mu.Lock()
		delete(c.fetch, id)
		p, remote := c.remote[id]
		c.mu.Unlock()
		if !remote || p.Node == c.f.node.name || c.f.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(c.f.ctx, 5*time.Second)
		defer cancel()
		evs, err := c.m().Events(ctx, id, fetchLimit)
		if err != nil || len(evs) == 0 {
			return
		}
		c.mu.Lock()
		blind := c.blind[id]
		if blind {
			// Where the window stands is unknown: from here on.
			c.lastSeq[id] = max(c.lastSeq[id], evs[len(evs)-1].Seq)
			delete(c.blind, id)
		}
		c.mu.Unlock()
		if !blind {
			c.forward(evs)
		}
	})
}
