package ui

import (
	"log/slog"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// press types a key on the window with no widget focused.
func press(w *Window, key fyne.KeyName) {
	w.win.Canvas().Unfocus()
	w.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: key})
}

func dialogOpen(w *Window) bool { return w.win.Canvas().Overlays().Top() != nil }

func TestDeleteConfirmationKeys(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "idle")
	press(w, fyne.KeyDelete)
	if !dialogOpen(w) {
		t.Fatal("Delete opened no confirmation")
	}
	// Enter alone does not delete: the confirm button does not have the focus.
	press(w, fyne.KeyReturn)
	press(w, fyne.KeyDelete) // nor does another Delete open a second question
	if calls := ctl.Calls(); len(calls) != 0 || len(w.dialogs) != 1 {
		t.Fatalf("Enter in the confirmation ran %v (%d dialogs)", calls, len(w.dialogs))
	}
	press(w, fyne.KeyEscape)
	if dialogOpen(w) || len(ctl.Calls()) != 0 {
		t.Fatalf("Escape did not cancel: dialog open %v, calls %v", dialogOpen(w), ctl.Calls())
	}

	// Tab to Delete, then Enter: that is a deliberate answer.
	press(w, fyne.KeyDelete)
	var del *keyButton
	for _, o := range visible(topDialog(t, w)) {
		if b, ok := o.(*keyButton); ok && b.Text == "Delete" {
			del = b
		}
	}
	if del == nil {
		t.Fatal("no Delete button")
	}
	w.win.Canvas().Focus(del)
	del.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if got := ctl.Calls(); !slices.Equal(got, []string{"Delete idle"}) {
		t.Errorf("Enter on the focused Delete button called %v", got)
	}
}

func TestAddDialogKeys(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	menuItem(t, w, shortcutNew).Action()
	es := entries(t, w)
	test.Type(es[0], "Night shift")
	// Escape in the focused name field cancels.
	w.win.Canvas().Focused().TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if dialogOpen(w) || len(ctl.Calls()) != 0 {
		t.Fatalf("Escape in the name field: dialog open %v, calls %v", dialogOpen(w), ctl.Calls())
	}
	// With no field focused, Escape cancels and Enter adds.
	menuItem(t, w, shortcutNew).Action()
	press(w, fyne.KeyEscape)
	if dialogOpen(w) {
		t.Fatal("Escape did not close Add connection")
	}
	menuItem(t, w, shortcutNew).Action()
	test.Type(entries(t, w)[0], "Night shift")
	press(w, fyne.KeyReturn)
	if got := ctl.Calls(); !slices.Equal(got, []string{"Add Night shift "}) && !slices.Equal(got, []string{"Add Night shift"}) {
		t.Errorf("Enter in Add connection called %v", got)
	}
}

func TestDeleteKeyFromTheDetailsLists(t *testing.T) {
	w, ctl, tl := openTimeline(t, nightEvents())
	w.win.Canvas().Focus(tl.list)
	tl.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	tapDialogButton(t, w, "Delete")
	if got := ctl.Calls(); !slices.Equal(got, []string{"Delete waiting"}) {
		t.Errorf("Delete with the timeline's list focused called %v", got)
	}

	w2, ctl2 := newTestWindow(t, sampleStatuses()...)
	w2.SetLogSource(newFakeLogs(line(1, slog.LevelInfo, "connected", "Connected")))
	selectRow(t, w2, "connected")
	w2.detail.tabs.Select(logsTab(t, w2))
	w2.logs.account.list.TypedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	tapDialogButton(t, w2, "Delete")
	if got := ctl2.Calls(); !slices.Equal(got, []string{"Delete connected"}) {
		t.Errorf("Delete with the Logs list focused called %v", got)
	}
}

func TestAllLogsWindowClosesFromTheKeyboard(t *testing.T) {
	for _, how := range []string{"Escape in search", "Ctrl+W in search", "Escape"} {
		t.Run(how, func(t *testing.T) {
			w, _ := newTestWindow(t, sampleStatuses()...)
			w.SetLogSource(newFakeLogs(line(1, slog.LevelInfo, "", "warden started")))
			w.logs.showAll()
			win := w.logs.allWin
			if win == nil {
				t.Fatal("no All logs window")
			}
			q := w.logs.allPane.query
			switch how {
			case "Escape in search":
				q.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
			case "Ctrl+W in search":
				q.TypedShortcut(shortcutClose)
			default:
				win.Canvas().Unfocus()
				win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyEscape})
			}
			if w.logs.allWin != nil {
				t.Errorf("%s left the All logs window open", how)
			}
		})
	}
}

func TestCtrlQAsksWhenAccountsWouldDrop(t *testing.T) {
	for _, where := range []string{"connected accounts", "fleet node"} {
		t.Run(where, func(t *testing.T) {
			var w *Window
			if where == "fleet node" {
				w, _ = newFleetWindow(t)
			} else {
				w, _ = newTestWindow(t, sampleStatuses()...)
			}
			quits := 0
			w.opts.OnQuit = func() { quits++ }
			menuItem(t, w, shortcutQuit).Action()
			if quits != 0 || !dialogOpen(w) {
				t.Fatalf("Ctrl+Q quit %d times without asking", quits)
			}
			want := "1 account is connected. Quitting disconnects it until Warden runs again."
			if where == "fleet node" {
				want = "This is node node-a of a fleet, with 1 account connected here. Quitting drops them here; " +
					"the other nodes take them over once this node's lease runs out."
			}
			if !hasText(topDialog(t, w), want) {
				t.Error("the question does not say what quitting drops")
			}
			menuItem(t, w, shortcutQuit).Action() // again: no second question
			if len(w.dialogs) != 1 {
				t.Errorf("Ctrl+Q twice shows %d questions", len(w.dialogs))
			}
			press(w, fyne.KeyEscape)
			if quits != 0 || dialogOpen(w) {
				t.Fatalf("Escape: quit %d times, question open %v", quits, dialogOpen(w))
			}
			menuItem(t, w, shortcutQuit).Action()
			tapDialogButton(t, w, "Quit")
			if quits != 1 {
				t.Errorf("confirming quit %d times, want once", quits)
			}
		})
	}
}
