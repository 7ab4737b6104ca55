package ui

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"warden/core"
)

// fleetOf returns n connected accounts, "a00", "a01"…
func fleetOf(n int) []core.Status {
	var all []core.Status
	for i := range n {
		all = append(all, core.Status{
			Account: acct(fmt.Sprintf("a%02d", i), fmt.Sprintf("Line %02d", i), fmt.Sprintf("155500%05d.0:1@s.whatsapp.net", i)),
			State:   core.Connected, Since: t0.Add(-time.Hour),
		})
	}
	return all
}

// dropEvent is account id dropping from Connected at at.
func dropEvent(id core.AccountID, at time.Time) core.Event {
	return core.Event{Account: id, At: at, From: core.Connected, To: core.Waiting, Cause: "disconnected", Reason: "stream error 515"}
}

// backEvent is account id connected again at at.
func backEvent(id core.AccountID, at time.Time) core.Event {
	return core.Event{Account: id, At: at, From: core.Connecting, To: core.Connected, Cause: "connected"}
}

// replacedEvent is another client taking account id at at (440).
func replacedEvent(id core.AccountID, at time.Time) core.Event {
	return core.Event{Account: id, At: at, From: core.Connected, To: core.Replaced, Cause: "replaced",
		Reason: "another client took this account at 14:30: taking it back once in 30s"}
}

// shownRows returns the IDs the list shows, sorted.
func shownRows(w *Window) []core.AccountID {
	rows := slices.Clone(w.list.rows)
	slices.Sort(rows)
	return rows
}

func TestFleetBanner(t *testing.T) {
	w, _ := newTestWindow(t, fleetOf(20)...)
	banner := w.fleet.banner

	test.AssertNotificationSent(t, nil, func() {
		w.applyEvents([]core.Event{dropEvent("a00", t0)})
		w.applyEvents([]core.Event{dropEvent("a01", t0.Add(20*time.Second))})
	})
	if banner.Visible() {
		t.Fatal("two drops out of 20 show the fleet banner")
	}

	// The operator's own Disconnect is no drop.
	stop := dropEvent("a05", t0.Add(30*time.Second))
	stop.To, stop.Cause = core.Idle, core.CauseDisconnect
	w.applyEvents([]core.Event{stop})
	if banner.Visible() {
		t.Fatal("the operator's Disconnect counts as a drop")
	}

	test.AssertNotificationSent(t, &fyne.Notification{
		Title:   "Warden: 3 accounts lost their connection within a minute",
		Content: "Likely this computer's network or WhatsApp's servers, not these accounts: “Line 00”, “Line 01”, “Line 02”.",
	}, func() { w.applyEvents([]core.Event{dropEvent("a02", t0.Add(40*time.Second))}) })
	if !banner.Visible() {
		t.Fatal("three drops within a minute show no banner")
	}
	if want := "3 accounts lost their connection within a minute (14:30): likely this computer's network or WhatsApp's servers, not these accounts."; w.fleet.text.Text != want {
		t.Errorf("banner says %q, want %q", w.fleet.text.Text, want)
	}

	// The link shows exactly those accounts, until "Show all".
	test.Tap(w.fleet.showButton)
	if got, want := shownRows(w), []core.AccountID{"a00", "a01", "a02"}; !slices.Equal(got, want) {
		t.Errorf("after “Show these accounts” the list shows %v, want %v", got, want)
	}
	if !w.list.scope.Visible() || !hasText(w.list.scope, "The 3 accounts that disconnected at 14:30") {
		t.Error("the list does not say that it shows only the dropped accounts")
	}
	test.Tap(findButton(w.list.scope, "Show all"))
	if got := len(w.list.rows); got != 20 || w.list.scope.Visible() {
		t.Errorf("after “Show all” the list shows %d rows (scope bar shown: %v), want 20", got, w.list.scope.Visible())
	}

	// Dismissed, it stays away while the same accounts drop again, and
	// comes back when another one joins them.
	test.Tap(w.fleet.dismissButton)
	if banner.Visible() {
		t.Fatal("the banner stays after it was dismissed")
	}
	w.applyEvents([]core.Event{backEvent("a01", t0.Add(45*time.Second)), dropEvent("a01", t0.Add(50*time.Second))})
	if banner.Visible() {
		t.Error("the dismissed banner came back for an account it named")
	}
	test.AssertNotificationSent(t, nil, func() { // notified less than five minutes ago
		w.applyEvents([]core.Event{dropEvent("a03", t0.Add(55*time.Second))})
	})
	if !banner.Visible() || !strings.HasPrefix(w.fleet.text.Text, "4 accounts lost their connection within a minute") {
		t.Errorf("a fourth account's drop: banner shown %v, saying %q", banner.Visible(), w.fleet.text.Text)
	}

	// It says how many are back, and goes once they all are.
	w.applyEvents([]core.Event{backEvent("a00", t0.Add(70*time.Second)), backEvent("a01", t0.Add(71*time.Second))})
	if !banner.Visible() || !strings.HasSuffix(w.fleet.text.Text, "not these accounts. 2 of 4 are back.") {
		t.Errorf("two of four back: banner shown %v, saying %q", banner.Visible(), w.fleet.text.Text)
	}
	w.applyEvents([]core.Event{backEvent("a02", t0.Add(72*time.Second)), backEvent("a03", t0.Add(73*time.Second))})
	if banner.Visible() {
		t.Errorf("every account is back and the banner still says %q", w.fleet.text.Text)
	}
}

