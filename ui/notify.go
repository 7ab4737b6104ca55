package ui

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"

	"warden/core"
	"warden/core/history"
)

// notifyEvery is the least time between two desktop notifications about one
// account, and between two about fleet drops.
const notifyEvery = 5 * time.Minute

// alerts sends the desktop notifications: when accounts enter a state that
// needs the operator, and when many accounts drop at once. Each account gets
// at most one notification per notifyEvery, and so do fleet drops. They can
// be turned off and on at any time.
type alerts struct {
	send func(*fyne.Notification)
	on   atomic.Bool

	accounts *history.RateLimiter[core.AccountID]
	fleet    *history.RateLimiter[struct{}]
}

func newAlerts(send func(*fyne.Notification), on bool) *alerts {
	a := &alerts{
		send:     send,
		accounts: history.NewRateLimiter[core.AccountID](notifyEvery),
		fleet:    history.NewRateLimiter[struct{}](notifyEvery),
	}
	a.on.Store(on)
	return a
}

// needsOperator reports whether s is a state the operator must act on, for
// notifications: Replaced and parked, LoggedOut, Banned (even with an
// expiry: the operator should know), Outdated or Failed.
func needsOperator(s core.Status) bool {
	if s.Stuck() { // its proxy keeps refusing
		return true
	}
	switch s.State {
	case core.LoggedOut, core.Banned, core.Outdated, core.Failed:
		return true
	case core.Replaced:
		return s.NextAttempt.IsZero()
	}
	return false
}

// entersNeedsOperator reports whether the change from old to s brings the
// account into a state that needs the operator: from one that did not, or
// from another one that did.
func entersNeedsOperator(old, s core.Status) bool {
	if s.Stuck() { // once, not at every retry (Waiting ⇄ Connecting)
		return !old.Stuck()
	}
	return needsOperator(s) && (!needsOperator(old) || old.State != s.State)
}

// accountsNeedAction notifies about accounts that just entered a state that
// needs the operator: one notification for the batch, naming those whose
// last notification is older than notifyEvery.
func (a *alerts) accountsNeedAction(became []core.Status, now time.Time) {
	if !a.on.Load() || len(became) == 0 {
		return
	}
	var due []core.Status
	for _, s := range became {
		if a.accounts.Allow(s.Account.ID) {
			due = append(due, s)
		}
	}
	if n := needsActionNotification(due, now); n != nil {
		a.send(n)
	}
}

// selfChecksFailed notifies about accounts whose periodic self-check just
// failed: they stay connected, so nothing else would tell the operator.
func (a *alerts) selfChecksFailed(failed []core.Status) {
	if !a.on.Load() || len(failed) == 0 {
		return
	}
	var due []core.Status
	for _, s := range failed {
		if a.accounts.Allow(s.Account.ID) {
			due = append(due, s)
		}
	}
	switch len(due) {
	case 0:
	case 1:
		s := due[0]
		a.send(fyne.NewNotification("Warden: “"+s.Account.Name+"” failed its self-check",
			capitalize(s.LastCheck.Err)+". It is still connected; send a test message to see more."))
	default:
		names := make([]string, len(due))
		for i, s := range due {
			names[i] = s.Account.Name
		}
		a.send(fyne.NewNotification(fmt.Sprintf("Warden: %d connections failed their self-check", len(due)), nameList(names)))
	}
}

// fleetDropped notifies about a fleet drop of the named accounts, unless
// another one was notified less than notifyEvery ago.
func (a *alerts) fleetDropped(alert history.FleetAlert, names []string) {
	if !a.on.Load() || len(names) == 0 || !a.fleet.Allow(struct{}{}) {
		return
	}
	a.send(fyne.NewNotification(
		"Warden: "+alert.Headline(),
		capitalize(alert.Likely())+": "+nameList(names)+"."))
}

// needsActionNotification is the desktop notification for accounts that
// came to need the operator, one for a whole batch; nil when none did.
func needsActionNotification(became []core.Status, now time.Time) *fyne.Notification {
	switch len(became) {
	case 0:
		return nil
	case 1:
		s := became[0]
		title := "Warden: “" + s.Account.Name + "” needs action"
		if s.State == core.Banned && !s.NextAttempt.IsZero() { // it tries again by itself
			title = "Warden: “" + s.Account.Name + "” is banned for now"
		}
		return fyne.NewNotification(title, statusLine(s, now))
	}
	names := make([]string, len(became))
	for i, s := range became {
		names[i] = s.Account.Name
	}
	return fyne.NewNotification(fmt.Sprintf("Warden: %d connections need action", len(became)), nameList(names))
}

// nameList quotes the first three names and counts the rest: "“A”, “B”,
// “C” and 2 more".
func nameList(names []string) string {
	quoted := make([]string, 0, 3)
	for _, n := range names[:min(3, len(names))] {
		quoted = append(quoted, "“"+n+"”")
	}
	s := strings.Join(quoted, ", ")
	if more := len(names) - len(quoted); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
