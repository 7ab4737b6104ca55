package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// A simulated fleet: nodes over one in-memory ownership table, one shared
// store (the fleet's PostgreSQL) and one fake WhatsApp (a coretest Dialer
// that counts the sessions open at once of every device, whichever node or
// account made them). For synctest bubbles.
type sim struct {
	table *memTable
	d     *coretest.Dialer
	s     *coretest.Store
	ttl   time.Duration
	log   *slog.Logger
	nodes map[string]*simNode
}

// simNode is one node: its lease, Fleet and Manager, and the process's
// side of the world (its sessions, its writes), which a kill ends at once.
type simNode struct {
	name  string
	node  *Node
	fleet *Fleet
	m     *core.Manager
	proc  *simProc
}

// simProc is what dies with a node's process: its sockets and its writes.
type simProc struct {
	d *coretest.Dialer
	s *coretest.Store

	mu       sync.Mutex
	dead     bool
	sessions []core.Session
}

func (p *simProc) NewSession(ctx context.Context, acct core.Account, emit func(core.SessionEvent) error) (core.Session, error) {
	p.mu.Lock()
	dead := p.dead
	p.mu.Unlock()
	if dead {
		return nil, errors.New("sim: the process is dead")
	}
	s, err := p.d.NewSession(ctx, acct, emit)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dead {
		s.Abort()
		return nil, errors.New("sim: the process is dead")
	}
	p.sessions = append(p.sessions, s)
	return s, nil
}

func (p *simProc) DeleteDevice(ctx context.Context, acct core.Account) error {
	if p.isDead() {
		return errors.New("sim: the process is dead")
	}
	return p.d.DeleteDevice(ctx, acct)
}

func (p *simProc) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// kill ends the process: every socket closes at once, nothing more is
// written.
func (p *simProc) kill() {
	p.mu.Lock()
	p.dead = true
	ss := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	for _, s := range ss {
		s.Abort()
	}
}

func (p *simProc) Accounts(ctx context.Context) ([]core.Account, error) {
	if p.isDead() {
		return nil, errors.New("sim: the process is dead")
	}
	return p.s.Accounts(ctx)
}

func (p *simProc) PutAccount(ctx context.Context, a core.Account) error {
	if p.isDead() {
		return errors.New("sim: the process is dead")
	}
	return p.s.PutAccount(ctx, a)
}

func (p *simProc) DeleteAccount(ctx context.Context, id core.AccountID) error {
	if p.isDead() {
		return errors.New("sim: the process is dead")
	}
	return p.s.DeleteAccount(ctx, id)
}

func (p *simProc) AppendEvents(ctx context.Context, evs ...core.Event) error {
	if p.isDead() {
		return nil // lost with the process
	}
	return p.s.AppendEvents(ctx, evs...)
}

func (p *simProc) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	return p.s.Events(ctx, id, limit)
}

func newSim(ttl time.Duration) *sim {
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("WARDEN_SIM_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	table := newMemTable()
	table.latency = time.Millisecond // a round trip to etcd
	return &sim{table: table, d: coretest.NewDialer(), s: coretest.NewStore(), ttl: ttl, log: log, nodes: map[string]*simNode{}}
}

// account stores a paired account that should run.
func (sm *sim) account(i int) core.AccountID {
	id := core.AccountID(fmt.Sprintf("acct-%02d", i))
	jid := fmt.Sprintf("155500%05d.0:1@s.whatsapp.net", i)
	sm.d.AddDevice(jid)
	if err := sm.s.PutAccount(context.Background(), core.Account{ID: id, Name: string(id), JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
		panic(err)
	}
	return id
}

// start starts a node (again, after a kill: a new process with the name).
func (sm *sim) start(name string) *simNode {
	proc := &simProc{d: sm.d, s: sm.s}
	n, err := Join(context.Background(), Config{Table: sm.table.view(name), Name: name, TTL: sm.ttl, Logger: sm.log.With("node", name)})
	if err != nil {
		panic(err)
	}
	f := NewFleet(n)
	p := core.DefaultPolicy()
	p.StartSpread, p.StartWindow, p.Jitter = time.Millisecond, 100*time.Millisecond, 0
	m, err := core.NewManager(core.Config{Dialer: proc, Store: proc, Policy: p, Gate: f, Logger: sm.log.With("node", name)})
	if err != nil {
		panic(err)
	}
	if err := m.Start(context.Background()); err != nil {
		panic(err)
	}
	f.Start(m)
	sn := &simNode{name: name, node: n, fleet: f, m: m, proc: proc}
	sm.nodes[name] = sn
	return sn
}

// kill kills a node's process: no release, no revoke, sockets gone.
func (sm *sim) kill(name string) {
	sn := sm.nodes[name]
	if sn == nil {
		return
	}
	delete(sm.nodes, name)
	sn.proc.kill()
	sn.fleet.Stop()
	sn.node.crash()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = sn.m.Close(ctx)
}

// stop stops a node cleanly: sessions closed, accounts released.
func (sm *sim) stop(name string) {
	sn := sm.nodes[name]
	if sn == nil {
		return
	}
	delete(sm.nodes, name)
	sn.fleet.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sn.m.Close(ctx)
	_ = sn.node.Close(ctx)
}

func (sm *sim) stopAll() {
	for name := range sm.nodes {
		sm.stop(name)
	}
}

// runs counts, per account, the nodes whose Manager has it Connected.
func (sm *sim) connected() map[core.AccountID]int {
	out := map[core.AccountID]int{}
	for _, sn := range sm.nodes {
		for _, st := range sn.m.Statuses() {
			if st.State == core.Connected {
				out[st.Account.ID]++
			}
		}
	}
	return out
}

// connectedOn counts the node's Connected accounts.
func (sm *sim) connectedOn(sn *simNode) int {
	n := 0
	for _, st := range sn.m.Statuses() {
		if st.State == core.Connected {
			n++
		}
	}
	return n
}
