package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"warden/core"
)

// clickRow clicks id's row with the modifiers held, as the driver does: the
// mouse goes down (with the modifiers), then the tap.
func clickRow(t *testing.T, w *Window, id core.AccountID, mods fyne.KeyModifier) {
	t.Helper()
	v := rowFor(t, w, id)
	v.MouseDown(&desktop.MouseEvent{Modifier: mods})
	test.Tap(v)
}

// selectAllShown is Edit › Select all shown (Ctrl+A, which the test canvas
// cannot type).
func selectAllShown(t *testing.T, w *Window) {
	t.Helper()
	for _, m := range w.win.MainMenu().Items {
		for _, it := range m.Items {
			if strings.HasPrefix(it.Label, "Select all shown") {
				it.Action()
				return
			}
		}
	}
	t.Fatal("no Select all shown menu item")
}

func TestShiftClickSelectsARangeAndCtrlClickToggles(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	// Rows: outdated, replaced, loggedout, failed, takeover, banned, idle, …
	clickRow(t, w, "replaced", 0)
	if w.detail.status.Account.ID != "replaced" || w.list.bottom.Visible() {
		t.Fatalf("a plain click shows %q and the bulk bar is shown: %v", w.detail.status.Account.ID, w.list.bottom.Visible())
	}
	clickRow(t, w, "takeover", fyne.KeyModifierShift)
	if got, want := w.list.markedIDs(), []core.AccountID{"replaced", "loggedout", "failed", "takeover"}; !slices.Equal(got, want) {
		t.Errorf("Shift-click marks %v, want %v", got, want)
	}
	if !w.list.bottom.Visible() || w.bulk.count.Text != "4 selected" {
		t.Errorf("the bulk bar is shown %v and says %q, want 4 selected", w.list.bottom.Visible(), w.bulk.count.Text)
	}
	if w.detail.status.Account.ID != "replaced" {
		t.Errorf("the detail moved to %q on a Shift-click", w.detail.status.Account.ID)
	}
	if rowFor(t, w, "loggedout").bg.FillColor == markColor(false) {
		t.Error("a marked row is not highlighted")
	}

	clickRow(t, w, "loggedout", fyne.KeyModifierControl) // off
	clickRow(t, w, "outdated", fyne.KeyModifierControl)  // on
	if got, want := w.list.markedIDs(), []core.AccountID{"outdated", "replaced", "failed", "takeover"}; !slices.Equal(got, want) {
		t.Errorf("after two Ctrl-clicks the marks are %v, want %v", got, want)
	}
	if rowFor(t, w, "loggedout").bg.FillColor != markColor(false) {
		t.Error("an unmarked row is still highlighted")
	}
	// Shift-click extends from the last clicked row.
	clickRow(t, w, "replaced", fyne.KeyModifierShift)
	if got, want := w.list.markedIDs(), []core.AccountID{"outdated", "replaced"}; !slices.Equal(got, want) {
		t.Errorf("Shift-click from the last Ctrl-clicked row marks %v, want %v", got, want)
	}

	// A plain click selects one again.
	clickRow(t, w, "failed", 0)
	if got := w.list.markedIDs(); !slices.Equal(got, []core.AccountID{"failed"}) || w.list.bottom.Visible() {
		t.Errorf("a plain click leaves %v marked (bulk bar shown: %v)", got, w.list.bottom.Visible())
	}
	if w.detail.status.Account.ID != "failed" {
		t.Errorf("a plain click shows %q", w.detail.status.Account.ID)
	}
}

func TestSelectAllShownRespectsTheFilterAndTheCount(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	test.Type(w.list.filter, "sales")
	selectAllShown(t, w)
	if got, want := w.list.markedIDs(), []core.AccountID{"connected", "waiting"}; !slices.Equal(got, want) {
		t.Errorf("Ctrl+A with the filter “sales” marks %v, want %v", got, want)
	}
	w.list.filter.SetText("")
	if got := len(w.list.marked); got != 2 {
		t.Errorf("clearing the filter changed the selection to %d accounts", got)
	}

	// The summary's "needs action" count filters the list; Ctrl+A then
	// marks those four alone.
	test.Tap(w.summary.chips[len(summaryGroups)-1])
	want := []core.AccountID{"outdated", "replaced", "loggedout", "failed"}
	if !slices.Equal(w.list.rows, want) {
		t.Fatalf("the needs-action count shows %v, want %v", w.list.rows, want)
	}
	if !w.list.scope.Visible() || !w.summary.chips[len(summaryGroups)-1].active {
		t.Error("the list does not say it shows only the accounts needing action")
	}
	if len(w.list.marked) != 0 {
		t.Errorf("accounts hidden by the count stay selected: %v", w.list.marked)
	}
	selectAllShown(t, w)
	if got := w.list.markedIDs(); !slices.Equal(got, want) {
		t.Errorf("Ctrl+A under the count filter marks %v, want %v", got, want)
	}
	// The count again shows them all.
	test.Tap(w.summary.chips[len(summaryGroups)-1])
	if len(w.list.rows) != len(sampleStatuses()) || w.list.scope.Visible() {
		t.Errorf("a second click on the count shows %d rows (scope bar %v), want all", len(w.list.rows), w.list.scope.Visible())
	}
}

