package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"warden/core"
)

// rawNoDNS is the error a dial gives on a computer without DNS, as
// whatsmeow returns it.
const rawNoDNS = "connect acc-1: failed to dial whatsapp web websocket: failed to WebSocket dial: " +
	"failed to send handshake request: Get \"https://web.whatsapp.com/ws/chat\": dial tcp: " +
	"lookup web.whatsapp.com on 192.0.2.53:53: no such host"

// firstRunOffline is a new account whose first dial found no DNS.
func firstRunOffline() core.Status {
	return core.Status{
		Account: acct("new", "Shop phone", ""), State: core.Idle, Since: t0.Add(-10 * time.Second),
		Reason:  core.ProblemNoDNS.Summary() + "; press Connect to try again",
		Problem: core.ProblemNoDNS, Refusals: 1, Detail: rawNoDNS,
	}
}

// The first run without internet: the account says in one line that this
// computer cannot reach WhatsApp, keeps the error behind Details, is not
// "Stopped" (the operator's doing), and the window says that the network,
// not the account, is at fault, until an account connects.
func TestOfflineFirstRun(t *testing.T) {
	w, _ := newTestWindow(t, firstRunOffline())
	selectRow(t, w, "new")

	if got, want := w.list.bound["new"].line.Text, "Could not reach WhatsApp · no internet or DNS"; got != want {
		t.Errorf("the row says %q, want %q", got, want)
	}
	if got := w.detail.badge.text.Text; got != "Unreachable" {
		t.Errorf("the badge says %q, want Unreachable (not Stopped, which is the operator's doing)", got)
	}
	if c := w.list.bound["new"].dot.FillColor; c == stateColor(core.Idle) {
		t.Error("the row's dot is the grey of an account the operator stopped")
	}
	if !hasText(w.detail.header, "This computer cannot reach WhatsApp: no internet or DNS; press Connect to try again") {
		t.Error("the header does not say what is wrong in one line")
	}
	if !hasText(w.summary.content, "1 unreachable") || hasText(w.summary.content, "1 stopped") {
		t.Error("the summary does not count the account as unreachable")
	}
	if hasText(w.detail.header, "no such host") {
		t.Error("the raw error shows before Details is opened")
	}
	if !w.detail.details.Visible() {
		t.Fatal("no Details control")
	}
	test.Tap(w.detail.detailsButton)
	if !w.detail.detailsText.Visible() || w.detail.detailsText.Text != rawNoDNS {
		t.Errorf("Details opened: shown %v, %q; want the raw error", w.detail.detailsText.Visible(), w.detail.detailsText.Text)
	}
	test.Tap(w.detail.detailsButton)
	if w.detail.detailsText.Visible() {
		t.Error("Details does not close")
	}
	if b := findButton(w.detail.actions, "Connect"); b == nil {
		t.Error("no Connect to try again")
	}

	want := "This computer cannot reach WhatsApp: no internet or DNS. The account that tried in the last 5 minutes failed this way."
	if !w.offline.banner.Visible() || w.offline.text.Text != want {
		t.Errorf("the window-wide notice: shown %v, %q; want %q", w.offline.banner.Visible(), w.offline.text.Text, want)
	}

	// A second account retries with the same problem: the notice counts it.
	retrying := core.Status{Account: acct("old", "Front desk", "15550001111.0:3@s.whatsapp.net"), State: core.Waiting,
		Since: t0.Add(-2 * time.Second), Attempt: 2, NextAttempt: t0.Add(5 * time.Second),
		Reason: core.ProblemNoDNS.Summary(), Problem: core.ProblemNoDNS, Refusals: 2, Detail: rawNoDNS}
	w.apply([]core.Status{retrying})
	if got, want := w.list.bound["old"].line.Text, "Reconnecting in 5 s · attempt 2 · no internet or DNS"; got != want {
		t.Errorf("the retrying row says %q, want %q", got, want)
	}
	if !strings.HasSuffix(w.offline.text.Text, "All 2 accounts that tried in the last 5 minutes failed this way.") {
		t.Errorf("the notice says %q", w.offline.text.Text)
	}

	// One connects: the network works, the notice goes.
	retrying.State, retrying.Problem, retrying.Refusals, retrying.Detail, retrying.Reason = core.Connected, core.ProblemNone, 0, "", ""
	w.apply([]core.Status{retrying})
	if w.offline.banner.Visible() {
		t.Errorf("an account connected and the notice still says %q", w.offline.text.Text)
	}
}

