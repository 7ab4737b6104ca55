package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"warden/core"
)

func sendButton(w *Window) bool {
	b := findButton(w.detail.content, "Send test message")
	return b != nil && !b.Disabled()
}

func TestSendTestMessageToOwnNumberThenDelivered(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.sendRes = core.SendResult{MessageID: "3EB0AA", To: "4915112345678", SentAt: t0, AckedAt: t0.Add(14 * time.Millisecond), Latency: 14 * time.Millisecond, Epoch: 9}
	selectRow(t, w, "connected")
	if !sendButton(w) {
		t.Fatal("no Send test message button on a connected account")
	}
	if got := w.detail.send.to.PlaceHolder; !strings.Contains(got, "+4915112345678") {
		t.Errorf("the number's placeholder is %q, want the account's own number", got)
	}
	test.Tap(findButton(w.detail.content, "Send test message"))
	if calls := ctl.Calls(); !slices.Contains(calls, "SendText connected 4915112345678") {
		t.Fatalf("calls = %v, want a send to the account's own number", calls)
	}
	at := t0.Add(14 * time.Millisecond).Local().Format("15:04:05")
	want := "✓ Sent to +4915112345678 at " + at + " · WhatsApp acknowledged it in 14 ms · waiting for the phone to confirm delivery"
	if got := w.detail.send.result.Text; got != want {
		t.Fatalf("result = %q, want %q", got, want)
	}

	// The delivery note of another message changes nothing; its own does.
	w.applyEvents([]core.Event{{Account: "connected", Cause: core.CauseDelivered, MessageID: "OTHER", At: t0.Add(time.Second)}})
	if got := w.detail.send.result.Text; got != want {
		t.Fatalf("another message's receipt changed the result to %q", got)
	}
	w.applyEvents([]core.Event{{Account: "connected", Cause: core.CauseDelivered, MessageID: "3EB0AA", At: t0.Add(1200 * time.Millisecond)}})
	if got := w.detail.send.result.Text; !strings.HasSuffix(got, "· delivered after 1.2 s") {
		t.Fatalf("result after the receipt = %q", got)
	}
}

func TestSendTestMessageToATypedNumber(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	test.Type(w.detail.send.to, "+44 7700 900123")
	w.detail.send.to.OnSubmitted(w.detail.send.to.Text) // Enter sends
	if calls := ctl.Calls(); !slices.Contains(calls, "SendText connected 447700900123") {
		t.Fatalf("calls = %v, want a send to the typed number's digits", calls)
	}

	// A number that cannot be used is said inline, and nothing is sent.
	before := len(ctl.Calls())
	w.detail.send.to.SetText("07700 900123")
	test.Tap(findButton(w.detail.content, "Send test message"))
	if len(ctl.Calls()) != before {
		t.Fatalf("a bad number was sent: %v", ctl.Calls()[before:])
	}
	if got := w.detail.send.result.Text; !strings.HasPrefix(got, "✗ Not sent: that number cannot be used: start with the country code, not 0") {
		t.Errorf("result for a bad number = %q", got)
	}
}

