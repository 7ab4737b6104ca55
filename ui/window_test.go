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

// pump makes the window's background goroutine hand its Fyne calls to the
// test, which runs them on its own goroutine as Fyne's thread would.
func pump(w *Window) <-chan func() {
	calls := make(chan func())
	w.do = func(f func()) {
		select {
		case calls <- f:
		case <-w.ctx.Done():
		}
	}
	return calls
}

// runUntil runs the window's Fyne calls until cond holds. It fails after
// many calls rather than after some time.
func runUntil(t *testing.T, calls <-chan func(), cond func() bool) {
	t.Helper()
	for range 50 {
		if cond() {
			return
		}
		(<-calls)()
	}
	t.Fatal("the update never showed")
}

func TestUpdatesFromTheSubscriptionReachTheList(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	calls := pump(w)
	w.start()
	selectRow(t, w, "waiting")

	s := statusOf(t, "waiting")
	s.State, s.Since, s.Attempt, s.NextAttempt = core.Connected, t0, 0, time.Time{}
	ctl.updates <- s
	runUntil(t, calls, func() bool { return w.statuses["waiting"].State == core.Connected })
	if got := rowFor(t, w, "waiting").line.Text; got != "Connected for 0 s" {
		t.Errorf("the row says %q after the update", got)
	}
	if got := actionLabels(w); !slices.Equal(got, wantActions["connected"]) {
		t.Errorf("the detail offers %v after connecting, want %v", got, wantActions["connected"])
	}

	// A new account and a deleted one.
	ctl.updates <- core.Status{Account: acct("fresh", "Zebra", ""), State: core.Pairing, Since: t0}
	ctl.updates <- core.Status{Account: statusOf(t, "failed").Account, Removed: true}
	runUntil(t, calls, func() bool {
		_, added := w.list.index["fresh"]
		_, kept := w.list.index["failed"]
		return added && !kept
	})
	if w.summary.text != "2 connected · 1 connecting · 1 reconnecting · 2 pairing · 1 banned · 2 stopped · 3 needs action" {
		t.Errorf("summary = %q after the add and the delete", w.summary.text)
	}
}

func TestSelectedAccountRemovedClearsTheDetail(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "idle")
	w.apply([]core.Status{{Account: statusOf(t, "idle").Account, Removed: true}})
	if w.detail.shown || !w.detail.empty.Visible() {
		t.Error("the detail still shows a deleted account")
	}
}

func TestSelectionFollowsResort(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	s := statusOf(t, "connected")
	s.State = core.Failed
	w.apply([]core.Status{s}) // moves up to the accounts needing action
	i := w.list.index["connected"]
	if w.list.list.Length() <= i || w.list.selected != "connected" || w.detail.status.Account.ID != "connected" {
		t.Fatalf("selection lost after a re-sort: selected %q, detail %q", w.list.selected, w.detail.status.Account.ID)
	}
	if got := actionLabels(w); !slices.Equal(got, wantActions["failed"]) {
		t.Errorf("the detail offers %v, want %v", got, wantActions["failed"])
	}
}

func TestResortKeepsTheScrollPosition(t *testing.T) {
	var all []core.Status
	for i := range 40 {
		all = append(all, core.Status{Account: acct(fmt.Sprintf("a%02d", i), fmt.Sprintf("Line %02d", i), ""), State: core.Connected, Since: t0})
	}
	w, _ := newTestWindow(t, all...)
	selectRow(t, w, "a30") // far down: the list scrolls to it
	w.list.list.ScrollToTop()

	s := all[35]
	s.State = core.Failed // moves to the top, and a30 one row down
	w.apply([]core.Status{s})
	if got := w.list.list.GetScrollOffset(); got != 0 {
		t.Errorf("a re-sort scrolled the list to %v; the operator left it at the top", got)
	}
	if w.list.selected != "a30" || w.detail.status.Account.ID != "a30" {
		t.Errorf("the selection moved to %q", w.list.selected)
	}
}

func TestCloseStopsFollowing(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	w.start()
	w.Close()
	w.Close() // safe twice
	ctl.mu.Lock()
	canceled := ctl.canceled
	ctl.mu.Unlock()
	if !canceled {
		t.Error("Close did not cancel the subscription")
	}
}

// menuItem finds the main menu item with the shortcut.
func menuItem(t *testing.T, w *Window, sc fyne.Shortcut) *fyne.MenuItem {
	t.Helper()
	for _, m := range w.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Shortcut != nil && it.Shortcut.ShortcutName() == sc.ShortcutName() {
				return it
			}
		}
	}
	t.Fatalf("no menu item has the shortcut %s", sc.ShortcutName())
	return nil
}

