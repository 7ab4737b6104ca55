package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
	"warden/core/history"
)

// eventFacts lists every field of an event, in an operator's words, for the
// dialog a row opens: the list truncates long reasons.
func eventFacts(e core.Event, now time.Time) [][2]string {
	at := e.At.In(now.Location())
	change := stateWord(e.From) + " ⟶ " + stateWord(e.To)
	if history.IsNote(e) {
		change = stateWord(e.To) + " (no change: a note)"
	}
	facts := [][2]string{
		{"Time", at.Format("Mon 2 Jan 2006 15:04:05.000")},
		{"Change", change},
		{"Cause", e.Cause},
	}
	if e.Reason != "" {
		facts = append(facts, [2]string{"Reason", e.Reason})
	}
	if e.Attempt > 0 {
		facts = append(facts, [2]string{"Attempt", strconv.Itoa(e.Attempt)})
	}
	if e.Delay > 0 {
		facts = append(facts, [2]string{"Next try", "in " + formatDelay(e.Delay) + ", at " + at.Add(e.Delay).Format("15:04:05")})
	}
	if e.MessageID != "" {
		facts = append(facts, [2]string{"Message", e.MessageID})
	}
	if e.Epoch > 0 {
		facts = append(facts, [2]string{"Session", fmt.Sprintf("#%d", e.Epoch)})
	}
	return append(facts, [2]string{"Event", fmt.Sprintf("#%d", e.Seq)})
}

// showEvent opens a dialog with every field of e.
func (t *timelineTab) showEvent(e core.Event) {
	form := widget.NewForm()
	for _, f := range eventFacts(e, t.now()) {
		form.Append(f[0], &widget.Label{Text: f[1], Wrapping: fyne.TextWrapWord, Selectable: true})
	}
	d := dialog.NewCustom("Timeline event", "Close", form, t.parent())
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// eventRow is one event of the list: a dot in the colour of the state it
// led to, the time, from → to and the cause on the first line; the attempt,
// the delay and the reason on the second.
type eventRow struct {
	widget.BaseWidget
	dot    *canvas.Circle
	when   *widget.Label
	change *widget.Label
	cause  *widget.Label
	extra  *widget.Label
	reason *widget.RichText
}

func newEventRow() *eventRow {
	r := &eventRow{
		dot:    &canvas.Circle{},
		when:   &widget.Label{},
		change: &widget.Label{Truncation: fyne.TextTruncateEllipsis},
		cause:  &widget.Label{Truncation: fyne.TextTruncateEllipsis},
		extra:  &widget.Label{SizeName: theme.SizeNameCaptionText, TextStyle: fyne.TextStyle{Bold: true}},
		reason: newMuted(theme.SizeNameCaptionText),
	}
	r.reason.Truncation = fyne.TextTruncateEllipsis
	r.ExtendBaseWidget(r)
	return r
}

func (r *eventRow) CreateRenderer() fyne.WidgetRenderer {
	// The labels' inner padding above and below each line is cut to a
	// little, so that six events fit where a short window leaves the list
	// about 250 pixels.
	ip := theme.InnerPadding()
	line := container.New(layout.NewCustomPaddedLayout(-ip+3, -ip, 0, 0),
		container.New(&eventColumns{}, container.NewCenter(container.New(fixedSize{10, 10}, r.dot)), r.when, r.change, r.cause))
	reason := container.New(layout.NewCustomPaddedLayout(-ip, -ip+3, eventFixed[0]*theme.TextSize(), 0),
		container.NewBorder(nil, nil, r.extra, nil, r.reason))
	return widget.NewSimpleRenderer(container.New(tightVBox{}, line, reason))
}

// set shows e.
func (r *eventRow) set(e core.Event, now time.Time) {
	c := stateColor(e.To)
	if r.dot.FillColor != c {
		r.dot.FillColor = c
		r.dot.Refresh()
	}
	setText(r.when, instant(e.At, now, true))
	change := stateWord(e.From) + " ⟶ " + stateWord(e.To)
	if history.IsNote(e) {
		change = stateWord(e.To) + " (no change)"
	}
	setText(r.change, change)
	setImportance(r.change, widget.MediumImportance)
	if history.IsDisconnect(e) {
		setImportance(r.change, widget.DangerImportance)
	}
	setText(r.cause, e.Cause)
	imp := widget.MediumImportance
	switch e.Cause {
	case core.CauseSkipped, core.CauseStale:
		imp = widget.WarningImportance // the single-client guard at work
	case core.CauseShutdown, core.CauseStartup:
		imp = widget.LowImportance
	case core.CauseSendFailed, core.CauseSelfCheckFailed:
		imp = widget.DangerImportance // the account is up but cannot deliver
	}
	setImportance(r.cause, imp)
	var extra []string
	if e.Attempt > 0 {
		extra = append(extra, fmt.Sprintf("attempt %d", e.Attempt))
	}
	if e.Delay > 0 {
		extra = append(extra, "retry in "+formatDelay(e.Delay))
	}
	setText(r.extra, strings.Join(extra, " · "))
	if len(extra) == 0 {
		r.extra.Hide()
	} else {
		r.extra.Show()
	}
	setMuted(r.reason, e.Reason)
}

func setImportance(l *widget.Label, imp widget.Importance) {
	if l.Importance != imp {
		l.Importance = imp
		l.Refresh()
	}
}

// formatDelay writes a reconnect delay: "3.2 s" under a minute, else as
// formatDuration does.
func formatDelay(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return formatDuration(d)
}

// eventColumns lays an event row's first line out in columns that line up
// from row to row: the dot and the time at fixed widths, then from → to and
// the cause sharing the rest.
type eventColumns struct{}

// The fixed columns, in text sizes, and the shares of the others.
var (
	eventFixed  = [2]float32{1.3, 9}
	eventShares = [2]float32{0.5, 0.5}
)

func (c *eventColumns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	ts := theme.TextSize()
	rest := max(size.Width-(eventFixed[0]+eventFixed[1])*ts, 0)
	x := float32(0)
	for i, o := range objs {
		var cw float32
		if i < len(eventFixed) {
			cw = eventFixed[i] * ts
		} else {
			cw = eventShares[i-len(eventFixed)] * rest
		}
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(cw, size.Height))
		x += cw
	}
}

func (c *eventColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize((eventFixed[0]+eventFixed[1]+14)*theme.TextSize(), 0)
	for _, o := range objs {
		s.Height = max(s.Height, o.MinSize().Height)
	}
	return s
}
