package core

import (
	"context"
	"errors"
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