func TestCtrlNAddsAConnectionAndShowsItsPairing(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	test.Type(w.list.filter, "sales")
	menuItem(t, w, shortcutNew).Action()

	d := topDialog(t, w)
	add := findButton(d, "Add and pair")
	if add == nil {
		t.Fatal("Ctrl+N shows no “Add connection” dialog")
	}
	entry := entries(t, w)[0] // the name; the proxy is below
	test.Type(entry, "Night shift")
	test.Tap(add)

	if got := ctl.Calls(); !slices.Equal(got, []string{"Add Night shift"}) {
		t.Fatalf("adding called %v", got)
	}
	if w.list.filter.Text != "" {
		t.Error("the filter still hides the new account")
	}
	if w.detail.status.Account.Name != "Night shift" || w.detail.status.State != core.Pairing {
		t.Errorf("the detail shows %q in %v, want the new account pairing", w.detail.status.Account.Name, w.detail.status.State)
	}
}

func TestEnterInTheAddDialogAdds(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	menuItem(t, w, shortcutNew).Action()
	entry := entries(t, w)[0] // the name; the proxy is below
	test.Type(entry, "Night shift")
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if got := ctl.Calls(); !slices.Equal(got, []string{"Add Night shift"}) {
		t.Fatalf("Enter in the name field called %v, want the account added", got)
	}
}

func TestAddNeedsAName(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	test.Tap(w.list.add)
	d := topDialog(t, w)
	for _, o := range visible(d) {
		if e, ok := o.(*widget.Entry); ok {
			test.Type(e, "   ")
		}
	}
	test.Tap(findButton(d, "Add and pair"))
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("a blank name was added: %v", calls)
	}
}

func TestAddRejectsATooLongName(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	test.Tap(w.list.add)
	d := topDialog(t, w)
	test.Type(entries(t, w)[0], strings.Repeat("x", core.MaxNameLen+1))
	add := findButton(d, "Add and pair")
	test.Tap(add) // leaving the entry checks the name
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("a name that is too long was sent: %v", calls)
	}
	if !add.Disabled() {
		t.Error("“Add and pair” stays enabled for a name that is too long")
	}
	if !hasText(d, fmt.Sprintf("The name is longer than %d characters", core.MaxNameLen)) {
		t.Error("the form does not say the name is too long")
	}
}

func TestCtrlFFocusesTheFilter(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	menuItem(t, w, shortcutFilter).Action()
	if w.win.Canvas().Focused() != w.list.filter {
		t.Errorf("Ctrl+F focused %v, want the filter", w.win.Canvas().Focused())
	}
}

func TestCtrlQQuits(t *testing.T) {
	test.NewTempApp(t)
	quit := 0
	w := newWindow(fyne.CurrentApp(), newFakeController(), Options{Now: func() time.Time { return t0 }, OnQuit: func() { quit++ }})
	t.Cleanup(w.Close)
	menuItem(t, w, shortcutQuit).Action()
	if quit != 1 {
		t.Errorf("Ctrl+Q called OnQuit %d times, want once", quit)
	}
}

func TestDeleteKeyAsksFirst(t *testing.T) {
	for _, where := range []string{"list", "window"} {
		t.Run(where, func(t *testing.T) {
			w, ctl := newTestWindow(t, sampleStatuses()...)
			selectRow(t, w, "idle")
			key := &fyne.KeyEvent{Name: fyne.KeyDelete}
			if where == "list" {
				w.list.list.TypedKey(key)
			} else {
				w.win.Canvas().OnTypedKey()(key)
			}
			if calls := ctl.Calls(); len(calls) != 0 {
				t.Fatalf("Delete ran %v without asking", calls)
			}
			tapDialogButton(t, w, "Delete")
			if got := ctl.Calls(); !slices.Equal(got, []string{"Delete idle"}) {
				t.Errorf("confirming called %v", got)
			}
		})
	}
}