func TestBulkConnectConfirmsOnceAndReachesEachAccount(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	w.win.Resize(fyne.NewSize(1000, 1100)) // every row on screen
	// Billing (takeover, Replaced), Front desk (idle), Sales desk 1
	// (connected) and Sales desk 2 (waiting).
	clickRow(t, w, "takeover", 0)
	for _, id := range []core.AccountID{"idle", "connected", "waiting"} {
		clickRow(t, w, id, fyne.KeyModifierControl)
	}
	w.confirmBulk(bulkConnect)
	d := topDialog(t, w)
	want := []string{
		"“Front desk” (+15550001111) — connects now",
		"“Sales desk 2” (+15550003333) — connects now",
		"“Billing” (+15550004444) — skipped: another client uses it: use Take over",
		"“Sales desk 1” (+4915112345678) — skipped: already connected",
	}
	for _, line := range want {
		if !hasText(d, line) {
			t.Errorf("the confirmation does not list %q", line)
		}
	}
	if got := w.bulkLines(); len(got) != len(want) {
		t.Errorf("the confirmation lists %d lines, want %d: %q", len(got), len(want), got)
	}
	if len(ctl.Calls()) != 0 {
		t.Fatalf("commands went out before the confirmation: %v", ctl.Calls())
	}
	tapDialogButton(t, w, "Connect 2")
	got := ctl.Calls()
	slices.Sort(got)
	if !slices.Equal(got, []string{"Connect idle", "Connect waiting"}) {
		t.Errorf("bulk Connect sent %v, want Connect to Front desk and Sales desk 2 alone", got)
	}
}

func TestBulkTakeOverOfParkedConflicts(t *testing.T) {
	sts := sampleStatuses()
	for i := range 4 {
		s := statusOf(t, "replaced")
		s.Account.ID = core.AccountID("parked" + string(rune('a'+i)))
		s.Account.Name = "Parked " + string(rune('A'+i))
		sts = append(sts, s)
	}
	w, ctl := newTestWindow(t, sts...)
	test.Type(w.list.filter, "parked")
	selectAllShown(t, w)
	w.confirmBulk(bulkTakeOver)
	tapDialogButton(t, w, "Take over 4")
	got := ctl.Calls()
	slices.Sort(got)
	if !slices.Equal(got, []string{"Connect parkeda", "Connect parkedb", "Connect parkedc", "Connect parkedd"}) {
		t.Errorf("bulk Take over sent %v", got)
	}
}

func TestBulkActionThatAppliesToNoneSaysWhy(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	clickRow(t, w, "idle", 0)
	clickRow(t, w, "expired", fyne.KeyModifierControl)
	w.confirmBulk(bulkLogout)
	d := topDialog(t, w)
	if !hasText(d, "Log out applies to none of the 2 connections selected.") {
		t.Error("the dialog does not say that Log out applies to none")
	}
	if !hasText(d, "“Front desk” (+15550001111) — skipped: not connected: WhatsApp cannot be asked to unlink it") {
		t.Errorf("the dialog does not say why Front desk is skipped: %q", w.bulkLines())
	}
	if findButton(d, "Log out 0") != nil {
		t.Error("the dialog offers to log out none")
	}
	tapDialogButton(t, w, "OK")
	if len(ctl.Calls()) != 0 {
		t.Errorf("commands went out: %v", ctl.Calls())
	}
}

func TestBulkFailuresAreReportedPerAccount(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.errs["Disconnect"] = core.ErrBusy
	w.win.Resize(fyne.NewSize(1000, 1100))
	clickRow(t, w, "connected", 0)
	clickRow(t, w, "waiting", fyne.KeyModifierControl)
	w.confirmBulk(bulkDisconnect)
	tapDialogButton(t, w, "Disconnect 2")
	d := topDialog(t, w)
	for _, line := range []string{
		"Warden could not disconnect any of the 2 connections.",
		"“Sales desk 1” (+4915112345678): Warden is still busy with this account. Try again in a moment.",
		"“Sales desk 2” (+15550003333): Warden is still busy with this account. Try again in a moment.",
	} {
		if !hasText(d, line) {
			t.Errorf("the failure report does not say %q; it lists %q", line, w.bulkLines())
		}
	}
}

