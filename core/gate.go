package core

import (
	"context"
	"errors"
	"fmt"
)

// A fleet of Warden nodes runs each account on one node only (see
// core/cluster). The node tells its Manager, through a Gate, which accounts
// it may dial: a dial the Gate refuses leaves the account Idle "run by
// another node", keeping whether the operator wants it running (AutoStart),
// and the node calls Connect once it owns the account. When the node loses
// an account (its lease may have expired, or it handed the account over),
// Yield closes the session at once, again keeping AutoStart.

// ErrNotOwned is the dial error when the Gate refuses: another node runs the
// account, or this node's ownership ended.
var ErrNotOwned = errors.New("another Warden node runs this account")

// CauseElsewhere is the cause of the events of an account that this node
// does not run.
const CauseElsewhere = "run by another node"

// ReasonElsewhere is the status reason of an account this node does not run.
const ReasonElsewhere = "run by another Warden node"

// Gate decides which accounts this Manager may dial.
type Gate interface {
	// Allowed reports whether the account may be dialled now, and the
	// fencing token of this node's ownership, recorded on every event of the
	// session it dials.
	Allowed(id AccountID) (token int64, ok bool)
}

// Yield closes the account's session and timers because this node no longer
// runs it; the account becomes Idle with reason, and keeps AutoStart.
func (m *Manager) Yield(ctx context.Context, id AccountID, reason string) error {
	return m.command(ctx, id, input{kind: inYield, reason: reason}, true)
}

// mayRun returns nil when this node may act on the account: always without
// a Gate, and with one only while the node owns it. Every command that
// changes an account (Connect, Disconnect, Log out, Delete, pairing by
// phone, Rename, SetProxy) needs it: another node's account is changed by
// that node (core/cluster routes the command there), so that no copy of a
// record here, perhaps stale, ever overwrites the owner's.
func (m *Manager) mayRun(id AccountID) error {
	if m.gate == nil {
		return nil
	}
	if _, ok := m.gate.Allowed(id); !ok {
		return fmt.Errorf("%w: %s", ErrNotOwned, id)
	}
	return nil
}

// idle reports whether the account runs nothing here: Idle, no session, no
// dial pending, not being deleted. a.mu is held.
func (a *account) idle() bool {
	return a.m.State == Idle && !a.m.open && a.m.deadline[timerDial].IsZero() && a.sess == nil && !a.m.deleted && !a.running
}

// Flush waits until every timeline event recorded so far is stored: a node
// hands an account over only after its last events are in the shared store,
// so that the next owner's come after them.
func (m *Manager) Flush(ctx context.Context) error {
	return m.events.flush(ctx)
}

// Resync reloads an account that this node does not run from the store: its
// record and its timeline's last sequence number and epoch, which another
// node may have moved on. A node calls it when it takes an account over,
// before dialling it, so that its events follow the last owner's.
func (m *Manager) Resync(ctx context.Context, id AccountID) error {
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	accts, err := m.store.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("reload %s: %w", id, err)
	}
	var acct *Account
	for i := range accts {
		if accts[i].ID == id {
			acct = &accts[i]
		}
	}
	if acct == nil {
		return fmt.Errorf("%w: %s (deleted on another node)", ErrUnknownAccount, id)
	}
	last, err := m.store.Events(ctx, id, 1)
	if err != nil {
		return fmt.Errorf("reload the timeline of %s: %w", id, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.idle() {
		return nil // it runs here: this node's copy is the true one
	}
	a.m.Account = *acct
	// What the last owner's timeline says, not "run by another node": this
	// node runs it now.
	a.m.Reason = ""
	if len(last) > 0 {
		a.seq = max(a.seq, last[0].Seq)
		a.m.Epoch = max(a.m.Epoch, last[0].Epoch)
		a.m.Reason, a.m.Since = last[0].Reason, last[0].At
	}
	m.hub.publish(a.m.Status)
	return nil
}

// Refresh brings in what other nodes changed in the shared store: accounts
// added elsewhere join this Manager (Idle: the fleet decides who runs them),
// records of accounts that run nowhere here are replaced by the stored ones
// (a name, a pairing, a Disconnect), and accounts deleted elsewhere leave.
// Accounts that run here are left alone. It returns how many were added and
// removed.
func (m *Manager) Refresh(ctx context.Context) (added, removed int, err error) {
	// No local Add between the read and the merge: one stored after the
	// read would look deleted elsewhere.
	m.regMu.Lock()
	defer m.regMu.Unlock()
	accts, err := m.store.Accounts(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reload the accounts: %w", err)
	}
	stored := make(map[AccountID]Account, len(accts))
	for _, acct := range accts {
		stored[acct.ID] = acct
	}

	// New accounts, with their timelines' positions.
	var fresh []*account
	for id, acct := range stored {
		if m.lookup(id) != nil {
			continue
		}
		a := m.newAccount(acct)
		a.m.Reason = ReasonElsewhere
		last, err := m.store.Events(ctx, id, 1)
		if err != nil {
			return 0, 0, fmt.Errorf("load the timeline of %s: %w", id, err)
		}
		if len(last) > 0 {
			a.seq, a.m.Epoch = last[0].Seq, last[0].Epoch
		}
		fresh = append(fresh, a)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, 0, ErrClosed
	}
	for _, a := range fresh {
		m.accounts[a.id] = a
	}
	local := make([]*account, 0, len(m.accounts))
	for _, a := range m.accounts {
		local = append(local, a)
	}
	m.mu.Unlock()
	for _, a := range fresh {
		m.hub.publish(a.m.Status)
	}

	var gone []*account
	for _, a := range local {
		if m.gate == nil || m.mayRun(a.id) == nil {
			continue // it runs here: this node's copy is the true one
		}
		acct, ok := stored[a.id]
		a.mu.Lock()
		if !a.idle() {
			a.mu.Unlock()
			continue
		}
		var st Status
		switch {
		case !ok:
			a.m.deleted = true
			st = a.m.Status
			st.Removed = true
			gone = append(gone, a)
		case !sameAccount(acct, a.m.Account):
			a.m.Account = acct
			st = a.m.Status
		default:
			a.mu.Unlock()
			continue
		}
		a.mu.Unlock()
		m.hub.publish(st)
	}
	if len(gone) > 0 {
		m.mu.Lock()
		for _, a := range gone {
			delete(m.accounts, a.id)
		}
		m.mu.Unlock()
	}
	return len(fresh), len(gone), nil
}

func sameAccount(a, b Account) bool {
	return a.ID == b.ID && a.Name == b.Name && a.JID == b.JID && a.AutoStart == b.AutoStart &&
		a.Proxy == b.Proxy && a.CreatedAt.Equal(b.CreatedAt)
}
