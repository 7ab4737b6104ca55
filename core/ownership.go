package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
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
	// Allowed reports whether the account may be dialled now. The Manager
	// asks before it makes a session and again right before the session's
	// socket opens.
	Allowed(id AccountID) (Grant, bool)
}

// Grant is a Gate's permission to run one account.
type Grant struct {
	// Token is the fencing token of this node's ownership, recorded on every
	// event of the session it dials.
	Token int64
	// Lease ends when this node's right to run the account ends (its lease
	// may expire): a dial under way is abandoned then. Nil: never.
	Lease context.Context
}

// Yield closes the account's session and timers because this node no longer
// runs it; the account becomes Idle with reason, and keeps AutoStart. If ctx
// ends before the session closed politely, the session is torn down hard
// (Session.Abort) and Yield returns once it is.
func (m *Manager) Yield(ctx context.Context, id AccountID, reason string) error {
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	a.mu.Lock()
	deleting := a.m.deleted
	a.mu.Unlock()
	// An account being deleted has no state left to change, but its delete
	// may still hold a live session (its logout): that closes all the same.
	if !deleting {
		if err := m.inputTo(a, input{kind: inYield, reason: reason}); err != nil {
			return err
		}
	}
	_, err := m.settle(ctx, a)
	return err
}

// YieldAll yields every account at once, as Yield does: this node's lease may
// have expired. The sessions close in parallel; those still closing when ctx
// ends are torn down hard. It returns when every session is closed, and
// reports how many had to be torn down.
func (m *Manager) YieldAll(ctx context.Context, reason string) (aborted int, err error) {
	accts := m.all()
	for _, a := range accts {
		a.mu.Lock()
		runs := !a.idle() && !a.m.deleted
		a.mu.Unlock()
		if runs { // an account idle here keeps its own reason
			_ = m.inputTo(a, input{kind: inYield, reason: reason}) // closed meanwhile: nothing to yield
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, a := range accts {
		wg.Go(func() {
			hard, err := m.settle(ctx, a)
			mu.Lock()
			defer mu.Unlock()
			if hard {
				aborted++
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a.id, err))
			}
		})
	}
	wg.Wait()
	return aborted, errors.Join(errs...)
}

// abortWait bounds how long a session may take to go once torn down hard.
const abortWait = 2 * time.Second

// settle waits for the account's queued actions (the close); when ctx ends
// first, it tears the session down hard, waits a little more, and reports
// that it had to.
func (m *Manager) settle(ctx context.Context, a *account) (hard bool, err error) {
	if m.barrierOf(ctx, a) == nil {
		return false, nil
	}
	m.abort(a)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortWait)
	defer cancel()
	if err := m.barrierOf(actx, a); err != nil {
		return true, fmt.Errorf("the session did not close, even torn down: %w", err)
	}
	return true, nil
}

// abort tears down the account's session, closing or not, and abandons a
// dial under way.
func (m *Manager) abort(a *account) {
	a.mu.Lock()
	s := a.closing
	if s == nil {
		s = a.sess
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	if s != nil {
		s.Abort()
		a.log.Warn("session torn down: its close took too long")
	}
}

// Running returns the accounts that run anything here: a session open or
// closing, a dial or a retry pending, or a delete under way (an account
// being deleted holds its device until its keys are gone). A node must own
// every one of them.
func (m *Manager) Running() []AccountID {
	accts := m.all()
	var out []AccountID
	for _, a := range accts {
		a.mu.Lock()
		if a.m.deleted || !a.idle() {
			out = append(out, a.id)
		}
		a.mu.Unlock()
	}
	slices.Sort(out)
	return out
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