// Four accounts replaced by another client (440) and three banned are no
// fleet drop: the network explains neither.
func TestFleetBannerIgnoresConflictsAndBans(t *testing.T) {
	w, _ := newTestWindow(t, fleetOf(20)...)
	test.AssertNotificationSent(t, nil, func() {
		for i, id := range []core.AccountID{"a00", "a01", "a02", "a03"} {
			w.applyEvents([]core.Event{replacedEvent(id, t0.Add(time.Duration(i)*time.Second))})
		}
		for i, id := range []core.AccountID{"a04", "a05", "a06"} {
			ban := dropEvent(id, t0.Add(time.Duration(10+i)*time.Second))
			ban.To, ban.Cause, ban.Reason = core.Banned, "temporary ban", "temporarily banned by WhatsApp (code 101) until 15:00"
			w.applyEvents([]core.Event{ban})
		}
	})
	if w.fleet.banner.Visible() {
		t.Errorf("conflicts and bans show the fleet banner: %q", w.fleet.text.Text)
	}
	// WhatsApp closing three connections names WhatsApp.
	for i, id := range []core.AccountID{"a10", "a11", "a12"} {
		ev := dropEvent(id, t0.Add(time.Duration(20+i)*time.Second))
		ev.Reason = "the connection was closed by WhatsApp (stream error 503)"
		w.applyEvents([]core.Event{ev})
	}
	if want := "WhatsApp's servers closed 3 connections within a minute (14:30): a problem on WhatsApp's side, not these accounts."; !w.fleet.banner.Visible() || w.fleet.text.Text != want {
		t.Errorf("WhatsApp closed three: banner shown %v, saying %q; want %q", w.fleet.banner.Visible(), w.fleet.text.Text, want)
	}
}

func TestFleetFollowsTheEngineEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, ctl := newTestWindow(t, fleetOf(20)...)
		var fyneThread sync.Mutex // one Fyne thread, as fyne.Do gives
		w.do = func(f func()) {
			fyneThread.Lock()
			defer fyneThread.Unlock()
			f()
		}
		w.start()
		synctest.Wait() // the loops have subscribed
		ctl.emit(dropEvent("a00", t0), dropEvent("a01", t0.Add(time.Second)))
		time.Sleep(time.Second)
		synctest.Wait()
		fyneThread.Lock()
		shown := w.fleet.banner.Visible()
		fyneThread.Unlock()
		if shown {
			t.Fatal("two drops of 20 accounts from the engine show the banner")
		}
		ctl.emit(dropEvent("a02", t0.Add(2*time.Second)))
		time.Sleep(time.Second)
		synctest.Wait()
		fyneThread.Lock()
		shown, text := w.fleet.banner.Visible(), w.fleet.text.Text
		fyneThread.Unlock()
		if !shown || !strings.HasPrefix(text, "3 accounts lost their connection within a minute") {
			t.Errorf("a third drop from the engine: banner shown %v, saying %q", shown, text)
		}
		w.Close()
	})
}

