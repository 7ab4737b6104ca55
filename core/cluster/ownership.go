package cluster

import (
	"context"
	"fmt"
	"time"
)

// Acquire makes this node the owner of the account, and the holder of its
// WhatsApp device (device, "" for an account not paired yet), and returns
// the fencing token. It fails with ErrOwned while another node owns the
// account, ErrDeviceOwned while another account holds the device, and
// ErrOrphanWait while an owner that vanished without releasing either is
// waited out (a full TTL from when this node first saw it ownerless).
func (n *Node) Acquire(ctx context.Context, account, device string) (int64, error) {
	if !n.Valid() {
		return 0, ErrFenced
	}
	look, err := n.table.Look(ctx, account, device)
	if err != nil {
		return 0, err
	}
	if look.Owner != "" {
		n.mu.Lock()
		delete(n.absent, account)
		n.mu.Unlock()
		return 0, fmt.Errorf("%w: %s (node %s)", ErrOwned, account, look.Owner)
	}
	if look.DeviceOwner != "" {
		return 0, fmt.Errorf("%w: %s (account %s)", ErrDeviceOwned, account, look.DeviceOwner)
	}
	for _, last := range []*lastRecord{look.Last, look.DevLast} {
		if last == nil || last.Released {
			continue
		}
		now := n.now()
		n.mu.Lock()
		seen, ok := n.absent[account]
		if !ok {
			seen = now
			n.absent[account] = now
		}
		n.mu.Unlock()
		if wait := seen.Add(n.ttl).Sub(now); wait > 0 {
			return 0, fmt.Errorf("%w: %s (node %s), %v more", ErrOrphanWait, account, last.Node, wait.Round(time.Millisecond))
		}
	}
	n.mu.Lock()
	valid, lease := n.validLocked(), n.lease
	n.mu.Unlock()
	if !valid {
		return 0, ErrFenced
	}
	token, err := n.table.Claim(ctx, lease, n.name, account, device, look)
	if token == 0 {
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %s (taken meanwhile)", ErrOwned, account)
	}
	if err != nil {
		n.log.Warn("recording the ownership's token failed", "account", account, "err", err)
	}
	n.mu.Lock()
	stale := n.lease != lease || !n.validLocked()
	if !stale {
		n.owned[account] = owned{token: token, device: device}
		delete(n.absent, account)
	}
	n.mu.Unlock()
	if stale {
		// The fence fell meanwhile: this ownership dies with the old lease,
		// and nothing may dial under it.
		return 0, ErrFenced
	}
	n.log.Info("account acquired", "account", account, "token", token)
	return token, nil
}

// withdraw takes the account out of what this node may run, at once, without
// releasing it in the table: the first step of a handover. Release then
// gives it up.
func (n *Node) withdraw(account string, token int64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	o, ok := n.owned[account]
	if !ok || o.token != token {
		return false
	}
	delete(n.owned, account)
	n.leaving[account] = o
	return true
}

// Release gives the account up, marked released so that another node may
// take it at once. The caller must have closed its session first.
func (n *Node) Release(ctx context.Context, account string, token int64) error {
	n.mu.Lock()
	o, ok := n.owned[account]
	if !ok || o.token != token {
		o, ok = n.leaving[account]
	}
	if !ok || o.token != token {
		o = owned{token: token}
	}
	n.mu.Unlock()
	return n.release(ctx, account, o)
}

func (n *Node) release(ctx context.Context, account string, o owned) error {
	ok, err := n.table.Release(ctx, n.name, account, o.device, o.token)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.owned[account].token == o.token {
		delete(n.owned, account)
	}
	if n.leaving[account].token == o.token {
		delete(n.leaving, account)
	}
	n.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s (token %d)", ErrNotOwner, account, o.token)
	}
	n.log.Info("account released", "account", account, "token", o.token)
	return nil
}

// Owner returns the node owning the account and the ownership's token; ""
// when no one does.
func (n *Node) Owner(ctx context.Context, account string) (string, int64, error) {
	o, err := n.table.Owner(ctx, account)
	return o.Node, o.Token, err
}

// Current reports whether token is still this node's ownership of the
// account, as the table says now: a session with a token that is not
// current must close.
func (n *Node) Current(ctx context.Context, account string, token int64) (bool, error) {
	owner, cur, err := n.Owner(ctx, account)
	if err != nil {
		return false, err
	}
	return owner == n.name && cur == token && n.Valid(), nil
}

// Nodes returns the names of the nodes whose leases are alive.
func (n *Node) Nodes(ctx context.Context) ([]string, error) {
	return n.table.Nodes(ctx)
}

// forget drops an ownership that the table no longer holds, unless the
// account was acquired again since.
func (n *Node) forget(account string, token int64) {
	n.mu.Lock()
	if n.owned[account].token == token {
		delete(n.owned, account)
	}
	n.mu.Unlock()
}

// Owned returns the accounts this node owns, with their tokens.
func (n *Node) Owned() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return tokens(n.owned)
}

// Leaving returns the accounts withdrawn by a handover and not yet released,
// with their tokens.
func (n *Node) Leaving() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return tokens(n.leaving)
}

func tokens(m map[string]owned) map[string]int64 {
	out := make(map[string]int64, len(m))
	for a, o := range m {
		out[a] = o.token
	}
	return out
}

// allowed returns this node's permission to run the account, if it owns it
// and its lease is surely alive.
func (n *Node) allowed(account string) (int64, context.Context, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.validLocked() {
		return 0, nil, false
	}
	o, ok := n.owned[account]
	return o.token, n.valid, ok
}
