package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file holds the state machine: one pure function, step, that takes an
// account's machine, one input and the time, and returns the next machine and
// the actions to run. It does no I/O; the Manager runs the actions.

// machine is everything step knows about one account: the public Status plus
// the bookkeeping that guards the single-client invariant.
type machine struct {
	Status

	// open is true while a session of Epoch exists and has not been closed. It
	// is true exactly in Pairing, Connecting and Connected.
	open bool
	// deadline holds the instant each timer is armed for (zero: disarmed). A
	// tick counts only if it carries the same instant, so a stale timer that
	// fired after being re-armed or disarmed changes nothing.
	deadline [numTimers]time.Time
	// conflicts are the instants of recent conflicts (Replaced), for the breaker.
	conflicts []time.Time
	// loggingOut is set while an operator's Logout is in flight.
	loggingOut bool
	// afterPairing is set from a pairing until the next dial: the login in
	// Connecting is the one after the phone linked the device.
	afterPairing bool
	// pairPhone is the number (digits) the operator asked a pairing code for
	// in this pairing, "" for none: the phone that links is checked against it.
	pairPhone string
	// deleted is set once Delete started; every later input is ignored.
	deleted bool
}

type timerKind int

const (
	timerDial   timerKind = iota // Waiting, Replaced (takeover), Banned (expiry), start-up
	timerStable                  // Connected long enough: reset the attempt counter
	timerZombie                  // keepalives failing for too long
	timerLogin                   // Connecting for too long: the login never finished
	numTimers
)

var timerNames = [numTimers]string{"dial", "stable", "zombie", "login"}

func (k timerKind) String() string { return timerNames[k] }

type inputKind int

const (
	inConnect     inputKind = iota + 1 // operator: start / retry now / take over / pair again
	inDisconnect                       // operator: close, keep the pairing
	inLogout                           // operator: unlink on the phone
	inLogoutDone                       // the result of a logout action
	inDelete                           // operator: wipe the account
	inPairPhone                        // operator: ask for a phone pairing code
	inSession                          // a session reported an event
	inDialFailed                       // NewSession or Connect returned an error
	inTick                             // a timer fired
	inStartup                          // Manager.Start: first dial after delay
	inShutdown                         // Manager.Close
	inYield                            // the node no longer runs the account (see Gate)
	inKeysMissing                      // Manager.Start: a paired account's device keys are gone
)

var inputNames = map[inputKind]string{
	inConnect: "connect", inDisconnect: "disconnect", inLogout: "logout", inLogoutDone: "logout done",
	inDelete: "delete", inPairPhone: "pair phone", inSession: "session", inDialFailed: "dial failed",
	inTick: "tick", inStartup: "startup", inShutdown: "shutdown", inYield: "yield",
	inKeysMissing: "keys missing",
}

func (k inputKind) String() string { return inputNames[k] }

// input is one thing that happened to an account.
type input struct {
	kind  inputKind
	epoch uint64       // inSession, inDialFailed, inLogoutDone: the session's epoch
	ev    SessionEvent // inSession
	err   error        // inDialFailed, inLogoutDone
	// reason is inYield's, in an operator's words.
	reason string
	// permanent marks a dial failure that retrying cannot fix (no session
	// could even be created).
	permanent bool
	timer     timerKind     // inTick
	at        time.Time     // inTick: the deadline the timer was armed for
	delay     time.Duration // inStartup
	phone     string        // inPairPhone
	// rnd in [0,1) picks the jitter; the Manager draws it, so step stays pure.
	rnd float64
	// reply carries the result of a logout, pair-phone or delete action back
	// to the command that asked for it.
	reply chan result
}

func (in input) String() string {
	switch in.kind {
	case inSession:
		return fmt.Sprintf("session#%d %v", in.epoch, in.ev.Kind)
	case inTick:
		return "tick " + in.timer.String()
	}
	return in.kind.String()
}

// result is what a command waiting on an action gets back.
type result struct {
	code string
	err  error
}

type actionKind int

