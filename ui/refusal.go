package ui

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// Refusal is the small window Warden shows instead of its own when it cannot
// start (another Warden runs on the data directory, a data file is damaged,
// the disk is full): what is wrong and what to do, as the terminal says it,
// and a Quit button. Enter and Escape quit too.
type Refusal struct {
	win     fyne.Window
	heading *widget.Label
	message *widget.Label
	copyBtn *widget.Button
	quitBtn *widget.Button
}

// NewRefusal makes the window; onQuit runs on Quit, Enter, Escape and when
// the window is closed.
func NewRefusal(a fyne.App, message string, onQuit func()) *Refusal {
	message = sentences(message)
	r := &Refusal{
		win:     a.NewWindow("Warden did not start"),
		heading: &widget.Label{Text: "Warden did not start", TextStyle: fyne.TextStyle{Bold: true}},
		message: &widget.Label{Text: message, Wrapping: fyne.TextWrapWord},
	}
	r.copyBtn = widget.NewButton("Copy", func() { a.Clipboard().SetContent(message) })
	r.quitBtn = &widget.Button{Text: "Quit", Importance: widget.HighImportance, OnTapped: onQuit}
	buttons := container.NewHBox(layout.NewSpacer(), r.copyBtn, r.quitBtn)
	r.win.SetContent(container.NewBorder(r.heading, buttons, nil, nil, container.NewVScroll(r.message)))
	r.win.Resize(fyne.NewSize(620, 300))
	r.win.SetCloseIntercept(onQuit)
	r.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		switch k.Name {
		case fyne.KeyReturn, fyne.KeyEnter, fyne.KeyEscape:
			onQuit()
		}
	})
	return r
}

// Window returns the refusal's window.
func (r *Refusal) Window() fyne.Window { return r.win }

// sentences turns an error's text, as the terminal prints it (lowercase,
// its lines without a full stop), into sentences for a window: each line
// starts with a capital and ends with a stop.
func sentences(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		r, n := utf8.DecodeRuneInString(line)
		line = string(unicode.ToUpper(r)) + line[n:]
		if last, _ := utf8.DecodeLastRuneInString(line); !strings.ContainsRune(".!?:)", last) {
			line += "."
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}