func TestSizeIsRestoredAndReported(t *testing.T) {
	test.NewTempApp(t)
	var reported []fyne.Size
	w := newWindow(fyne.CurrentApp(), newFakeController(), Options{
		Size:     fyne.NewSize(900, 600),
		OnResize: func(s fyne.Size) { reported = append(reported, s) },
	})
	if got := w.win.Canvas().Size(); got != fyne.NewSize(900, 600) {
		t.Errorf("the window opened at %v, want the saved 900x600", got)
	}

	// A drag: the size changes between ticks, then holds.
	w.win.Resize(fyne.NewSize(950, 650))
	w.tick()
	w.win.Resize(fyne.NewSize(1000, 700))
	w.tick()
	if len(reported) != 0 {
		t.Errorf("sizes %v were reported while the window was still being resized", reported)
	}
	w.tick()
	w.tick()
	if !slices.Equal(reported, []fyne.Size{fyne.NewSize(1000, 700)}) {
		t.Errorf("sizes reported %v, want 1000x700 once", reported)
	}

	// A last change right before closing is reported by Close.
	w.win.Resize(fyne.NewSize(1100, 720))
	w.Close()
	if want := []fyne.Size{fyne.NewSize(1000, 700), fyne.NewSize(1100, 720)}; !slices.Equal(reported, want) {
		t.Errorf("sizes reported %v, want %v", reported, want)
	}
}

func TestLoopStopsWhenTheEngineCloses(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	w.do = func(func()) {} // no Fyne thread: the app has stopped
	w.start()
	close(ctl.updates)
	w.wg.Wait() // returns once the loop has ended, without Close
}

// TestWindowImages renders the whole window, in the light and the dark theme,
// for a reviewer's eye.
func TestWindowImages(t *testing.T) {
	for _, tt := range []struct {
		file     string
		th       fyne.Theme
		selected core.AccountID
		then     func(t *testing.T, w *Window)
	}{
		{"window_light_waiting.png", theme.LightTheme(), "waiting", nil},
		{"window_dark_replaced.png", theme.DarkTheme(), "replaced", nil},
		{"window_light_pairing.png", theme.LightTheme(), "pairing", nil},
		{"window_dark_pairing.png", theme.DarkTheme(), "pairing", nil},
		{"window_light_expired.png", theme.LightTheme(), "expired", nil},
		{"window_light_phone_code.png", theme.LightTheme(), "pairing", func(t *testing.T, w *Window) {
			test.Tap(findButton(w.pairing.content, "Use phone number instead"))
			test.Type(w.pairing.phone, "+44 7700 900123")
			test.Tap(findButton(w.pairing.content, "Get code"))
		}},
		{"window_light_phone_error.png", theme.LightTheme(), "pairing", func(t *testing.T, w *Window) {
			test.Tap(findButton(w.pairing.content, "Use phone number instead"))
			test.Type(w.pairing.phone, "07700 900123")
			test.Tap(findButton(w.pairing.content, "Get code"))
		}},
		{"window_light_delete.png", theme.LightTheme(), "connected", func(t *testing.T, w *Window) {
			test.Tap(findButton(w.detail.actions, "Delete"))
		}},
		{"window_dark_add.png", theme.DarkTheme(), "connected", func(t *testing.T, w *Window) {
			test.Tap(w.list.add)
		}},
		{"window_light_narrow.png", theme.LightTheme(), "waiting", func(t *testing.T, w *Window) {
			w.win.Resize(fyne.NewSize(640, 600))
		}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			w, _ := newTestWindow(t, sampleStatuses()...)
			test.ApplyTheme(t, tt.th)
			selectRow(t, w, tt.selected)
			w.list.list.ScrollToTop()
			if tt.then != nil {
				tt.then(t, w)
			}
			test.AssertRendersToImage(t, tt.file, w.win.Canvas())
		})
	}
}

// The keyboard alone reaches an account's timeline: Ctrl+F, a few letters,
// Enter opens the first match, Alt+2 shows its Timeline tab.
func TestKeyboardOpensAnAccountsTimeline(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	menuItem(t, w, shortcutTabs[1]).Action() // nothing selected: nothing happens
	if w.detail.shown {
		t.Fatal("a tab shortcut with no account selected showed one")
	}
	menuItem(t, w, shortcutFilter).Action()
	test.Type(w.list.filter, "sales desk")
	w.list.filter.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if w.detail.status.Account.Name != "Sales desk 1" {
		t.Fatalf("Enter in the filter opened %q, want the first match", w.detail.status.Account.Name)
	}
	for i, want := range []string{"Timeline", "Overview"} {
		menuItem(t, w, shortcutTabs[1-i]).Action()
		if got := w.detail.tabs.Selected().Text; got != want {
			t.Errorf("Alt+%d shows the %q tab, want %q", 2-i, got, want)
		}
	}
}
