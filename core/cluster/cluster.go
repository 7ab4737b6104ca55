// Package cluster is account ownership across Warden nodes, on etcd: the
// invariant "one client per account" held across machines.
//
// Each node holds one etcd lease (lease.go). An account's owner key, and its
// WhatsApp device's key, are created in one transaction bound to that lease,
// and only when no one owns either (ownership.go); the owner key's create
// revision is the ownership's fencing token. A node dials only the accounts
// it owns, and only while its lease is surely alive by its own clock.
//
// The fence. A node cut off from etcd learns late that its lease is gone
// (measured up to 0.5 s after another node could own the account). So a
// node counts its lease as alive only until the time it *sent* its last
// acknowledged keepalive, plus the TTL, minus a margin: etcd cannot expire
// the lease before that send time plus the TTL, so the node closes every
// session (all at once, torn down hard if a polite close takes more than
// half the margin) before etcd even lets the keys go. And an account whose
// owner vanished without releasing it (a crash, a partition) is taken over
// only a full TTL after a node saw it ownerless, which absorbs clock-rate
// differences. A clean release marks the account released, and another node
// may take it at once.
//
// The handover (handover.go) is one ordered sequence: the account leaves
// what the node may run first (its Gate shuts), then its session closes, its
// last events are stored, and only then is it released. Every round, the
// node reconciles what its Manager runs with what it owns.
//
// The ownership table is behind the Table interface (table.go): etcd in
// production (etcdtable.go), an in-memory table in synctest tests.
package cluster

import (
	"errors"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of Config.
const (
	DefaultTTL    = 5 * time.Second
	DefaultPrefix = "/warden/"
)

// Errors callers branch on.
var (
	// ErrOwned is wrapped by Acquire when another node owns the account.
	ErrOwned = errors.New("another node owns the account")
	// ErrDeviceOwned is wrapped by Acquire when another account, on any
	// node, holds the account's WhatsApp device.
	ErrDeviceOwned = errors.New("another account in the fleet holds this WhatsApp device")
	// ErrOrphanWait is wrapped by Acquire while an account whose owner
	// vanished waits out the TTL before anyone may take it.
	ErrOrphanWait = errors.New("the account's last owner vanished; waiting out its lease before taking it over")
	// ErrFenced is returned once this node's lease may have expired: it must
	// not dial, and owns nothing any more.
	ErrFenced = errors.New("this node's lease may have expired: it stopped dialling")
	// ErrNotOwner is wrapped by Release for a token that is not current.
	ErrNotOwner = errors.New("this node does not own the account with that token")
)

// Config configures a Node.
type Config struct {
	// Client is the etcd client. The Console (statuses and commands across
	// nodes) needs it; Table defaults to the ownership table on it.
	Client *clientv3.Client
	// Table is the ownership table; nil: etcd's, through Client.
	Table Table
	Name  string        // the node's name, unique in the fleet
	TTL   time.Duration // the lease's TTL; zero means DefaultTTL
	// Margin is how long before the lease's earliest possible expiry the
	// node fences itself. Zero means a fifth of the TTL.
	Margin time.Duration
	Prefix string // key prefix; "" means DefaultPrefix
	Logger *slog.Logger
	Now    func() time.Time // nil: time.Now
}

// FairShare is how many of accounts one of nodes may own: its fair share,
// rounded up, plus one, so that adding a node moves accounts gradually.
func FairShare(accounts, nodes int) int {
	if nodes < 1 {
		nodes = 1
	}
	return (accounts+nodes-1)/nodes + 1
}