const (
	actDial      actionKind = iota + 1 // create the session of epoch and connect it
	actClose                           // close the session of epoch; returns when its socket is closed
	actLogout                          // log the session of epoch out, then feed inLogoutDone
	actPairPhone                       // ask the session of epoch for a phone code
	actDelete                          // log out if tryLogout, close, wipe keys, account and data
	actArm                             // arm timer at
	actDisarm                          // disarm timer
	actRecord                          // append event to the timeline
	actSave                            // persist account
)

var actionNames = map[actionKind]string{
	actDial: "dial", actClose: "close", actLogout: "logout", actPairPhone: "pair-phone", actDelete: "delete",
	actArm: "arm", actDisarm: "disarm", actRecord: "record", actSave: "save",
}

// action is one thing the Manager must do for an account. Dial, close, logout,
// pair-phone, delete and save run in order on the account's own runner; arm,
// disarm and record are applied at once.
type action struct {
	kind      actionKind
	epoch     uint64
	timer     timerKind
	at        time.Time
	event     Event
	account   Account
	tryLogout bool
	linked    bool
	phone     string
	reply     chan result
}

func (a action) String() string {
	switch a.kind {
	case actDial, actClose, actLogout, actPairPhone:
		return fmt.Sprintf("%s#%d", actionNames[a.kind], a.epoch)
	case actArm, actDisarm:
		return actionNames[a.kind] + " " + a.timer.String()
	case actRecord:
		return fmt.Sprintf("record %v→%v", a.event.From, a.event.To)
	}
	return actionNames[a.kind]
}

// queued reports whether the action runs on the account's runner, in order.
func (a action) queued() bool {
	switch a.kind {
	case actArm, actDisarm, actRecord:
		return false
	}
	return true
}

// transition accumulates one step's changes.
type transition struct {
	m    machine
	acts []action
	now  time.Time
	p    Policy
	in   input
}

// step applies one input to a machine. It is pure: the same arguments always
// give the same result. A command that cannot be carried out in the current
// state returns an error and changes nothing.
func step(m machine, in input, now time.Time, p Policy) (machine, []action, error) {
	if m.deleted {
		return m, nil, ErrUnknownAccount
	}
	// Never share the conflicts slice with the caller's copy.
	m.conflicts = slices.Clone(m.conflicts)
	t := &transition{m: m, now: now, p: p, in: in}
	var err error
	switch in.kind {
	case inConnect:
		err = t.connect()
	case inDisconnect:
		err = t.disconnect()
	case inLogout:
		err = t.logout()
	case inLogoutDone:
		t.logoutDone()
	case inPairPhone:
		err = t.pairPhone()
	case inDelete:
		t.delete()
	case inSession:
		t.session()
	case inDialFailed:
		t.dialFailed()
	case inTick:
		t.tick()
	case inStartup:
		t.startup()
	case inShutdown:
		t.shutdown()
	case inYield:
		t.yield(t.in.reason)
	case inKeysMissing:
		t.keysMissing()
	default:
		err = fmt.Errorf("core: unknown input %d", in.kind)
	}
	if err != nil {
		return m, nil, err
	}
	return t.m, t.acts, nil
}

// --- building blocks -------------------------------------------------------

func (t *transition) do(a action) { t.acts = append(t.acts, a) }

// enter moves to state and records the transition as an Event.
func (t *transition) enter(to State, cause, reason string) {
	from := t.m.State
	if from != to {
		t.m.Since = t.now
	}
	t.m.State = to
	t.m.Reason = reason
	if to != Pairing {
		t.m.QRCode, t.m.QRIndex, t.m.QRTotal, t.m.QRExpires = "", 0, 0, time.Time{}
		t.m.pairPhone = ""
	}
	if to != Connected {
		t.m.KeepAliveFailingSince = time.Time{}
	}
	if to != Waiting && to != Replaced && to != Banned {
		t.m.NextAttempt = time.Time{}
	}
	// A dial's problem stays while the account tries again; dialFailed
	// sets the new one.
	if to != Connecting && cause != CauseDialFailed {
		t.m.Problem, t.m.Refusals, t.m.Detail = ProblemNone, 0, ""
	}
	t.record(from, to, cause, reason, 0)
}

