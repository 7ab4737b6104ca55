package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// About is what Help › About Warden shows. The app fills it in each time the
// dialog opens, so the WhatsApp Web version is the one announced now.
type About struct {
	Warden    string // Warden's version
	Whatsmeow string // the whatsmeow module's version
	Fyne      string // the Fyne module's version
	// WebVersion is the WhatsApp Web version Warden announces; WebSource
	// says where it came from (and when), in an operator's words.
	WebVersion string
	WebSource  string
	DataDir    string // where Warden keeps its data
}

// lines returns the dialog's rows, label and value.
func (a About) lines() [][2]string {
	rows := [][2]string{
		{"Warden", a.Warden},
		{"WhatsApp Web version", a.WebVersion},
		{"", a.WebSource},
		{"whatsmeow", a.Whatsmeow},
		{"Fyne", a.Fyne},
	}
	if a.DataDir != "" {
		rows = append(rows, [2]string{"Data", a.DataDir})
	}
	return rows
}

// text is the About in plain text, for Copy.
func (a About) text() string {
	var b strings.Builder
	for _, r := range a.lines() {
		if r[1] == "" {
			continue
		}
		if r[0] == "" {
			fmt.Fprintf(&b, "  (%s)\n", r[1])
			continue
		}
		fmt.Fprintf(&b, "%s: %s\n", r[0], r[1])
	}
	return b.String()
}

// showAbout opens Help › About Warden; it returns the dialog for tests.
func (w *Window) showAbout() dialog.Dialog {
	if w.opts.About == nil {
		return nil
	}
	a := w.opts.About()
	form := container.New(layout.NewFormLayout())
	for _, r := range a.lines() {
		key := widget.NewLabelWithStyle(r[0], fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
		value := widget.NewLabel(r[1])
		if r[0] == "" {
			value.TextStyle.Italic = true
		}
		form.Add(key)
		form.Add(value)
	}
	copyBtn := widget.NewButton("Copy", func() { w.app.Clipboard().SetContent(a.text()) })
	var dlg dialog.Dialog
	closeBtn := widget.NewButton("Close", func() { dlg.Hide() })
	closeBtn.Importance = widget.HighImportance
	content := container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), copyBtn, closeBtn), nil, nil, form)
	dlg = dialog.NewCustomWithoutButtons("About Warden", content, w.win)
	dlg.Show()
	return dlg
}
