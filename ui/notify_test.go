package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"warden/core"
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
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{still, fine}) })

	// A new account that needs action at once (as at start-up) is in the
	// list, not in a notification.
	fresh := core.Status{Account: acct("new", "New", ""), State: core.Failed}
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{fresh}) })
}

func TestNotificationsCanBeTurnedOff(t *testing.T) {
	test.NewTempApp(t)
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...), Options{Now: func() time.Time { return t0 }, NoNotifications: true})
	t.Cleanup(w.Close)
	s := statusOf(t, "connected")
	s.State = core.LoggedOut
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{s}) })
}

func TestManyDroppedBanner(t *testing.T) {
	var all []core.Status
	for i := range 20 {
		all = append(all, core.Status{Account: acct(fmt.Sprintf("a%02d", i), fmt.Sprintf("Line %02d", i), fmt.Sprintf("155500%05d.0:1@s.whatsapp.net", i)),
			State: core.Connected, Since: t0.Add(-time.Hour)})
	}
	w, _ := newTestWindow(t, all...)
	now := t0
	w.now = func() time.Time { return now }
	drop := func(i int) {
		s := all[i]
		s.State, s.Attempt, s.NextAttempt, s.Since = core.Waiting, 1, now.Add(3*time.Second), now
		w.apply([]core.Status{s})
	}

	drop(0)
	now = now.Add(20 * time.Second)
	drop(1)
	if w.summary.banner.Visible() {
		t.Error("two drops out of 20 show the mass-drop banner")
	}
	now = now.Add(20 * time.Second)
	drop(2)
	if !w.summary.banner.Visible() || !strings.HasPrefix(w.summary.bannerText.Text, "3 connections dropped in the last minute — usually the network or WhatsApp") {
		t.Errorf("three drops within a minute: banner %v, %q", w.summary.banner.Visible(), w.summary.bannerText.Text)
	}

	now = now.Add(25 * time.Second) // the first drop is now 65 s old
	w.tick()
	if w.summary.banner.Visible() {
		t.Error("the banner stays after the drops fell out of the last minute")
	}
}

func TestManyDropped(t *testing.T) {
	tests := []struct {
		drops, total int
		want         bool
	}{
		{2, 2, false}, {3, 3, true}, {3, 30, true}, {3, 31, false}, {100, 1000, true}, {99, 1000, false},
	}
	for _, tt := range tests {
		if got := manyDropped(tt.drops, tt.total); got != tt.want {
			t.Errorf("manyDropped(%d, %d) = %v, want %v", tt.drops, tt.total, got, tt.want)
		}
	}
}