// note records an event that changes no state (a skip, a dropped stale event).
func (t *transition) note(cause, reason string) {
	t.record(t.m.State, t.m.State, cause, reason, 0)
}

func (t *transition) record(from, to State, cause, reason string, delay time.Duration) {
	t.do(action{kind: actRecord, event: Event{
		Account: t.m.Account.ID, At: t.now, From: from, To: to, Cause: cause, Reason: reason,
		Attempt: t.m.Attempt, Delay: delay, Epoch: t.m.Epoch,
	}})
}

// lastDelay sets the delay of the event just recorded.
func (t *transition) lastDelay(d time.Duration) {
	for i := len(t.acts) - 1; i >= 0; i-- {
		if t.acts[i].kind == actRecord {
			t.acts[i].event.Delay = d
			return
		}
	}
}

func (t *transition) arm(k timerKind, at time.Time) {
	t.m.deadline[k] = at
	t.do(action{kind: actArm, timer: k, at: at})
}

func (t *transition) disarm(k timerKind) {
	if t.m.deadline[k].IsZero() {
		return
	}
	t.m.deadline[k] = time.Time{}
	t.do(action{kind: actDisarm, timer: k})
}

func (t *transition) disarmAll() {
	for k := range numTimers {
		t.disarm(k)
	}
}

// closeSession closes the open session, if any, and the timers that belong to
// a live session.
func (t *transition) closeSession() {
	t.disarm(timerStable)
	t.disarm(timerZombie)
	t.disarm(timerLogin)
	if !t.m.open {
		return
	}
	t.m.open = false
	t.m.loggingOut = false
	t.do(action{kind: actClose, epoch: t.m.Epoch})
}

// dial starts a new session. The caller has closed the previous one: the
// close action comes first in the account's queue, so the new session is
// created only after the old one's Close returned.
func (t *transition) dial(cause, reason string) {
	t.closeSession()
	t.disarm(timerDial)
	t.m.Epoch++
	t.m.open = true
	t.m.afterPairing = false
	t.do(action{kind: actDial, epoch: t.m.Epoch})
	if t.m.Account.JID == "" {
		t.enter(Pairing, cause, "starting pairing: waiting for a QR code")
		return
	}
	t.armLogin()
	t.enter(Connecting, cause, reason)
}

// armLogin starts the login timer: Connecting ends by logging in or by
// this timer, never by waiting forever.
func (t *transition) armLogin() {
	t.arm(timerLogin, t.now.Add(t.p.loginTimeout()))
}

// retry schedules the next attempt on the reconnect schedule.
func (t *transition) retry(cause, reason string) {
	t.closeSession()
	t.m.Attempt++
	d := t.p.JitteredDelay(t.m.Attempt, t.in.rnd)
	t.m.NextAttempt = t.now.Add(d)
	t.arm(timerDial, t.m.NextAttempt)
	t.enter(Waiting, cause, reason)
	t.lastDelay(d)
}

// setAutoStart changes whether the account is restarted after a restart of
// Warden, and saves it.
func (t *transition) setAutoStart(on bool) {
	if t.m.Account.AutoStart == on {
		return
	}
	t.m.Account.AutoStart = on
	t.do(action{kind: actSave, account: t.m.Account})
}

// --- commands --------------------------------------------------------------

func (t *transition) connect() error {
	switch t.m.State {
	case Connected:
		return ErrAlreadyConnected
	case Connecting, Pairing:
		t.note(CauseSkipped, "a connection attempt is already running")
		return nil
	}
	reason := "connecting"
	switch t.m.State {
	case Waiting:
		reason = fmt.Sprintf("retrying now (attempt %d)", t.m.Attempt)
	case Replaced:
		reason = "taking the account over from the other client (operator)"
		t.m.Attempt = 0
	case LoggedOut:
		reason = "pairing again"
		t.m.Attempt = 0
	case Banned:
		reason = "connecting before the ban expires (operator)"
		t.m.Attempt = 0
	default:
		t.m.Attempt = 0
	}
	t.setAutoStart(true)
	t.dial(CauseConnect, reason)
	return nil
}

