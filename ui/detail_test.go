package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// wantActions is what the detail header offers in each sample state.
var wantActions = map[core.AccountID][]string{
	"idle":       {"Connect", "Delete"},
	"expired":    {"Delete"}, // and "New code" in the pairing view
	"pairing":    {"Disconnect", "Delete"},
	"connecting": {"Disconnect", "Delete"},
	"connected":  {"Disconnect", "Log out", "Delete"},
	"waiting":    {"Retry now", "Disconnect", "Delete"},
	"takeover":   {"Take over", "Disconnect", "Delete"},
	"replaced":   {"Take over", "Delete"},
	"loggedout":  {"Pair again", "Delete"},
	"banned":     {"Connect", "Disconnect", "Delete"},
	"outdated":   {"Connect", "Delete"},
	"failed":     {"Connect", "Delete"},
}

// wantCall is the controller method each button calls.
var wantCall = map[string]string{
	"Connect": "Connect", "Retry now": "Connect", "Take over": "Connect", "Pair again": "Connect",
	"Disconnect": "Disconnect", "Log out": "Logout", "Delete": "Delete",
}

// needsConfirmation maps the buttons that ask first to their dialog's button.
var needsConfirmation = map[string]string{"Log out": "Log out", "Delete": "Delete"}

func actionLabels(w *Window) []string {
	var labels []string
	for _, o := range w.detail.actions.Objects {
		if b, ok := o.(*widget.Button); ok && b.Visible() {
			labels = append(labels, b.Text)
		}
	}
	return labels
}

func TestDetailShowsTheActionsOfTheState(t *testing.T) {
	for _, s := range sampleStatuses() {
		id := s.Account.ID
		t.Run(string(id), func(t *testing.T) {
			w, _ := newTestWindow(t, sampleStatuses()...)
			selectRow(t, w, id)
			if got := actionLabels(w); !slices.Equal(got, wantActions[id]) {
				t.Errorf("%s (%v) offers %v, want %v", id, s.State, got, wantActions[id])
			}
		})
	}
}

func TestEachActionCallsTheController(t *testing.T) {
	for _, s := range sampleStatuses() {
		for _, label := range wantActions[s.Account.ID] {
			id := s.Account.ID
			t.Run(string(id)+"/"+label, func(t *testing.T) {
				w, ctl := newTestWindow(t, sampleStatuses()...)
				selectRow(t, w, id)
				test.Tap(findButton(w.detail.actions, label))
				if confirm, ok := needsConfirmation[label]; ok {
					if calls := ctl.Calls(); len(calls) != 0 {
						t.Fatalf("%s ran %v before the confirmation", label, calls)
					}
					tapDialogButton(t, w, confirm)
				}
				want := []string{wantCall[label] + " " + string(id)}
				if got := ctl.Calls(); !slices.Equal(got, want) {
					t.Errorf("tapping %q on %s called %v, want %v", label, id, got, want)
				}
			})
		}
	}
}

func TestCancelledConfirmationDoesNothing(t *testing.T) {
	for _, label := range []string{"Log out", "Delete"} {
		t.Run(label, func(t *testing.T) {
			w, ctl := newTestWindow(t, sampleStatuses()...)
			selectRow(t, w, "connected")
			test.Tap(findButton(w.detail.actions, label))
			tapDialogButton(t, w, "Cancel")
			if calls := ctl.Calls(); len(calls) != 0 {
				t.Errorf("cancelling %s still called %v", label, calls)
			}
			if _, ok := w.list.index["connected"]; !ok {
				t.Error("the account left the list after a cancelled confirmation")
			}
		})
	}
}

