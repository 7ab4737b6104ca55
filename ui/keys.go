package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// The keyboard in dialogs and small windows. Fyne's dialogs take no keys of
// their own: Escape and Enter reach the window's canvas when no widget has
// the focus, and the focused widget otherwise. So each dialog Warden opens
// registers what Escape and Enter mean while it is on top (dialogKeys), and
// its fields and buttons pass those keys on (escapeEntry, keyButton).
//
// Escape always cancels. Enter confirms only where that is safe: in a
// question whose answer destroys something (Delete, Log out) Enter does
// nothing unless the confirm button itself has the focus (Tab to it), so a
// stray Enter meant for another window never deletes an account.

// dialogKeys is what Escape and Enter do in one open dialog; enter is nil
// where Enter must not answer.
type dialogKeys struct {
	escape func()
	enter  func()
}

// openDialog shows d and makes keys its keys until it closes.
func (w *Window) openDialog(d dialog.Dialog, keys dialogKeys) {
	k := &keys
	w.dialogs = append(w.dialogs, k)
	d.SetOnClosed(func() {
		for i, x := range w.dialogs {
			if x == k {
				w.dialogs = append(w.dialogs[:i], w.dialogs[i+1:]...)
				break
			}
		}
	})
	d.Show()
}

// typedKey is the window's key handler when no widget has the focus: the
// top dialog's Escape and Enter, or Delete on the selected account.
func (w *Window) typedKey(ev *fyne.KeyEvent) {
	if n := len(w.dialogs); n > 0 {
		top := w.dialogs[n-1]
		switch ev.Name {
		case fyne.KeyEscape:
			if top.escape != nil {
				top.escape()
			}
		case fyne.KeyReturn, fyne.KeyEnter:
			if top.enter != nil {
				top.enter()
			}
		}
		return // no Delete behind an open dialog
	}
	if ev.Name == fyne.KeyDelete {
		w.confirmDeleteSelected()
	}
}

// keyButton is a button that Enter presses, as Space does, while it has the
// focus.
type keyButton struct{ widget.Button }

func newKeyButton(text string, imp widget.Importance, tapped func()) *keyButton {
	b := &keyButton{widget.Button{Text: text, Importance: imp, OnTapped: tapped}}
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey presses on Enter and leaves the other keys to the Button.
func (b *keyButton) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyReturn || ev.Name == fyne.KeyEnter {
		b.Tapped(&fyne.PointEvent{})
		return
	}
	b.Button.TypedKey(ev)
}

// deleteKeyList is a list that passes the Delete key to onDelete (the
// selected account's Delete), so that Delete works while a list of the
// detail (events, log lines) has the focus.
type deleteKeyList struct {
	widget.List
	onDelete func()
}

// TypedKey handles Delete and leaves the other keys to the List.
func (l *deleteKeyList) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyDelete && l.onDelete != nil {
		l.onDelete()
		return
	}
	l.List.TypedKey(ev)
}

// closeKeyEntry is an entry of a secondary window that Escape and Ctrl+W
// close, as they do anywhere else in that window.
type closeKeyEntry struct {
	widget.Entry
	onClose func()
}

func newCloseKeyEntry() *closeKeyEntry {
	e := &closeKeyEntry{}
	e.ExtendBaseWidget(e)
	return e
}

// shortcutClose closes a secondary window.
var shortcutClose = &desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault}

// TypedKey closes on Escape and leaves the other keys to the Entry.
func (e *closeKeyEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onClose != nil {
		e.onClose()
		return
	}
	e.Entry.TypedKey(ev)
}

// TypedShortcut closes on Ctrl+W and leaves the others to the Entry.
func (e *closeKeyEntry) TypedShortcut(s fyne.Shortcut) {
	if cs, ok := s.(*desktop.CustomShortcut); ok && e.onClose != nil &&
		cs.KeyName == shortcutClose.KeyName && cs.Modifier == shortcutClose.Modifier {
		e.onClose()
		return
	}
	e.Entry.TypedShortcut(s)
}