func (t *transition) disconnect() error {
	if t.m.State == Idle && !t.m.open {
		if !t.m.Account.AutoStart {
			return fmt.Errorf("%w: it is already disconnected", ErrNotConnected)
		}
		// Idle, but meant to run: waiting for its node in a fleet, or left
		// pairing when Warden closed. It stays off.
		t.setAutoStart(false)
		t.enter(Idle, CauseDisconnect, "disconnected by the operator")
		return nil
	}
	reason := "disconnected by the operator"
	if t.m.State == Pairing {
		reason = "pairing cancelled by the operator"
	}
	t.closeSession()
	t.disarmAll()
	t.m.Attempt = 0
	t.setAutoStart(false)
	t.enter(Idle, CauseDisconnect, reason)
	return nil
}

func (t *transition) logout() error {
	if t.m.State != Connected || !t.m.open {
		return fmt.Errorf("%w: log out needs a live connection", ErrNotConnected)
	}
	if t.m.loggingOut {
		return fmt.Errorf("%w: a log out is already running", ErrBusy)
	}
	t.m.loggingOut = true
	t.do(action{kind: actLogout, epoch: t.m.Epoch, reply: t.in.reply})
	return nil
}

func (t *transition) logoutDone() {
	if t.in.epoch != t.m.Epoch || !t.m.loggingOut {
		return // an older session's logout, or one a Disconnect overtook
	}
	t.m.loggingOut = false
	if t.in.err != nil {
		t.note(CauseLogoutError, "log out failed: "+t.in.err.Error())
		return
	}
	t.closeSession()
	t.disarmAll()
	t.m.Attempt = 0
	t.setAutoStart(false)
	t.enter(LoggedOut, CauseLogout, "logged out by the operator: the device was unlinked from the phone")
}

func (t *transition) pairPhone() error {
	if t.m.State != Pairing || !t.m.open {
		return ErrNotPairing
	}
	t.do(action{kind: actPairPhone, epoch: t.m.Epoch, phone: t.in.phone, reply: t.in.reply})
	t.m.pairPhone = t.in.phone
	return nil
}

func (t *transition) delete() {
	// A device is still linked on the phone unless it was never paired, the
	// phone already unlinked it, or it is being paired again.
	linked := t.m.Account.JID != "" && t.m.State != LoggedOut && t.m.State != Pairing
	tryLogout := t.m.State == Connected && t.m.open
	t.disarmAll()
	t.m.open = false // the delete action closes the session itself, after the logout
	t.m.deleted = true
	t.do(action{kind: actDelete, epoch: t.m.Epoch, tryLogout: tryLogout, linked: linked, account: t.m.Account, reply: t.in.reply})
}

// --- facts -----------------------------------------------------------------

