package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// actionTimeout bounds one command to the engine.
const actionTimeout = 45 * time.Second

// call runs a command in the background and, back on Fyne's thread, shows
// its error in a dialog titled failTitle or calls done.
func (w *Window) call(failTitle string, cmd func(ctx context.Context) error, done func()) {
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, actionTimeout)
		err := cmd(ctx)
		cancel()
		return func() {
			if err != nil {
				w.showMessage(failTitle, plainError(err))
				return
			}
			if done != nil {
				done()
			}
		}
	})
}

// runAction does what a header button asks, confirming first where the
// action cannot be undone.
func (w *Window) runAction(kind actionKind, s core.Status) {
	id, name := s.Account.ID, s.Account.Name
	switch kind {
	case actConnect:
		w.call(fmt.Sprintf("Could not connect “%s”", name), func(ctx context.Context) error { return w.ctl.Connect(ctx, id) }, nil)
	case actDisconnect:
		w.call(fmt.Sprintf("Could not disconnect “%s”", name), func(ctx context.Context) error { return w.ctl.Disconnect(ctx, id) }, nil)
	case actLogout:
		w.confirm("Log out", "Log out",
			fmt.Sprintf("Log “%s” out?\n\nThe device is unlinked on the phone. To use this account again you will pair it with a new QR code.", name),
			func() {
				w.call(fmt.Sprintf("Could not log “%s” out", name), func(ctx context.Context) error { return w.ctl.Logout(ctx, id) }, nil)
			})
	case actDelete:
		w.confirmDelete(s)
	}
}

// confirmDelete asks before deleting, saying what is lost.
func (w *Window) confirmDelete(s core.Status) {
	id, name := s.Account.ID, s.Account.Name
	who := "“" + name + "”"
	if p := s.Account.Phone(); p != "" {
		who += " (+" + p + ")"
	}
	msg := fmt.Sprintf("Delete %s?\n\nWarden forgets this connection: its pairing with the phone, its device keys, its history and its logs. "+
		"Warden logs the device out first; if WhatsApp cannot be reached, remove the linked device on the phone yourself.\n\nThis cannot be undone.", who)
	w.confirm("Delete connection", "Delete", msg, func() {
		w.async(func() func() {
			ctx, cancel := context.WithTimeout(w.ctx, actionTimeout)
			err := w.ctl.Delete(ctx, id)
			cancel()
			return func() {
				switch {
				case err == nil:
					w.apply([]core.Status{{Account: s.Account, Removed: true}})
				case errors.Is(err, core.ErrStillLinked):
					w.apply([]core.Status{{Account: s.Account, Removed: true}})
					w.showMessage("Connection deleted",
						fmt.Sprintf("“%s” is deleted from Warden, but WhatsApp could not be reached to unlink the device.\n\n"+
							"Remove the linked device on the phone: WhatsApp › Settings › Linked devices.", name))
				default:
					w.showMessage(fmt.Sprintf("Could not delete “%s”", name), plainError(err))
				}
			}
		})
	})
}

// confirmDeleteSelected is the Delete key.
func (w *Window) confirmDeleteSelected() {
	if s, ok := w.statuses[w.list.selected]; ok && w.list.selected != "" {
		w.confirmDelete(s)
	}
}

// newCode asks for new QR codes for the selected account.
func (w *Window) newCode() {
	s := w.detail.status
	w.runAction(actConnect, s)
}

// pairPhone asks for a phone pairing code for the selected account.
func (w *Window) pairPhone(phone string, done func(code string)) {
	id, name := w.detail.status.Account.ID, w.detail.status.Account.Name
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, actionTimeout)
		code, err := w.ctl.PairPhone(ctx, id, phone)
		cancel()
		return func() {
			if err != nil {
				w.showMessage(fmt.Sprintf("Could not get a code for “%s”", name), plainError(err))
				done("")
				return
			}
			done(code)
		}
	})
}

// rename renames an account; done reports whether it worked.
func (w *Window) rename(id core.AccountID, name string, done func(bool)) {
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, actionTimeout)
		err := w.ctl.Rename(ctx, id, name)
		cancel()
		return func() {
			if err != nil {
				w.showMessage("Could not rename the connection", plainError(err))
			}
			done(err == nil)
		}
	})
}