func TestDeleteConfirmationSaysWhatIsLost(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	test.Tap(findButton(w.detail.actions, "Delete"))
	var text string
	for _, o := range visible(topDialog(t, w)) {
		if l, ok := o.(*widget.Label); ok {
			text += l.Text + "\n"
		}
	}
	for _, want := range []string{"“Sales desk 1” (+4915112345678)", "device keys", "history", "logs", "cannot be undone"} {
		if !strings.Contains(text, want) {
			t.Errorf("the delete confirmation does not mention %q:\n%s", want, text)
		}
	}
}

func TestDeleteRemovesTheAccount(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	test.Tap(findButton(w.detail.actions, "Delete"))
	tapDialogButton(t, w, "Delete")
	if _, ok := w.list.index["connected"]; ok {
		t.Error("the deleted account is still in the list")
	}
	if w.detail.shown {
		t.Error("the detail still shows the deleted account")
	}
	if w.win.Canvas().Overlays().Top() != nil {
		t.Error("a dialog is shown after a successful delete")
	}
}

func TestDeleteStillLinkedIsInformation(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.errs["Delete"] = fmt.Errorf("delete connected: %w", core.ErrStillLinked)
	selectRow(t, w, "connected")
	test.Tap(findButton(w.detail.actions, "Delete"))
	tapDialogButton(t, w, "Delete")

	if _, ok := w.list.index["connected"]; ok {
		t.Error("the account is still listed, though Delete succeeded")
	}
	d := topDialog(t, w)
	if !hasText(d, "Connection deleted") {
		t.Error("the dialog is not titled “Connection deleted”")
	}
	found := false
	for _, o := range visible(d) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, "Settings › Linked devices") {
			found = true
		}
	}
	if !found {
		t.Error("the dialog does not tell where to remove the linked device on the phone")
	}
}

func TestActionErrorsShowInPlainWords(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.errs["Disconnect"] = fmt.Errorf("disconnect connected: %w", core.ErrBusy)
	selectRow(t, w, "connected")
	test.Tap(findButton(w.detail.actions, "Disconnect"))
	d := topDialog(t, w)
	if !hasText(d, "Could not disconnect “Sales desk 1”") {
		t.Error("the error dialog does not say what failed")
	}
	if !hasText(d, "Warden is still busy with this account. Try again in a moment.") {
		t.Error("the error dialog does not explain ErrBusy in plain words")
	}
}

func TestPlainError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("logout x: %w", core.ErrNotConnected), "not connected"},
		{fmt.Errorf("pair x: %w", core.ErrNotPairing), "Ask for a new code"},
		{fmt.Errorf("pair x: %w: too short (7 digits); include the country code", core.ErrInvalidPhone),
			"That phone number cannot be used: too short (7 digits); include the country code."},
		{fmt.Errorf("rename x: %w: the name is longer than 64 characters", core.ErrInvalidName),
			"That name cannot be used: the name is longer than 64 characters."},
		{fmt.Errorf("connect x: %w", core.ErrUnknownAccount), "does not exist"},
		{fmt.Errorf("dial: connection refused"), "Dial: connection refused."},
	}
	for _, tt := range tests {
		if got := plainError(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("plainError(%v) = %q, want it to say %q", tt.err, got, tt.want)
		}
	}
}

func TestRenameInPlace(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	d := w.detail
	pencil := d.nameShow.Objects[1].(*widget.Button)
	test.Tap(pencil)
	if !d.nameEdit.Visible() || d.nameEntry.Text != "Sales desk 1" {
		t.Fatalf("rename shows the entry %v with %q; want it visible with the current name", d.nameEdit.Visible(), d.nameEntry.Text)
	}
	d.nameEntry.SetText("")
	test.Type(d.nameEntry, "  Sales desk 9 ")
	d.nameEntry.OnSubmitted(d.nameEntry.Text) // Enter
	if got := ctl.Calls(); !slices.Equal(got, []string{"Rename connected Sales desk 9"}) {
		t.Errorf("renaming called %v", got)
	}
	if d.nameEdit.Visible() || d.name.Text != "Sales desk 9" {
		t.Errorf("after renaming, the header shows %q (editing: %v)", d.name.Text, d.nameEdit.Visible())
	}
}

