package ui

import (
	"log/slog"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// logRow is one line of the list: time, level in its colour, the account's
// name in the all view, the message and the attributes, in a monospaced font
// and cut to the row's width. A secondary tap offers Copy.
type logRow struct {
	widget.BaseWidget
	p *logsPane
	i int

	level                         slog.Level
	msg, attrs                    string // whole, on one line
	at, lvl, account, msgT, attrT *canvas.Text
}

func newLogRow(p *logsPane) *logRow {
	r := &logRow{p: p, i: -1}
	mk := func(bold bool) *canvas.Text {
		return &canvas.Text{TextStyle: fyne.TextStyle{Monospace: true, Bold: bold}}
	}
	r.at, r.lvl, r.account, r.msgT, r.attrT = mk(false), mk(true), mk(true), mk(false), mk(false)
	r.ExtendBaseWidget(r)
	return r
}

// levelColor is the theme colour of a level's word.
func levelColor(l slog.Level) fyne.ThemeColorName {
	switch {
	case l < slog.LevelInfo:
		return theme.ColorNamePlaceHolder
	case l < slog.LevelWarn:
		return theme.ColorNamePrimary
	case l < slog.LevelError:
		return theme.ColorNameWarning
	}
	return theme.ColorNameError
}

// oneLine folds a message onto one line for the list, and bounds it: the
// full text is shown when the line is selected.
func oneLine(s string) string {
	const most = 1000
	if len(s) > most {
		s = s[:most]
	}
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func (r *logRow) set(i int, l LogLine) {
	r.i = i
	r.level = l.Level
	r.at.Text = l.At.In(r.p.now().Location()).Format("02 Jan 15:04:05.000")
	r.lvl.Text = levelWord(l.Level)
	r.account.Text = ""
	if r.p.filter.all {
		name := "Warden"
		if l.Account != "" {
			name = r.p.names(l.Account)
		}
		r.account.Text = name
	}
	r.msg = oneLine(l.Message)
	// whatsmeow's XML nodes: which way they went reads first.
	switch m := l.Attrs["module"]; {
	case strings.HasSuffix(m, "/Send"):
		r.msg = "→ " + r.msg
	case strings.HasSuffix(m, "/Recv"):
		r.msg = "← " + r.msg
	}
	r.attrs = ""
	if len(l.Attrs) > 0 {
		r.attrs = oneLine(formatAttrs(l.Attrs))
	}
	r.Refresh()
}

// Tapped selects the row. The row takes taps itself: being secondary
// tappable, it would hide them from the list.
func (r *logRow) Tapped(*fyne.PointEvent) {
	if r.i >= 0 {
		r.p.list.Select(r.i)
	}
}

// TappedSecondary selects the row and offers to copy it.
func (r *logRow) TappedSecondary(ev *fyne.PointEvent) {
	if r.i < 0 {
		return
	}
	i := r.i
	r.p.list.Select(i)
	c := fyne.CurrentApp().Driver().CanvasForObject(r)
	if c == nil {
		return
	}
	menu := fyne.NewMenu("", fyne.NewMenuItem("Copy line", func() { r.p.copyLine(i) }))
	widget.ShowPopUpMenuAtPosition(menu, c, ev.AbsolutePosition)
}

func (r *logRow) CreateRenderer() fyne.WidgetRenderer {
	return &logRowRenderer{r: r}
}

// The columns of a row, in characters.
const (
	logTimeChars    = 19 // "02 Jan 15:04:05.000"
	logLevelChars   = 5
	logAccountChars = 14
)

type logRowRenderer struct{ r *logRow }

func (rr *logRowRenderer) Objects() []fyne.CanvasObject {
	r := rr.r
	return []fyne.CanvasObject{r.at, r.lvl, r.account, r.msgT, r.attrT}
}

func (rr *logRowRenderer) Destroy() {}

// charSize is the size of one monospaced character of the row's text.
func (rr *logRowRenderer) charSize() fyne.Size {
	th := rr.r.Theme()
	return fyne.MeasureText("M", th.Size(theme.SizeNameText), fyne.TextStyle{Monospace: true})
}

func (rr *logRowRenderer) MinSize() fyne.Size {
	c := rr.charSize()
	pad := rr.r.Theme().Size(theme.SizeNamePadding)
	return fyne.NewSize(c.Width*(logTimeChars+logLevelChars+12)+4*pad, c.Height+pad)
}

func (rr *logRowRenderer) Layout(size fyne.Size) {
	r := rr.r
	c := rr.charSize()
	pad := r.Theme().Size(theme.SizeNamePadding)
	gap := 2 * c.Width
	y := (size.Height - c.Height) / 2
	x := pad
	place := func(t *canvas.Text, chars int) {
		t.Move(fyne.NewPos(x, y))
		t.Resize(fyne.NewSize(float32(chars)*c.Width, c.Height))
		x += float32(chars)*c.Width + gap
	}
	place(r.at, logTimeChars)
	place(r.lvl, logLevelChars)
	if r.p.filter.all {
		r.account.Text = cut(r.account.Text, logAccountChars)
		place(r.account, logAccountChars)
	} else {
		r.account.Text = ""
		r.account.Resize(fyne.Size{})
	}
	room := int((size.Width - x - pad) / c.Width)
	msg := cut(r.msg, room)
	n := utf8.RuneCountInString(msg)
	setCanvasText(r.msgT, msg)
	place(r.msgT, n)
	x -= gap - c.Width // one space between the message and its attributes
	attrs := ""
	if r.attrs != "" && room-n-1 > 3 {
		attrs = cut(r.attrs, room-n-1)
	}
	setCanvasText(r.attrT, attrs)
	r.attrT.Move(fyne.NewPos(x, y))
	r.attrT.Resize(fyne.NewSize(float32(utf8.RuneCountInString(attrs))*c.Width, c.Height))
}

// setCanvasText changes a text that Layout cut to a new width.
func setCanvasText(t *canvas.Text, s string) {
	if t.Text != s {
		t.Text = s
		t.Refresh()
	}
}

// cut shortens s to at most n characters, ending in "…" when it was longer.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

func (rr *logRowRenderer) Refresh() {
	r := rr.r
	th := r.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	size := th.Size(theme.SizeNameText)
	colors := []fyne.ThemeColorName{theme.ColorNamePlaceHolder, levelColor(r.level), theme.ColorNameForeground, theme.ColorNameForeground, theme.ColorNamePlaceHolder}
	objs := rr.Objects()
	for i, o := range objs {
		t := o.(*canvas.Text)
		t.Color = th.Color(colors[i], v)
		t.TextSize = size
	}
	rr.Layout(r.Size())
	for _, o := range objs {
		o.Refresh()
	}
}
