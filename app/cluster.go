package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"warden/core"
	"warden/core/cluster"
	"warden/core/outbox"
	storepkg "warden/core/store"
	"warden/core/store/postgres"
	"warden/ui"
)

// Fleet mode (--cluster): the node joins the fleet on etcd, keeps the
// accounts and their timelines in PostgreSQL (--devices-db, which also holds
// the device keys, in whatsmeow's own tables), and runs only the accounts it
// owns (core/cluster). The settings, the logs and the saved WhatsApp Web
// version stay in this node's data directory. Without --cluster nothing of
// this runs: bbolt and the local SQLite, as always.

// fleetParts are the parts of a running fleet node.
type fleetParts struct {
	etcd  *clientv3.Client
	node  *cluster.Node
	fleet *cluster.Fleet
	store *postgres.DB
	local *storepkg.DB // this node's own store, whose log handler forwards to store
}

// joinFleet connects to etcd and PostgreSQL and joins the fleet.
func joinFleet(f flags, svc *services) (*fleetParts, error) {
	if f.devicesDB == "" {
		return nil, errors.New("--cluster needs --devices-db postgres://…: the fleet's shared database")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p := &fleetParts{}
	var err error
	if f.leaseTTL == 0 {
		f.leaseTTL = cluster.DefaultTTL
	}
	if p.store, err = postgres.Open(ctx, f.devicesDB, svc.log); err != nil {
		return nil, err
	}
	endpoints, err := core.ParseEtcdEndpoints(f.cluster)
	if err != nil {
		p.close(ctx)
		return nil, err
	}
	if p.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("connect to etcd %s: %w", core.RedactURL(f.cluster), err)
	}
	name := f.node
	if name == "" {
		if name, err = os.Hostname(); err != nil || name == "" {
			p.close(ctx)
			return nil, errors.New("no node name: give one with --node")
		}
	}
	if p.node, err = cluster.Join(ctx, cluster.Config{Client: p.etcd, Name: name, TTL: f.leaseTTL, Logger: svc.log}); err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("join the fleet on etcd %s: %w", core.RedactURL(f.cluster), err)
	}
	where := "the command line"
	if svc.fleetFromSettings {
		where = "Settings"
	}
	svc.log.Info("fleet mode", "node", name, "etcd", strings.Join(endpoints, ","), "database", core.RedactURL(f.devicesDB), "from", where)
	p.fleet = cluster.NewFleet(p.node)
	// The accounts' log lines go to the fleet's database, tagged with this
	// node, so that every node's Logs tab shows them; Warden's own stay here.
	store, local := p.store, svc.db
	local.ForwardAccountLogs(func(ctx context.Context, batch map[core.AccountID][]storepkg.LogLine) error {
		return store.AppendLogs(ctx, name, batch)
	})
	p.local = local
	return p, nil
}

// outboxConfig is the fleet's outbox: in PostgreSQL, each account's events
// delivered (and its timeline turned into events) by the node that owns it
// under a lease surely alive, the other nodes' webhooks and events polled
// (core/outbox/fleet.go).
func (p *fleetParts) outboxConfig(log *slog.Logger) outbox.Config {
	return outbox.Config{Store: p.store, Logger: log, Owns: p.fleet.Runs, Poll: fleetOutboxPoll}
}

// fleetOutboxPoll is how often a node's outbox reads what other nodes
// stored: a webhook created on another node, events for a stream.
const fleetOutboxPoll = time.Second

// controller is what the window drives: the fleet's Console in fleet mode
// (every account of the fleet, commands routed to the node that runs each),
// the Manager otherwise.
func (s *services) controller() ui.Controller {
	if s.fleet != nil {
		return s.fleet.fleet.Console()
	}
	return s.manager
}

// windowFleet is the window's view of the fleet (ui.Fleet); nil outside a
// fleet.
func (s *services) windowFleet() ui.Fleet {
	if s.fleet == nil {
		return nil
	}
	return consoleFleet{s.fleet.fleet.Console()}
}

// consoleFleet adapts the Console to ui.Fleet.
type consoleFleet struct{ c *cluster.Console }

func (f consoleFleet) Node() string { return f.c.Node() }

func (f consoleFleet) Move(ctx context.Context, id core.AccountID, node string) error {
	return f.c.Move(ctx, id, node)
}

func (f consoleFleet) Nodes(ctx context.Context) ([]ui.FleetNode, error) {
	nodes, err := f.c.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.FleetNode, len(nodes))
	for i, n := range nodes {
		out[i] = ui.FleetNode{Name: n.Name, Accounts: n.Accounts, LeaseLeft: n.LeaseTTL, Since: n.Since, Self: n.Self}
	}
	return out, nil
}

// start runs the node's rounds once the Manager runs.
func (p *fleetParts) start(m *core.Manager) { p.fleet.Start(m) }

// stop ends the rounds (before the Manager closes its sessions).
func (p *fleetParts) stop() {
	if p.fleet != nil {
		p.fleet.Stop()
	}
}

// close releases the node's accounts and leaves the fleet (after the
// Manager closed its sessions), then closes the connections.
func (p *fleetParts) close(ctx context.Context) error {
	var errs []error
	if p.node != nil {
		errs = append(errs, p.node.Close(ctx))
	}
	if p.etcd != nil {
		errs = append(errs, p.etcd.Close())
	}
	if p.store != nil {
		if p.local != nil {
			p.local.FlushLogs() // the accounts' last lines, while the database is open
			p.local.ForwardAccountLogs(nil)
		}
		errs = append(errs, p.store.Close())
	}
	return errors.Join(errs...)
}
