package ui

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"warden/core"
	"warden/core/history"
)

func TestNotifiesWhenAnAccountNeedsAction(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	s := statusOf(t, "connected")
	s.State, s.Since, s.Reason = core.LoggedOut, t0, "The phone removed this linked device."
	test.AssertNotificationSent(t, &fyne.Notification{
		Title:   "Warden: “Sales desk 1” needs action",
		Content: "Logged out · pair again to use it",
	}, func() { w.apply([]core.Status{s}) })
}

func TestOneNotificationForManyAccounts(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	var batch []core.Status
	for _, id := range []core.AccountID{"idle", "connecting", "connected", "waiting"} {
		s := statusOf(t, id)
		s.State, s.Reason = core.Failed, "the store is damaged"
		batch = append(batch, s)
	}
	test.AssertNotificationSent(t, &fyne.Notification{
		Title:   "Warden: 4 connections need action",
		Content: "“Front desk”, “Support 2”, “Sales desk 1” and 1 more",
	}, func() { w.apply(batch) })
}

func TestNoNotificationWithoutNews(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	still := statusOf(t, "failed")
	still.Reason = "another reason" // needed action already
	fine := statusOf(t, "waiting")
	fine.State = core.Connected
	pending := statusOf(t, "connected") // a conflict with a takeover to come
	pending.State, pending.NextAttempt = core.Replaced, t0.Add(30*time.Second)
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{still, fine, pending}) })

	// A new account that needs action at once (as at start-up) is in the
	// list, not in a notification.
	fresh := core.Status{Account: acct("new", "New", ""), State: core.Failed}
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{fresh}) })
}

func TestNotificationsCanBeTurnedOffAndOnLive(t *testing.T) {
	test.NewTempApp(t)
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...), Options{Now: func() time.Time { return t0 }, NoNotifications: true})
	t.Cleanup(w.Close)
	s := statusOf(t, "connected")
	s.State = core.LoggedOut
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{s}) })

	w.SetNotifications(true)
	s = statusOf(t, "waiting")
	s.State = core.Outdated
	test.AssertNotificationSent(t, &fyne.Notification{
		Title: "Warden: “Sales desk 2” needs action", Content: "This Warden is too old · update it",
	}, func() { w.apply([]core.Status{s}) })
}

// fakeNotifier records the notifications sent.
type fakeNotifier struct {
	mu   sync.Mutex
	sent []string // titles
}

func (f *fakeNotifier) send(n *fyne.Notification) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, n.Title)
}

// take returns the titles sent since the last take.
func (f *fakeNotifier) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

func TestEveryStateThatNeedsTheOperatorNotifies(t *testing.T) {
	connected := statusOf(t, "connected")
	tests := []struct {
		name   string
		to     func(*core.Status)
		notify bool
	}{
		{"replaced and parked", func(s *core.Status) { s.State = core.Replaced }, true},
		{"replaced with a takeover to come", func(s *core.Status) { s.State, s.NextAttempt = core.Replaced, t0.Add(30*time.Second) }, false},
		{"logged out", func(s *core.Status) { s.State = core.LoggedOut }, true},
		{"banned until an expiry", func(s *core.Status) { s.State, s.NextAttempt = core.Banned, t0.Add(time.Hour) }, true},
		{"outdated", func(s *core.Status) { s.State = core.Outdated }, true},
		{"failed", func(s *core.Status) { s.State = core.Failed }, true},
		{"waiting", func(s *core.Status) { s.State, s.NextAttempt = core.Waiting, t0.Add(3*time.Second) }, false},
		{"stopped by the operator", func(s *core.Status) { s.State = core.Idle }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connected
			tt.to(&s)
			if got := entersNeedsOperator(connected, s); got != tt.notify {
				t.Errorf("entersNeedsOperator(Connected, %v) = %v, want %v", s.State, got, tt.notify)
			}
		})
	}
	pending := connected
	pending.State, pending.NextAttempt = core.Replaced, t0.Add(30*time.Second)
	parked := pending
	parked.NextAttempt = time.Time{}
	if !entersNeedsOperator(pending, parked) {
		t.Error("a pending takeover that parks does not notify")
	}
}

