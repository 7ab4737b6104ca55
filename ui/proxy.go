package ui

import (
	"context"
	"errors"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// The proxy of an account: a field in Add connection, a fact in the
// Overview with a Change… button. The window shows a proxy only with its
// password hidden; a field filled in with that hidden form keeps the saved
// password unless the operator types another.

const (
	proxyPlaceholder = "socks5://user:password@host:1080 (optional)"
	proxyHint        = "Empty: the default proxy from Settings, if any. “direct”: no proxy at all. Kinds: socks5, socks5h, http, https."
)

// proxyText is the Overview's Proxy fact.
func proxyText(p string) string {
	switch p {
	case "":
		return "default (see Settings)"
	case core.ProxyDirect:
		return "none (direct, even with a default proxy)"
	}
	return core.RedactProxy(p)
}

// proxyProblem is a NormalizeProxy error in a field's words.
func proxyProblem(err error) error {
	msg := strings.TrimPrefix(err.Error(), core.ErrInvalidProxy.Error()+": ")
	return errors.New(capitalize(msg) + ".")
}

// newProxyEntry is a proxy field showing current (hidden password), which
// validates as the operator types.
func newProxyEntry(current string) *escapeEntry {
	// The check and its words follow every keystroke: by default an entry
	// keeps the last verdict while it has focus, so it showed a ✓ for a
	// value Save refused, and an error about the value before.
	e := newEscapeEntry(nil)
	e.PlaceHolder, e.AlwaysShowValidationError = proxyPlaceholder, true
	if current != "" {
		e.SetText(core.RedactProxy(current))
	}
	e.Validator = func(s string) error {
		if _, err := core.NormalizeProxy(keepPassword(s, current)); err != nil {
			return proxyProblem(err)
		}
		return nil
	}
	return e
}

// keepPassword returns current when typed is current's hidden form: the
// operator left the field as it was.
func keepPassword(typed, current string) string {
	if current != "" && strings.TrimSpace(typed) == core.RedactProxy(current) {
		return current
	}
	return typed
}

// showProxyDialog changes an account's proxy. While the account has a
// session, "Save and reconnect" applies it at once.
func (w *Window) showProxyDialog(s core.Status) dialog.Dialog {
	id, current := s.Account.ID, s.Account.Proxy
	entry := newProxyEntry(current)
	hint := &widget.Label{Text: proxyHint + " A new proxy applies from the next connection.", Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText}
	live := s.State == core.Connected || s.State == core.Connecting || s.State == core.Waiting || s.State == core.Pairing
	var dlg dialog.Dialog
	save := func(reconnect bool) {
		proxy := keepPassword(entry.Text, current)
		if _, err := core.NormalizeProxy(proxy); err != nil {
			w.showMessage("Could not change the proxy", proxyProblem(err).Error())
			return
		}
		dlg.Hide()
		w.call("Could not change the proxy", func(ctx context.Context) error {
			if err := w.ctl.SetProxy(ctx, id, proxy); err != nil {
				return err
			}
			if !reconnect {
				return nil
			}
			if err := w.ctl.Disconnect(ctx, id); err != nil {
				return err
			}
			return w.ctl.Connect(ctx, id)
		}, nil)
	}
	buttons := []fyne.CanvasObject{}
	cancel := widget.NewButton("Cancel", func() { dlg.Hide() })
	saveBtn := widget.NewButton("Save", func() { save(false) })
	buttons = append(buttons, cancel, saveBtn)
	if live {
		now := widget.NewButton("Save and reconnect", func() { save(true) })
		now.Importance = widget.HighImportance
		buttons = append(buttons, now)
	} else {
		saveBtn.Importance = widget.HighImportance
	}
	// The verdict on what is typed, in a line of its own below the field,
	// with room kept for two lines so that nothing under the pointer moves
	// when it comes, goes or wraps (a Form shows it only once the field has
	// lost focus, and then about the value before).
	// It takes the place of the hint, which it needs no more than.
	problem := &widget.Label{Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText}
	judge := func(text string) {
		err := entry.Validator(text)
		for _, b := range buttons[1:] {
			if err != nil {
				b.(*widget.Button).Disable()
			} else {
				b.(*widget.Button).Enable()
			}
		}
		text, imp := hint.Text, widget.MediumImportance
		if err != nil {
			text, imp = err.Error(), widget.DangerImportance
		}
		if problem.Text != text || problem.Importance != imp {
			problem.Text, problem.Importance = text, imp
			problem.Refresh()
		}
	}
	entry.OnChanged = judge
	judge(entry.Text)
	entry.OnSubmitted = func(string) { save(false) }
	field := container.NewBorder(nil, nil, &widget.Label{Text: "Proxy", TextStyle: fyne.TextStyle{Bold: true}}, nil, entry)
	content := container.NewVBox(field, container.New(reserveLines{2, theme.SizeNameCaptionText}, problem),
		container.NewHBox(append([]fyne.CanvasObject{layout.NewSpacer()}, buttons...)...))
	dlg = dialog.NewCustomWithoutButtons("Proxy of “"+s.Account.Name+"”", content, w.win)
	dlg.Resize(fyne.NewSize(560, dlg.MinSize().Height))
	entry.onEscape = dlg.Hide
	w.openDialog(dlg, dialogKeys{escape: dlg.Hide, enter: func() { save(false) }})
	w.win.Canvas().Focus(entry)
	return dlg
}

// reserveLines lays its objects out over the whole size and asks for at
// least n lines of text of size name: a message that comes, goes or wraps
// below a field then moves nothing under it.
type reserveLines struct {
	n    int
	size fyne.ThemeSizeName
}

func (r reserveLines) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (r reserveLines) MinSize(objs []fyne.CanvasObject) fyne.Size {
	line := fyne.MeasureText("Ag", theme.Size(r.size), fyne.TextStyle{}).Height
	s := fyne.NewSize(0, float32(r.n)*line+2*theme.InnerPadding())
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}
