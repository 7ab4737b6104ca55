package core

import (
	"context"
	"fmt"
)

// A fleet's nodes share one store (PostgreSQL): what another node changed
// comes in here, and this node's last events go out before a handover.

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