func TestBulkConfirmationScrollsWhenLong(t *testing.T) {
	var sts []core.Status
	for i := range 50 {
		s := statusOf(t, "connected")
		s.Account.ID = core.AccountID(strings.Repeat("x", i+1))
		s.Account.Name = "Desk " + string(rune('A'+i%26)) + string(rune('a'+i/26))
		sts = append(sts, s)
	}
	w, _ := newTestWindow(t, sts...)
	selectAllShown(t, w)
	w.confirmBulk(bulkDisconnect)
	d := topDialog(t, w)
	if h := d.MinSize().Height; h > 600 {
		t.Errorf("the confirmation for 50 accounts is %.0f px high; it should scroll inside a window", h)
	}
	if len(w.bulkLines()) != 50 {
		t.Errorf("the confirmation lists %d accounts, want 50", len(w.bulkLines()))
	}
}

// A row does not move while the pointer is over the list; the re-sort
// applies after it left.
func TestRowsDoNotMoveUnderThePointer(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	clock := t0
	w.list.now = func() time.Time { return clock }
	before := slices.Clone(w.list.rows)

	rowFor(t, w, "idle").MouseIn(&desktop.MouseEvent{})
	s := statusOf(t, "connected")
	s.State, s.Since, s.Reason = core.LoggedOut, t0, "The phone removed this linked device."
	w.apply([]core.Status{s})
	if !slices.Equal(w.list.rows, before) {
		t.Fatalf("a row moved under the pointer: %v, was %v", w.list.rows, before)
	}
	if got := w.statuses["connected"].State; got != core.LoggedOut {
		t.Fatalf("the status was not taken: %v", got)
	}
	// Its text changes in place.
	if got := rowFor(t, w, "connected").line.Text; !strings.Contains(got, "Logged out") {
		t.Errorf("the held row says %q, want its new state", got)
	}
	clock = clock.Add(5 * time.Second)
	w.tick()
	if !slices.Equal(w.list.rows, before) {
		t.Fatal("the rows moved while the pointer is still over the list")
	}

	// A pointer resting there holds it for holdStill at most.
	clock = clock.Add(holdStill)
	w.tick()
	if slices.Equal(w.list.rows, before) {
		t.Error("a pointer resting over the list holds the order for ever")
	}
	w.apply([]core.Status{statusOf(t, "connected")})
	before = slices.Clone(w.list.rows)
	rowFor(t, w, "idle").MouseMoved(&desktop.MouseEvent{})
	s.State = core.Failed
	w.apply([]core.Status{s})
	if !slices.Equal(w.list.rows, before) {
		t.Fatal("a row moved under a pointer that moves")
	}

	rowFor(t, w, "idle").MouseOut()
	w.tick()
	if !slices.Equal(w.list.rows, before) {
		t.Error("the rows moved at once when the pointer left")
	}
	clock = clock.Add(holdAfter)
	w.tick()
	if got := w.list.rows[:5]; !slices.Equal(got, []core.AccountID{"outdated", "replaced", "loggedout", "failed", "connected"}) {
		t.Errorf("after the pointer left, the first rows are %v; want Sales desk 1 among those needing action", got)
	}
}

// A click holds the order for a moment too, so the row clicked next is the
// one that was under the pointer.
func TestRowsDoNotMoveRightAfterAClick(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	clock := t0
	w.list.now = func() time.Time { return clock }
	clickRow(t, w, "idle", 0)
	before := slices.Clone(w.list.rows)
	s := statusOf(t, "connected")
	s.State = core.Failed
	w.apply([]core.Status{s})
	if !slices.Equal(w.list.rows, before) {
		t.Fatal("a row moved right after a click")
	}
	clock = clock.Add(holdAfter)
	w.tick()
	if slices.Equal(w.list.rows, before) {
		t.Error("the re-sort never applied after the click")
	}
	if w.detail.status.Account.ID != "idle" || w.list.selected != "idle" {
		t.Errorf("the selection moved to %q with the re-sort", w.list.selected)
	}
}