func (t *transition) session() {
	ev := t.in.ev
	if t.in.epoch != t.m.Epoch || !t.m.open {
		t.note(CauseStale, fmt.Sprintf("late %q from session #%d ignored (current session #%d)", ev.Kind.String(), t.in.epoch, t.m.Epoch))
		return
	}
	cause := ev.Kind.String()
	switch ev.Kind {
	case SessionQR:
		if t.m.State == Connecting {
			t.disarm(timerLogin)
			t.enter(Pairing, cause, "the device keys are missing: pair again")
		}
		if t.m.State != Pairing {
			return
		}
		t.m.QRCode, t.m.QRIndex, t.m.QRTotal, t.m.QRExpires = ev.QRCode, ev.QRIndex, ev.QRTotal, ev.QRExpires
		t.m.Reason = "scan the QR code"

	case SessionPairSuccess:
		if t.m.State != Pairing {
			return
		}
		before := t.m.Account.Phone()
		t.m.Account.JID = ev.JID
		t.m.Account.AutoStart = true
		t.do(action{kind: actSave, account: t.m.Account})
		reason := "paired: logging in"
		if warn := otherPhone(t.m.Account.Phone(), t.m.pairPhone, before); warn != "" {
			t.note(CauseOtherPhone, warn)
			reason = warn + "; logging in"
		}
		t.m.pairPhone = ""
		// WhatsApp now restarts the connection (515) and the session logs
		// in with its new keys: that login is bounded like any other.
		t.m.afterPairing = true
		t.armLogin()
		t.enter(Connecting, cause, reason)

	case SessionPairError:
		if t.m.State != Pairing {
			return
		}
		t.closeSession()
		t.setAutoStart(false)
		t.enter(Failed, cause, "pairing failed: "+orDefault(ev.Reason, "the phone rejected the pairing"))

	case SessionQRTimeout:
		if t.m.State != Pairing {
			return
		}
		t.closeSession()
		t.setAutoStart(false)
		t.enter(Idle, cause, "QR code expired")

	case SessionConnected:
		if t.m.State == Connected {
			t.note(cause, "the session reconnected by itself (server restart)")
			return
		}
		t.disarm(timerLogin)
		t.enter(Connected, cause, "")
		if t.m.Attempt > 0 {
			t.arm(timerStable, t.now.Add(t.p.StableAfter))
		}

	case SessionDisconnected, SessionConnectFailure:
		if t.m.State == Pairing && t.m.Account.JID == "" {
			t.closeSession()
			t.setAutoStart(false)
			t.enter(Idle, cause, "the connection dropped while pairing: press Connect for a new QR code")
			return
		}
		t.resetIfStable()
		t.retry(cause, disconnectReason(ev))

	case SessionReplaced:
		t.closeSession()
		t.m.Attempt = 0
		t.replaced(cause)

	case SessionLoggedOut:
		t.closeSession()
		t.disarmAll()
		t.m.Attempt = 0
		t.setAutoStart(false)
		reason := "the phone unlinked this device: pair again"
		if ev.Code != 0 {
			reason = fmt.Sprintf("WhatsApp logged this device out (%d): pair again", ev.Code)
		}
		t.enter(LoggedOut, cause, reason)

	case SessionTemporaryBan:
		t.closeSession()
		t.m.Attempt = 0
		if ev.Until.IsZero() {
			t.m.NextAttempt = time.Time{}
			t.setAutoStart(false)
			t.enter(Banned, cause, fmt.Sprintf("temporarily banned by WhatsApp (code %d); the expiry is unknown", ev.Code))
			return
		}
		d := t.p.JitteredDelay(1, t.in.rnd)
		t.m.NextAttempt = ev.Until.Add(d)
		t.arm(timerDial, t.m.NextAttempt)
		t.enter(Banned, cause, fmt.Sprintf("temporarily banned by WhatsApp (code %d) until %s; Warden tries once then",
			ev.Code, clock(ev.Until)))
		t.lastDelay(t.m.NextAttempt.Sub(t.now))

	case SessionOutdated:
		t.closeSession()
		t.m.Attempt = 0
		t.setAutoStart(false)
		reason := "WhatsApp rejected this client version (405): update Warden"
		if ev.Reason != "" {
			reason = ev.Reason + ": update Warden"
		}
		t.enter(Outdated, cause, reason)

	case SessionKeepAliveTimeout:
		if t.m.State == Connected && t.m.KeepAliveFailingSince.IsZero() {
			t.m.KeepAliveFailingSince = t.now
			t.arm(timerZombie, t.now.Add(t.p.ZombieAfter))
		}

	case SessionKeepAliveRestored:
		t.m.KeepAliveFailingSince = time.Time{}
		t.disarm(timerZombie)
	}
}

// replaced applies the conflict breaker.
func (t *transition) replaced(cause string) {
	window := t.now.Add(-t.p.ConflictWindow)
	t.m.conflicts = slices.DeleteFunc(t.m.conflicts, func(c time.Time) bool { return !c.After(window) })
	t.m.conflicts = append(t.m.conflicts, t.now)
	if !t.p.TakeoverOff && len(t.m.conflicts) < t.p.ConflictLimit {
		t.m.NextAttempt = t.now.Add(t.p.TakeoverDelay)
		t.arm(timerDial, t.m.NextAttempt)
		t.enter(Replaced, cause, fmt.Sprintf("another client took this account at %s: taking it back once in %s",
			clock(t.now), t.p.TakeoverDelay))
		t.lastDelay(t.p.TakeoverDelay)
		return
	}
	t.disarm(timerDial)
	t.m.NextAttempt = time.Time{}
	t.setAutoStart(false)
	t.enter(Replaced, cause, fmt.Sprintf("another client is using this account since %s", clock(t.m.conflicts[0])))
}