// The operator's own Disconnect is "Stopped", without a Details control.
func TestStoppedByOperatorIsNotUnreachable(t *testing.T) {
	s := core.Status{Account: acct("a", "Front desk", "15550001111.0:3@s.whatsapp.net"), State: core.Idle,
		Since: t0.Add(-time.Minute), Reason: "disconnected by the operator"}
	w, _ := newTestWindow(t, s)
	selectRow(t, w, "a")
	if got := w.detail.badge.text.Text; got != "Stopped" {
		t.Errorf("the badge says %q, want Stopped", got)
	}
	if w.detail.details.Visible() || w.offline.banner.Visible() {
		t.Error("an account the operator stopped shows Details or the offline notice")
	}
}

// A proxy that refuses the password three times in a row: the row leads
// with it, and one desktop notification says the account needs action,
// not one per retry.
func TestProxyRefusalsNeedTheOperator(t *testing.T) {
	s := core.Status{Account: acct("p", "Proxied", "15550001111.0:3@s.whatsapp.net"), State: core.Waiting,
		Since: t0.Add(-time.Second), Attempt: 2, NextAttempt: t0.Add(5 * time.Second),
		Reason:  "the proxy socks5://127.0.0.1:1080 refused the user name or password",
		Problem: core.ProblemProxyAuth, Refusals: 2}
	s.Detail = s.Reason
	w, _ := newTestWindow(t, s)
	if got := w.list.bound["p"].line.Text; got != "Reconnecting in 5 s · attempt 2 · the proxy refused the password" {
		t.Errorf("after two refusals the row says %q", got)
	}
	s.Refusals, s.Attempt, s.NextAttempt = 3, 3, t0.Add(5*time.Second)
	test.AssertNotificationSent(t, &fyne.Notification{
		Title:   "Warden: “Proxied” needs action",
		Content: "The proxy refused the password (3 times) · reconnecting in 5 s · attempt 3",
	}, func() { w.apply([]core.Status{s}) })
	if got := w.list.bound["p"].line.Text; got != "The proxy refused the password (3 times) · reconnecting in 5 s · attempt 3" {
		t.Errorf("after three refusals the row says %q", got)
	}
	if !hasText(w.summary.content, "1 needs action") || hasText(w.summary.content, "1 reconnecting") {
		t.Error("the summary does not count the account as needing action")
	}
	if c := w.list.bound["p"].dot.FillColor; c != needsActionColor {
		t.Error("the row's dot is not the colour of an account that needs action")
	}
	// Its next dial, and the refusal after, notify no more.
	s.State = core.Connecting
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{s}) })
	s.State, s.Refusals = core.Waiting, 4
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{s}) })
	if w.offline.banner.Visible() {
		t.Error("a proxy's refusal shows the notice that this computer cannot reach WhatsApp")
	}
}

// TestOfflineImage shows the first run without internet, with a proxy that
// keeps refusing beside it, for a reviewer's eye.
func TestOfflineImage(t *testing.T) {
	retrying := core.Status{Account: acct("old", "Front desk", "15550001111.0:3@s.whatsapp.net"), State: core.Waiting,
		Since: t0.Add(-2 * time.Second), Attempt: 2, NextAttempt: t0.Add(5 * time.Second),
		Reason: core.ProblemNoDNS.Summary(), Problem: core.ProblemNoDNS, Refusals: 2, Detail: rawNoDNS}
	stuck := core.Status{Account: acct("p", "Proxied", "15550002222.0:3@s.whatsapp.net"), State: core.Waiting,
		Since: t0.Add(-time.Second), Attempt: 6, NextAttempt: t0.Add(9 * time.Second),
		Reason:  "the proxy socks5://127.0.0.1:1080 refused the user name or password",
		Problem: core.ProblemProxyAuth, Refusals: 6}
	w, _ := newLightTestWindow(t, firstRunOffline(), retrying, stuck)
	selectRow(t, w, "new")
	test.Tap(w.detail.detailsButton)
	test.AssertRendersToImage(t, "window_light_offline.png", w.win.Canvas())
}