func TestNotificationsAtMostOnePerAccountPerFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n fakeNotifier
		a := newAlerts(n.send, true)
		need := func(names ...string) {
			var batch []core.Status
			for _, name := range names {
				batch = append(batch, core.Status{Account: core.Account{ID: core.AccountID(name), Name: name}, State: core.Failed})
			}
			a.accountsNeedAction(batch, time.Now())
		}
		expect := func(when string, want ...string) {
			t.Helper()
			if got := n.take(); !slices.Equal(got, want) {
				t.Errorf("%s: sent %q, want %q", when, got, want)
			}
		}

		need("A")
		expect("A needs action", "Warden: “A” needs action")
		time.Sleep(time.Minute)
		need("A")
		expect("A again a minute later")
		need("A", "B")
		expect("A again with B", "Warden: “B” needs action")
		time.Sleep(4 * time.Minute) // five minutes after A's notification
		need("A", "B")
		expect("A five minutes later, B four", "Warden: “A” needs action")
		time.Sleep(time.Minute)
		need("A", "B", "C")
		expect("B five minutes later, with C", "Warden: 2 connections need action")

		a.on.Store(false)
		time.Sleep(notifyEvery)
		need("A")
		a.fleetDropped(lostAlert(3), []string{"A", "B", "C"})
		expect("turned off")
		a.on.Store(true)
		need("A")
		expect("turned on again", "Warden: “A” needs action")
	})
}

func TestFleetNotificationsAtMostOnePerFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n fakeNotifier
		a := newAlerts(n.send, true)
		a.fleetDropped(lostAlert(3), []string{"A", "B", "C"})
		if got := n.take(); !slices.Equal(got, []string{"Warden: 3 accounts lost their connection within a minute"}) {
			t.Errorf("a fleet drop sent %q", got)
		}
		// A fleet drop does not use up the accounts' own allowance.
		a.accountsNeedAction([]core.Status{{Account: core.Account{ID: "A", Name: "A"}, State: core.LoggedOut}}, time.Now())
		if got := n.take(); len(got) != 1 {
			t.Errorf("A needs action after a fleet drop: sent %q, want one", got)
		}
		time.Sleep(notifyEvery - time.Second)
		a.fleetDropped(lostAlert(3), []string{"D", "E", "F"})
		if got := n.take(); len(got) != 0 {
			t.Errorf("a second fleet drop within five minutes sent %q", got)
		}
		time.Sleep(time.Second)
		a.fleetDropped(lostAlert(3), []string{"D", "E", "F"})
		if got := n.take(); len(got) != 1 {
			t.Errorf("a fleet drop five minutes later sent %q, want one", got)
		}
	})
}

// lostAlert is a fleet alert of n lost connections.
func lostAlert(n int) history.FleetAlert {
	a := history.FleetAlert{Cause: history.DropLost}
	for i := range n {
		a.Accounts = append(a.Accounts, core.AccountID(fmt.Sprintf("a%02d", i)))
	}
	return a
}

func TestFleetNotificationText(t *testing.T) {
	names := []string{"Sales 1", "Sales 2", "Support", "Billing"}
	server := lostAlert(4)
	server.Cause = history.DropServer
	tests := []struct {
		alert history.FleetAlert
		want  fyne.Notification
	}{
		{lostAlert(4), fyne.Notification{
			Title:   "Warden: 4 accounts lost their connection within a minute",
			Content: "Likely this computer's network or WhatsApp's servers, not these accounts: “Sales 1”, “Sales 2”, “Support” and 1 more.",
		}},
		{server, fyne.Notification{
			Title:   "Warden: WhatsApp's servers closed 4 connections within a minute",
			Content: "A problem on WhatsApp's side, not these accounts: “Sales 1”, “Sales 2”, “Support” and 1 more.",
		}},
	}
	for _, tt := range tests {
		var n *fyne.Notification
		a := newAlerts(func(x *fyne.Notification) { n = x }, true)
		a.fleetDropped(tt.alert, names)
		if n == nil || *n != tt.want {
			t.Errorf("fleet notification = %+v, want %+v", n, tt.want)
		}
	}
}