func TestSendFailureInOperatorWords(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	for _, c := range []struct {
		err  error
		sent bool // the message went out (SentAt set)
		want string
	}{
		{core.ErrNotOnWhatsApp, true, "✗ Not sent to +447700900123: This number is not on WhatsApp."},
		{core.ErrRateLimited, true, "✗ Not sent to +447700900123: WhatsApp is limiting how fast this account sends: wait a few minutes and try again."},
		{core.ErrNotConnected, false, "✗ Not sent: The account is not connected right now, so WhatsApp cannot be asked. Connect it first."},
	} {
		ctl.mu.Lock()
		ctl.errs["SendText"] = c.err
		ctl.sendRes = core.SendResult{To: "447700900123"}
		if c.sent {
			ctl.sendRes.SentAt = t0
		}
		ctl.mu.Unlock()
		w.detail.send.to.SetText("447700900123")
		test.Tap(findButton(w.detail.content, "Send test message"))
		if got := w.detail.send.result.Text; got != c.want {
			t.Errorf("%v: result = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestSendOnlyWhileConnected(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	for _, id := range []core.AccountID{"connecting", "waiting", "replaced", "idle", "banned"} {
		selectRow(t, w, id)
		if sendButton(w) {
			t.Errorf("%s: a Send test message button while %v", id, statusOf(t, id).State)
		}
	}
	selectRow(t, w, "connected")
	if !sendButton(w) {
		t.Fatal("no Send test message button when connected")
	}
	// Dropping hides it at once.
	s := statusOf(t, "connected")
	s.State, s.Attempt, s.NextAttempt = core.Waiting, 1, t0.Add(3*time.Second)
	w.apply([]core.Status{s})
	if sendButton(w) {
		t.Error("the Send test message button stayed after the drop")
	}
}

func TestSelfCheckShownAndNotified(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	if got := w.detail.factLabels["Self-check"].Text; got != "—" {
		t.Errorf("self-check before any = %q", got)
	}
	s := statusOf(t, "connected")
	s.LastCheck = core.SelfCheck{At: t0, Latency: 21 * time.Millisecond}
	test.AssertNotificationSent(t, nil, func() { w.apply([]core.Status{s}) })
	if got, want := w.detail.factLabels["Self-check"].Text, "✓ passed at "+clockTime(t0, t0)+" (acknowledged in 21 ms)"; got != want {
		t.Errorf("self-check = %q, want %q", got, want)
	}
	s.LastCheck = core.SelfCheck{At: t0.Add(10 * time.Minute), Err: core.SendErrorText(core.ErrNoAck)}
	test.AssertNotificationSent(t, &fyne.Notification{
		Title:   "Warden: “Sales desk 1” failed its self-check",
		Content: "WhatsApp did not confirm the message in time: it may or may not arrive. It is still connected; send a test message to see more.",
	}, func() { w.apply([]core.Status{s}) })
	if got := w.detail.factLabels["Self-check"].Text; !strings.HasPrefix(got, "✗ failed at ") {
		t.Errorf("self-check = %q after a failure", got)
	}
}

func TestSendResultImage(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	test.ApplyTheme(t, theme.LightTheme())
	ctl.sendRes = core.SendResult{MessageID: "3EB0AA", To: "4915112345678", SentAt: t0, AckedAt: t0.Add(14 * time.Millisecond), Latency: 14 * time.Millisecond}
	selectRow(t, w, "connected")
	test.Tap(findButton(w.detail.content, "Send test message"))
	w.applyEvents([]core.Event{{Account: "connected", Cause: core.CauseDelivered, MessageID: "3EB0AA", At: t0.Add(300 * time.Millisecond)}})
	w.win.Resize(fyne.NewSize(1000, 660))
	test.AssertImageMatches(t, "window_light_sent.png", w.win.Canvas().Capture())
}

func TestCtrlTFocusesTheNumberOfAConnectedAccount(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "waiting")
	w.focusSend()
	if w.win.Canvas().Focused() == w.detail.send.to {
		t.Fatal("Ctrl+T focused the number of an account that is not connected")
	}
	selectRow(t, w, "connected")
	w.detail.selectTab(1)
	w.focusSend()
	if w.win.Canvas().Focused() != w.detail.send.to || w.detail.tabs.SelectedIndex() != 0 {
		t.Fatal("Ctrl+T did not bring the Overview and focus the number")
	}
	test.Type(w.detail.send.to, "447700900123")
	w.detail.send.to.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if calls := ctl.Calls(); !slices.Contains(calls, "SendText connected 447700900123") {
		t.Fatalf("calls = %v after typing a number and Enter", calls)
	}
}

// The Overview under the Test message section stays where it is when the
// account drops or a send reports: a click meant for Proxy › Change… must
// not land elsewhere.
func TestTestMessageSectionMovesNothingBelowIt(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.sendRes = core.SendResult{MessageID: "3EB0AA", To: "4915112345678", SentAt: t0, AckedAt: t0.Add(14 * time.Millisecond), Latency: 14 * time.Millisecond, Epoch: 9}
	selectRow(t, w, "connected")
	facts := w.detail.facts
	y := func() float32 {
		w.detail.content.Refresh()
		return fyne.CurrentApp().Driver().AbsolutePositionForObject(facts).Y
	}
	before := y()
	test.Tap(findButton(w.detail.content, "Send test message"))
	if !w.detail.send.result.Visible() {
		t.Fatal("no result after sending")
	}
	if got := y(); got != before {
		t.Errorf("the result moved the facts from y=%v to y=%v", before, got)
	}
	s := statusOf(t, "connected")
	s.State, s.Attempt, s.NextAttempt = core.Waiting, 1, t0.Add(3*time.Second)
	w.apply([]core.Status{s})
	if got := y(); got != before {
		t.Errorf("the drop moved the facts from y=%v to y=%v", before, got)
	}
}