// resetIfStable resets the attempt counter when the connection that just
// ended lasted long enough, even if the stable timer's tick is still on its way.
func (t *transition) resetIfStable() {
	if t.m.State == Connected && t.now.Sub(t.m.Since) >= t.p.StableAfter {
		t.m.Attempt = 0
	}
}

func (t *transition) dialFailed() {
	if t.in.epoch != t.m.Epoch || !t.m.open {
		return // the attempt was already abandoned (closed, cancelled or superseded)
	}
	msg := "unknown error"
	if t.in.err != nil {
		msg = t.in.err.Error()
	}
	problem, line := ClassifyDialError(t.in.err)
	defer func() {
		if t.m.State == Failed || problem == ProblemNone {
			t.m.Problem, t.m.Refusals, t.m.Detail = ProblemNone, 0, ""
			return
		}
		if t.m.Problem == problem {
			t.m.Refusals++
		} else {
			t.m.Problem, t.m.Refusals = problem, 1
		}
		t.m.Detail = msg
	}()
	switch {
	case errors.Is(t.in.err, ErrNotOwned):
		t.yield(ReasonElsewhere)
	case t.in.permanent:
		t.closeSession()
		t.disarmAll()
		t.setAutoStart(false)
		t.enter(Failed, CauseDialFailed, "could not start a session: "+msg)
	case t.m.Account.JID == "" && problem != ProblemNone:
		t.closeSession()
		t.setAutoStart(false)
		t.enter(Idle, CauseDialFailed, line+"; press Connect to try again")
	case t.m.Account.JID == "":
		t.closeSession()
		t.setAutoStart(false)
		t.enter(Idle, CauseDialFailed, "could not reach WhatsApp to pair ("+msg+"): press Connect to try again")
	case problem != ProblemNone:
		t.retry(CauseDialFailed, line)
	default:
		t.retry(CauseDialFailed, "could not connect: "+msg)
	}
}

func (t *transition) tick() {
	k := t.in.timer
	if k < 0 || k >= numTimers || t.m.deadline[k].IsZero() || !t.m.deadline[k].Equal(t.in.at) {
		return // disarmed or re-armed since: a stale tick
	}
	t.m.deadline[k] = time.Time{}
	switch k {
	case timerDial:
		switch t.m.State {
		case Waiting:
			reason := "reconnecting"
			if t.m.Attempt > 0 {
				reason = fmt.Sprintf("reconnecting (attempt %d)", t.m.Attempt)
			}
			t.dial(CauseTimer, reason)
		case Replaced:
			t.dial(CauseTimer, "taking the account back from the other client")
		case Banned:
			t.dial(CauseTimer, "the ban has expired: trying once")
		}
	case timerStable:
		if t.m.State == Connected {
			t.m.Attempt = 0
		}
	case timerZombie:
		if t.m.State == Connected && t.m.open {
			t.retry(CauseZombie, fmt.Sprintf("WhatsApp did not answer keepalives for %s: reconnecting", t.p.ZombieAfter))
		}
	case timerLogin:
		if t.m.State == Connecting && t.m.open {
			reason := fmt.Sprintf("logging in took longer than %s; trying again", seconds(t.p.loginTimeout()))
			if t.m.afterPairing {
				reason = fmt.Sprintf("paired, but logging in after pairing did not finish within %s; trying again",
					seconds(t.p.loginTimeout()))
			}
			t.retry(CauseLoginTimeout, reason)
		}
	}
}

func (t *transition) startup() {
	if t.m.State != Idle || t.m.open {
		return
	}
	t.m.Attempt = 0
	t.m.NextAttempt = t.now.Add(t.in.delay)
	t.arm(timerDial, t.m.NextAttempt)
	t.enter(Waiting, CauseStartup, "starting")
	t.lastDelay(t.in.delay)
}