// showAddDialog asks for a name, then adds the account and shows its pairing.
func (w *Window) showAddDialog() {
	entry := newEscapeEntry(nil) // Escape cancels, as in the dialog
	entry.PlaceHolder = "e.g. Sales desk 1"
	entry.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("Enter a name")
		}
		if _, err := core.ValidateName(s); err != nil {
			return errors.New(capitalize(lastPart(err)))
		}
		return nil
	}
	proxy := newProxyEntry("")
	items := []*widget.FormItem{
		{Text: "Name", Widget: entry, HintText: "How this connection is called in the list"},
		{Text: "Proxy", Widget: proxy, HintText: proxyHint},
	}
	var d *dialog.FormDialog
	d = dialog.NewForm("Add connection", "Add and pair", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		name, err := core.ValidateName(entry.Text)
		if err != nil { // the form checks only when the entry loses the focus
			w.showMessage("Could not add the connection", plainError(err))
			return
		}
		px, err := core.NormalizeProxy(proxy.Text)
		if err != nil {
			w.showMessage("Could not add the connection", proxyProblem(err).Error())
			return
		}
		var opts []core.AccountOption
		if px != "" {
			opts = append(opts, core.WithProxy(px))
		}
		var acct core.Account
		w.call("Could not add the connection", func(ctx context.Context) error {
			a, err := w.ctl.Add(ctx, name, opts...)
			acct = a
			return err
		}, func() {
			w.list.filter.SetText("")
			w.list.selected = acct.ID
			if _, ok := w.statuses[acct.ID]; !ok {
				for _, s := range w.ctl.Statuses() {
					if s.Account.ID == acct.ID {
						w.apply([]core.Status{s})
					}
				}
			}
			w.list.selectAccount(acct.ID)
			if s, ok := w.statuses[acct.ID]; ok {
				w.detail.show(s, w.now())
			}
		})
	}, w.win)
	entry.OnSubmitted = func(string) { d.Submit() } // Enter adds, as in any form
	proxy.OnSubmitted = func(string) { d.Submit() }
	entry.onEscape, proxy.onEscape = d.Hide, d.Hide
	d.Resize(fyne.NewSize(560, d.MinSize().Height))
	w.openDialog(d, dialogKeys{escape: d.Hide, enter: d.Submit})
	w.win.Canvas().Focus(entry)
}

// confirm shows a question with a danger-styled confirm button.
func (w *Window) confirm(title, confirmText, message string, yes func()) {
	label := &widget.Label{Text: message, Wrapping: fyne.TextWrapWord}
	var d *dialog.CustomDialog
	cancel := newKeyButton("Cancel", widget.MediumImportance, func() { d.Hide() })
	cancel.Icon = theme.CancelIcon()
	ok := newKeyButton(confirmText, widget.DangerImportance, func() { d.Hide(); yes() })
	ok.Icon = theme.ConfirmIcon()
	d = dialog.NewCustomWithoutButtons(title, container.New(wrapAt(420), label), w.win)
	d.SetButtons([]fyne.CanvasObject{cancel, ok})
	// Escape cancels; Enter answers only from the focused button (keys.go).
	w.openDialog(d, dialogKeys{escape: d.Hide})
}

// showMessage shows a plain-words message with an OK button.
func (w *Window) showMessage(title, message string) {
	label := &widget.Label{Text: message, Wrapping: fyne.TextWrapWord}
	d := dialog.NewCustom(title, "OK", label, w.win)
	d.Resize(fyne.NewSize(460, 0))
	w.openDialog(d, dialogKeys{escape: d.Hide, enter: d.Hide})
}

// plainError says what went wrong in an operator's words.
func plainError(err error) string {
	switch {
	case errors.Is(err, core.ErrBusy):
		return "Warden is still busy with this account. Try again in a moment."
	case errors.Is(err, core.ErrNotConnected):
		return "The account is not connected right now, so WhatsApp cannot be asked. Connect it first."
	case errors.Is(err, core.ErrAlreadyConnected):
		return "The account is already connected."
	case errors.Is(err, core.ErrUnknownAccount):
		return "This connection does not exist any more."
	case errors.Is(err, core.ErrInvalidName):
		return "That name cannot be used: " + lastPart(err) + "."
	case errors.Is(err, core.ErrInvalidPhone):
		return "That phone number cannot be used: " + lastPart(err) + "."
	case errors.Is(err, core.ErrNotPairing):
		return "The account is not pairing any more. Ask for a new code first."
	case errors.Is(err, core.ErrClosed):
		return "Warden is shutting down."
	case errors.Is(err, context.DeadlineExceeded):
		return "WhatsApp did not answer in time. Check the network connection and try again."
	case errors.Is(err, context.Canceled):
		return "The operation was cancelled."
	}
	return capitalize(err.Error()) + "."
}

// lastPart returns the innermost message of a wrapped error: "the name is
// empty" of "rename x: invalid name: the name is empty".
func lastPart(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// ShowMessage shows a message in a dialog over the window, for the app's
// own news (a saved setting that could not be applied at start).
func (w *Window) ShowMessage(title, message string) { w.showMessage(title, message) }

// wrapAt lays out wrapping text at a width of its own and asks for the
// height the text needs there.
type wrapAt float32

func (w wrapAt) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (w wrapAt) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(float32(w), 0)
	for _, o := range objs {
		o.Resize(fyne.NewSize(float32(w), o.Size().Height))
		s.Height = max(s.Height, o.MinSize().Height)
	}
	return s
}
