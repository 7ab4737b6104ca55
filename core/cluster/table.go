package cluster

import (
	"context"
	"time"
)

// Table is the fleet's shared ownership table: which node owns each account
// and each WhatsApp device, bound to the nodes' leases. etcdTable keeps it in
// etcd; the tests also run the same Node and Fleet against an in-memory
// table in synctest bubbles, with virtual time.
//
// Every write that decides ownership is one compare-and-swap: Claim creates
// the owner and device keys only when neither exists and the last records
// are those the caller looked at.
type Table interface {
	// Grant creates a lease of ttl and registers the node under it with
	// info (its record for the node list). It returns the lease and the TTL
	// granted.
	Grant(ctx context.Context, node string, ttl time.Duration, info []byte) (LeaseID, time.Duration, error)
	// KeepAlive renews the lease once and returns the TTL granted; it fails
	// when the lease is gone.
	KeepAlive(ctx context.Context, lease LeaseID) (time.Duration, error)
	// Revoke ends the lease; every key bound to it goes.
	Revoke(ctx context.Context, lease LeaseID) error

	// Look reads the account's ownership and its device's (device "" for an
	// account not paired yet), for Claim.
	Look(ctx context.Context, account, device string) (Look, error)
	// Claim makes node the owner of the account, and the holder of its
	// device, under lease: only if nobody owns the account, nobody holds the
	// device, and both last records are still as look read them. It returns
	// the fencing token, or 0 when another node got there first.
	Claim(ctx context.Context, lease LeaseID, node, account, device string, look Look) (int64, error)
	// Release gives up the ownership of token (and the device it holds),
	// marked released so that another node may take them at once. It
	// reports false when token is not the current ownership.
	Release(ctx context.Context, node, account, device string, token int64) (bool, error)

	// Owners reads every ownership, and the handoffs under way (account →
	// target node), at one revision.
	Owners(ctx context.Context) (map[string]Ownership, map[string]string, error)
	// Owner reads one account's ownership; the zero Ownership when none.
	Owner(ctx context.Context, account string) (Ownership, error)
	// Nodes lists the nodes whose leases are alive.
	Nodes(ctx context.Context) ([]string, error)
	// Handoff marks the account as being moved to node, under lease, so
	// that other nodes leave it alone until node takes it; EndHandoff
	// removes the mark.
	Handoff(ctx context.Context, lease LeaseID, account, node string) error
	EndHandoff(ctx context.Context, account string) error
}

// LeaseID is a node's lease in the Table.
type LeaseID int64

// Ownership is who owns an account: the node, and the token (the owner key's
// create revision).
type Ownership struct {
	Node  string
	Token int64
}

// Look is what Claim compares against: the current owner of the account and
// holder of its device, and their last records with the revisions read.
type Look struct {
	Owner       string // the node owning the account; "" when none
	DeviceOwner string // the account holding the device; "" when none
	Last        *lastRecord
	LastRev     int64
	DevLast     *lastRecord
	DevLastRev  int64
}

// lastRecord is what an account's (or a device's) "last" key says of its
// latest ownership.
type lastRecord struct {
	Node     string `json:"node"`
	Token    int64  `json:"token"`
	Released bool   `json:"released"`
	Account  string `json:"account,omitempty"` // on a device's record
}