func TestCompactViewSortsByColumnAndIsRemembered(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	test.Tap(findButton(w.list.content, "Compact"))
	if !w.list.compact || !w.list.table.content.Visible() || w.list.list.Visible() {
		t.Fatal("the Compact button does not show the compact view")
	}
	name := findButton(w.list.content, "Name")
	if name == nil {
		t.Fatal("the compact view has no Name header")
	}
	test.Tap(name)
	byName := []core.AccountID{"takeover", "banned", "idle", "outdated", "replaced", "expired", "loggedout", "failed", "connected", "waiting", "connecting", "pairing"}
	if !slices.Equal(w.list.rows, byName) {
		t.Errorf("sorted by name: %v, want %v", w.list.rows, byName)
	}
	test.Tap(findButton(w.list.content, "Name ▲"))
	desc := slices.Clone(byName)
	slices.Reverse(desc)
	if !slices.Equal(w.list.rows, desc) {
		t.Errorf("sorted by name, descending: %v", w.list.rows)
	}
	test.Tap(findButton(w.list.content, "Name ▼"))
	if w.list.sortCol != -1 || w.list.rows[0] != "outdated" {
		t.Errorf("a third click keeps the sort on column %d (%v)", w.list.sortCol, w.list.rows)
	}

	// A click on a cell selects its account; Ctrl-click adds one.
	cell := func(id core.AccountID) *tableCell {
		for c := range w.list.table.cells {
			if c.id == id && c.col == colName && c.Visible() {
				return c
			}
		}
		t.Fatalf("no cell shows %s", id)
		return nil
	}
	test.Tap(cell("idle"))
	c := cell("banned")
	c.MouseDown(&desktop.MouseEvent{Modifier: fyne.KeyModifierControl})
	test.Tap(c)
	if got := w.list.markedIDs(); !slices.Equal(got, []core.AccountID{"banned", "idle"}) || w.detail.status.Account.ID != "idle" {
		t.Errorf("cell clicks mark %v and show %q", got, w.detail.status.Account.ID)
	}
	if cell("idle").bg.FillColor == markColor(false) {
		t.Error("a marked line is not highlighted")
	}

	// The next window opens in the compact view.
	w2 := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...), Options{Now: func() time.Time { return t0 }})
	t.Cleanup(w2.Close)
	if !w2.list.compact {
		t.Error("the compact view is not remembered")
	}
}

func TestCompareNatural(t *testing.T) {
	names := []string{"desk 10", "desk 9", "billing", "desk 1", "desk 010a", "desk", "desk 10b"}
	slices.SortFunc(names, compareNatural)
	want := []string{"billing", "desk", "desk 1", "desk 9", "desk 10", "desk 010a", "desk 10b"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %q, want %q", names, want)
	}
}

func TestBulkDeleteAsksWithWhatIsLostAndRemoves(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	clickRow(t, w, "idle", 0)
	clickRow(t, w, "expired", fyne.KeyModifierControl)
	w.confirmBulk(bulkDelete)
	d := topDialog(t, w)
	if !hasText(d, bulkInfo[bulkDelete].explain) || !hasText(d, "“Front desk” (+15550001111) — is deleted") || !hasText(d, "“New shop” — is deleted") {
		t.Errorf("the confirmation does not say what is lost and for whom: %q", w.bulkLines())
	}
	tapDialogButton(t, w, "Cancel")
	if len(ctl.Calls()) != 0 || len(w.list.rows) != len(sampleStatuses()) {
		t.Fatalf("Cancel deleted: %v", ctl.Calls())
	}

	ctl.errs["Delete"] = fmt.Errorf("delete: %w", core.ErrStillLinked)
	w.confirmBulk(bulkDelete)
	tapDialogButton(t, w, "Delete 2")
	got := ctl.Calls()
	slices.Sort(got)
	if !slices.Equal(got, []string{"Delete expired", "Delete idle"}) {
		t.Errorf("bulk Delete sent %v", got)
	}
	for _, id := range []core.AccountID{"idle", "expired"} {
		if _, ok := w.list.index[id]; ok {
			t.Errorf("%s is still in the list after it was deleted", id)
		}
	}
	if !hasText(topDialog(t, w), "“Front desk” (+15550001111)") {
		t.Errorf("the window does not say which phones still have the device linked: %q", w.bulkLines())
	}
}

// TestCompactAndBulkImages renders the compact view with a multi-selection
// and a bulk confirmation, for a reviewer's eye.
func TestCompactAndBulkImages(t *testing.T) {
	for _, tt := range []struct {
		file string
		then func(t *testing.T, w *Window)
	}{
		{"compact_selection.png", nil},
		{"compact_bulk_connect.png", func(t *testing.T, w *Window) { w.confirmBulk(bulkConnect) }},
	} {
		t.Run(tt.file, func(t *testing.T) {
			w, _ := newTestWindow(t, sampleStatuses()...)
			test.ApplyTheme(t, theme.LightTheme())
			w.setCompact(true)
			w.list.pick("idle")
			for _, id := range []core.AccountID{"replaced", "failed", "connected", "banned"} {
				w.list.click(id, fyne.KeyModifierControl)
			}
			if tt.then != nil {
				tt.then(t, w)
			}
			test.AssertRendersToImage(t, tt.file, w.win.Canvas())
		})
	}
}