func TestSmallFleetBanner(t *testing.T) {
	w, _ := newTestWindow(t, fleetOf(5)...)
	w.applyEvents([]core.Event{dropEvent("a00", t0)})
	if w.fleet.banner.Visible() {
		t.Fatal("one drop out of 5 shows the fleet banner")
	}
	w.applyEvents([]core.Event{dropEvent("a03", t0.Add(59*time.Second))})
	if !w.fleet.banner.Visible() || !strings.HasPrefix(w.fleet.text.Text, "2 accounts lost their connection within a minute") {
		t.Errorf("2 of 5 accounts dropped within a minute: banner shown %v, saying %q", w.fleet.banner.Visible(), w.fleet.text.Text)
	}
	// Back, and the same accounts drop together again: the banner goes,
	// and comes back with the newer time.
	w.applyEvents([]core.Event{backEvent("a00", t0.Add(2*time.Minute)), backEvent("a03", t0.Add(2*time.Minute))})
	if w.fleet.banner.Visible() {
		t.Error("the banner stays after both accounts are back")
	}
	w.applyEvents([]core.Event{dropEvent("a03", t0.Add(3*time.Minute)), dropEvent("a00", t0.Add(3*time.Minute+10*time.Second))})
	if !w.fleet.banner.Visible() || !strings.Contains(w.fleet.text.Text, "within a minute (14:33):") {
		t.Errorf("after the same accounts dropped again at 14:33 the banner says %q", w.fleet.text.Text)
	}
}

func TestFlappingBadge(t *testing.T) {
	w, _ := newTestWindow(t, fleetOf(12)...)
	now := t0
	w.now = func() time.Time { return now }
	selectRow(t, w, "a07")
	rowFlaps := func(id core.AccountID) bool {
		t.Helper()
		v, ok := w.list.bound[id]
		if !ok {
			t.Fatalf("no row shows %s", id)
		}
		return v.flap.Visible()
	}

	// Five drops in ten minutes are not yet flapping; a sixth is.
	for i := range 5 {
		w.applyEvents([]core.Event{dropEvent("a07", t0.Add(time.Duration(i)*2*time.Minute))})
	}
	now = t0.Add(9 * time.Minute)
	w.tick()
	if rowFlaps("a07") || w.detail.flap.Visible() {
		t.Fatal("five disconnects in ten minutes show the flapping badge")
	}
	w.applyEvents([]core.Event{dropEvent("a07", now)})
	if !rowFlaps("a07") || !w.detail.flap.Visible() {
		t.Errorf("six disconnects in ten minutes: row badge %v, header badge %v; want both", rowFlaps("a07"), w.detail.flap.Visible())
	}
	if rowFlaps("a06") {
		t.Error("an account that did not drop shows the flapping badge")
	}

	// Another account in the header shows its own state.
	selectRow(t, w, "a06")
	if w.detail.flap.Visible() {
		t.Error("the header keeps the flapping badge for another account")
	}
	selectRow(t, w, "a07")

	// The first drop leaves the ten minutes: five are left.
	now = t0.Add(10*time.Minute + time.Second)
	w.tick()
	if rowFlaps("a07") || w.detail.flap.Visible() {
		t.Error("the flapping badge stays once the disconnects fell out of the last ten minutes")
	}
}

// TestFleetImage shows the banner and a flapping account for a reviewer's eye.
func TestFleetImage(t *testing.T) {
	w, _ := newLightTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "waiting")
	for i := range 6 {
		w.applyEvents([]core.Event{dropEvent("waiting", t0.Add(time.Duration(i-6)*time.Minute))})
	}
	w.applyEvents([]core.Event{dropEvent("connected", t0), dropEvent("idle", t0), dropEvent("connecting", t0)})
	w.list.list.ScrollToBottom()
	test.AssertRendersToImage(t, "window_light_fleet.png", w.win.Canvas())
}