// keysMissing shows an idle paired account whose device keys are gone as
// needing pairing again, rather than letting a dial pair it anew behind a
// QR code. It keeps AutoStart: with its keys put back, the account starts
// again at the next start.
func (t *transition) keysMissing() {
	if t.m.State != Idle || t.m.open || t.m.Account.JID == "" {
		return
	}
	t.enter(LoggedOut, CauseStartup, ReasonKeysMissing)
}

// yield closes the session and the timers of an account this node does not
// run (any more): Idle, AutoStart kept.
func (t *transition) yield(reason string) {
	if reason == "" {
		reason = ReasonElsewhere
	}
	if t.m.State == Idle && !t.m.open && t.m.deadline[timerDial].IsZero() {
		// Nothing ran here: only the status says why. No event: the
		// account's timeline is its owner's to write.
		t.m.Reason = reason
		return
	}
	t.closeSession()
	t.disarmAll()
	t.m.NextAttempt, t.m.Attempt = time.Time{}, 0
	t.enter(Idle, CauseElsewhere, reason)
}

// shutdown closes the session and the timers. A running account becomes Idle;
// one that waits for the operator keeps its state. Either way the timeline
// notes that Warden stopped, so its gaps read right.
func (t *transition) shutdown() {
	running := t.m.open || !t.m.deadline[timerDial].IsZero()
	t.closeSession()
	t.disarmAll()
	if running {
		t.m.NextAttempt, t.m.Attempt = time.Time{}, 0
		t.enter(Idle, CauseShutdown, "Warden was closed")
		return
	}
	t.note(CauseShutdown, "Warden was closed")
}

// --- words -----------------------------------------------------------------

// The words of a disconnect that WhatsApp's servers made (Event.ByServer).
const (
	reasonLoginRefused     = "WhatsApp refused the login"
	reasonClosedByWhatsApp = "the connection was closed by WhatsApp"
)

func disconnectReason(ev SessionEvent) string {
	switch {
	case ev.Kind == SessionConnectFailure && ev.Code != 0:
		return fmt.Sprintf(reasonLoginRefused+" (%d%s)", ev.Code, prefixed(": ", ev.Reason))
	case ev.Kind == SessionConnectFailure:
		return reasonLoginRefused + prefixed(": ", ev.Reason)
	case ev.Code != 0:
		return fmt.Sprintf(reasonClosedByWhatsApp+" (stream error %d)", ev.Code)
	case ev.Reason != "":
		return "the connection was lost: " + ev.Reason
	}
	return "the connection was lost"
}

// ByServer reports whether a disconnect event says that WhatsApp's servers
// ended the connection (a stream error) or refused the login, as against a
// connection lost on the way or keepalives left unanswered.
func (ev Event) ByServer() bool {
	return strings.HasPrefix(ev.Reason, reasonClosedByWhatsApp) || strings.HasPrefix(ev.Reason, reasonLoginRefused)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// seconds formats a duration as whole seconds, "60 s"; one under a second
// as Go does.
func seconds(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	return fmt.Sprintf("%d s", int64(d.Round(time.Second)/time.Second))
}

// clock formats an instant as the operator's wall clock, HH:MM.
func clock(t time.Time) string { return t.Local().Format("15:04") }

// CauseOtherPhone is the cause of the note recorded when the phone that
// linked is not the one the operator meant: not the number typed for a
// pairing code, or not the account's number before it was paired again.
const CauseOtherPhone = "paired with another phone"

// otherPhone says how the phone that linked (linked, digits) differs from the
// number typed for the code (typed) and from the account's number before
// (before); "" when it is the expected one. Either may be "" (not known).
func otherPhone(linked, typed, before string) string {
	switch {
	case linked == "":
		return ""
	case typed != "" && linked != typed:
		return "the phone +" + linked + " linked, not +" + typed + ", the number the code was asked for"
	case before != "" && linked != before:
		return "this account was +" + before + " and is now the phone +" + linked
	}
	return ""
}