func TestRenameEscapeCancels(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	d := w.detail
	test.Tap(d.nameShow.Objects[1].(*widget.Button))
	test.Type(d.nameEntry, "zzz")
	d.nameEntry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if d.nameEdit.Visible() || d.name.Text != "Sales desk 1" {
		t.Errorf("after Escape the header shows %q (editing: %v)", d.name.Text, d.nameEdit.Visible())
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("Escape still renamed: %v", calls)
	}
}

func TestRenameErrorKeepsEditing(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.errs["Rename"] = fmt.Errorf("rename: %w: too long", core.ErrInvalidName)
	selectRow(t, w, "connected")
	test.Tap(w.detail.nameShow.Objects[1].(*widget.Button))
	w.detail.nameEntry.SetText("x")
	w.detail.nameEntry.OnSubmitted("x")
	if !w.detail.nameEdit.Visible() {
		t.Error("a failed rename closed the editor")
	}
	if !hasText(topDialog(t, w), "Could not rename the connection") {
		t.Error("a failed rename shows no error")
	}
}

func TestRecentActivity(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.events = []core.Event{
		{Seq: 1, Account: "waiting", At: t0.Add(-time.Hour), From: core.Connecting, To: core.Connected, Cause: "session connected", Epoch: 11},
		{Seq: 2, Account: "waiting", At: t0.Add(-12 * time.Second), From: core.Connected, To: core.Waiting, Cause: "disconnected",
			Reason: "stream error 515", Attempt: 4, Delay: 7 * time.Second, Epoch: 12},
		{Seq: 3, Account: "connected", At: t0, From: core.Idle, To: core.Connecting},
	}
	selectRow(t, w, "waiting")
	want := "14:29:48   Connected ⟶ Reconnecting · disconnected · stream error 515 · attempt 4 · next try in 7 s\n" +
		"13:30:00   Connecting ⟶ Connected · session connected"
	if w.detail.events.Text != want {
		t.Errorf("recent activity:\n%s\nwant:\n%s", w.detail.events.Text, want)
	}
}

// TestDetailGoldens renders the detail of every state.
func TestDetailGoldens(t *testing.T) {
	test.NewTempApp(t)
	test.ApplyTheme(t, theme.LightTheme())
	for _, s := range sampleStatuses() {
		t.Run(string(s.Account.ID), func(t *testing.T) {
			p := newPairingView(func() {}, func(string, func(string)) {})
			d := newDetailView(func(actionKind, core.Status) {}, func(core.AccountID, string, func(bool)) {}, p)
			win := test.NewTempWindow(t, d.content)
			win.Resize(fyne.NewSize(640, 720))
			d.show(s, t0)
			test.AssertRendersToMarkup(t, "detail_"+string(s.Account.ID)+".xml", win.Canvas())
		})
	}
}

// The "Asking WhatsApp for a QR code…" bar animates only while it is on
// screen: a hidden one would redraw the window every frame for nothing.
func TestPairingSpinnerRunsOnlyWhenShown(t *testing.T) {
	asking := core.Status{Account: acct("asking", "New shop", ""), State: core.Pairing, Since: t0.Add(-2 * time.Second)}
	w, _ := newTestWindow(t, statusOf(t, "idle"), asking)
	w.tick()
	if w.pairing.spinner.Running() {
		t.Error("with no account selected, the pairing bar animates")
	}
	selectRow(t, w, "asking")
	if !w.pairing.spinner.Running() || !hasText(w.detail.content, "Asking WhatsApp for a QR code…") {
		t.Error("an account waiting for its QR code shows no moving bar")
	}
	selectRow(t, w, "idle")
	w.tick()
	if w.pairing.spinner.Running() {
		t.Error("after selecting a stopped account, the hidden pairing bar still animates")
	}
}
