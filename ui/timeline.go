package ui

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
	"warden/core/history"
)

// timeSpan is the window the timeline shows: the last hour, day or week.
type timeSpan int

const (
	span1h timeSpan = iota
	span24h
	span7d
)

var spanInfo = [...]struct {
	label  string
	length time.Duration
	tick   time.Duration // between hour ticks
	format string        // of a tick's label
}{
	span1h:  {"1 h", time.Hour, 10 * time.Minute, "15:04"},
	span24h: {"24 h", 24 * time.Hour, 2 * time.Hour, "15:04"},
	span7d:  {"7 d", 7 * 24 * time.Hour, 24 * time.Hour, "Mon 2"},
}

func (s timeSpan) String() string { return spanInfo[s].label }

// Length is how much time the window covers.
func (s timeSpan) Length() time.Duration { return spanInfo[s].length }

// ticks returns the instants of the window's hour ticks in [from, to], on
// round local times: every 10 minutes, every 2 hours, or every midnight.
func (s timeSpan) ticks(from, to time.Time, loc *time.Location) []time.Time {
	f := from.In(loc)
	t := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	step := spanInfo[s].tick
	next := func(t time.Time) time.Time {
		if step == 24*time.Hour {
			return t.AddDate(0, 0, 1) // midnight, whatever the length of the day
		}
		return t.Add(step)
	}
	for t.Before(from) {
		t = next(t)
	}
	var out []time.Time
	for ; !t.After(to); t = next(t) {
		out = append(out, t)
	}
	return out
}

// markKind is what a marker on the band stands for.
type markKind int

const (
	markDisconnect markKind = iota // the account dropped (history.IsDisconnect)
	markAttempt                    // a reconnect attempt started (history.IsReconnectAttempt)
)

// bandMark is a marker: a disconnect or a reconnect attempt at an instant.
type bandMark struct {
	at   time.Time
	kind markKind
}

// marksOf returns the markers of evs that fall in [from, to].
func marksOf(evs []core.Event, from, to time.Time) []bandMark {
	i := sort.Search(len(evs), func(i int) bool { return !evs[i].At.Before(from) })
	var marks []bandMark
	for ; i < len(evs) && !evs[i].At.After(to); i++ {
		switch ev := evs[i]; {
		case history.IsDisconnect(ev):
			marks = append(marks, bandMark{ev.At, markDisconnect})
		case history.IsReconnectAttempt(ev):
			marks = append(marks, bandMark{ev.At, markAttempt})
		}
	}
	return marks
}

// bandRun is a stretch of the band in one colour, in whole pixels.
type bandRun struct {
	x0, x1 float32
	state  core.State
	gap    bool
}

// bandRuns turns segments into at most one run per pixel column of a band
// width wide showing [from, to]: a segment narrower than half a pixel is left
// to its neighbours, and neighbours of one colour are one run. So the band
// never draws more rectangles than it has pixels, however many events the
// window holds.
func bandRuns(segs []history.Segment, from, to time.Time, width float32) []bandRun {
	span := to.Sub(from)
	if span <= 0 || width <= 0 {
		return nil
	}
	px := func(t time.Time) float32 {
		return float32(math.Round(float64(t.Sub(from)) / float64(span) * float64(width)))
	}
	var runs []bandRun
	for _, s := range segs {
		x0, x1 := max(px(s.Start), 0), min(px(s.End), width)
		if x1 <= x0 {
			continue
		}
		if n := len(runs); n > 0 {
			last := &runs[n-1]
			if last.gap == s.Gap && (s.Gap || last.state == s.State) && last.x1 >= x0 {
				last.x1 = x1
				continue
			}
		}
		runs = append(runs, bandRun{x0: x0, x1: x1, state: s.State, gap: s.Gap})
	}
	return runs
}

// markXs returns the pixel column of each marker of kind, at most one per
// column.
func markXs(marks []bandMark, kind markKind, from, to time.Time, width float32) []float32 {
	span := to.Sub(from)
	if span <= 0 {
		return nil
	}
	var xs []float32
	for _, m := range marks {
		if m.kind != kind {
			continue
		}
		x := float32(math.Round(float64(m.at.Sub(from)) / float64(span) * float64(width)))
		if n := len(xs); n > 0 && xs[n-1] == x {
			continue
		}
		xs = append(xs, x)
	}
	return xs
}

// The gap's hatching: two neutral greys, translucent so that they sit on
// the light and the dark theme alike.
var (
	gapLight = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x28}
	gapDark  = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x78}
)

// gapPixel draws the diagonal hatching of a gap.
func gapPixel(x, y, _, _ int) color.Color {
	if (x+y)/3%2 == 0 {
		return gapDark
	}
	return gapLight
}

// The band's geometry, in Fyne units.
const (
	bandHeight    = 26
	markRow       = 9 // above the band: disconnect triangles
	attemptRow    = 7 // below the band: attempt ticks
	tickLine      = 4
	tipPadding    = 4
	minBandWidth  = 240
	hoverTolerate = 3 // how far from a marker the pointer still names it
)

// timelineBand is the coloured band of one account's states over a window,
// with hour ticks, a marker for each disconnect and each reconnect attempt,
// and a tip that tells the state, start, duration and reason of the segment
// under the pointer (or the last tapped one). The tip floats above the
// band, over whatever is laid out there, as a tooltip does: give the band
// tipHeight of room above it.
type timelineBand struct {
	widget.BaseWidget

	// The following are read and written on Fyne's thread only.
	segs     []history.Segment
	marks    []bandMark
	from, to time.Time
	span     timeSpan
	now      time.Time
	hovering bool
	hoverX   float32
}

func newTimelineBand() *timelineBand {
	b := &timelineBand{}
	b.ExtendBaseWidget(b)
	return b
}

// set shows segs and marks over [from, to] and redraws.
func (b *timelineBand) set(segs []history.Segment, marks []bandMark, from, to, now time.Time, span timeSpan) {
	b.segs, b.marks, b.from, b.to, b.now, b.span = segs, marks, from, to, now, span
	b.Refresh()
}

// MouseIn shows the tip of the segment under the pointer.
func (b *timelineBand) MouseIn(e *desktop.MouseEvent) { b.MouseMoved(e) }

// MouseMoved follows the pointer with the tip.
func (b *timelineBand) MouseMoved(e *desktop.MouseEvent) {
	b.hovering, b.hoverX = true, e.Position.X
	b.Refresh()
}

// MouseOut hides the tip.
func (b *timelineBand) MouseOut() {
	b.hovering = false
	b.Refresh()
}

// Tapped shows the tip of the tapped segment, for touch screens and for
// keeping it while reading.
func (b *timelineBand) Tapped(e *fyne.PointEvent) {
	b.hovering, b.hoverX = true, e.Position.X
	b.Refresh()
}

// segmentAt returns the segment shown at x on a band width wide.
func (b *timelineBand) segmentAt(x, width float32) (history.Segment, bool) {
	if width <= 0 || len(b.segs) == 0 {
		return history.Segment{}, false
	}
	t := b.from.Add(time.Duration(float64(x) / float64(width) * float64(b.to.Sub(b.from))))
	i := sort.Search(len(b.segs), func(i int) bool { return b.segs[i].End.After(t) })
	if i == len(b.segs) || b.segs[i].Start.After(t) {
		return history.Segment{}, false
	}
	return b.segs[i], true
}

// marksNear counts the markers of each kind within hoverTolerate of x.
func (b *timelineBand) marksNear(x, width float32) (disconnects, attempts int) {
	span := b.to.Sub(b.from)
	if width <= 0 || span <= 0 {
		return 0, 0
	}
	perPx := float64(span) / float64(width)
	lo := b.from.Add(time.Duration((float64(x) - hoverTolerate) * perPx))
	hi := b.from.Add(time.Duration((float64(x) + hoverTolerate) * perPx))
	i := sort.Search(len(b.marks), func(i int) bool { return !b.marks[i].at.Before(lo) })
	for ; i < len(b.marks) && !b.marks[i].at.After(hi); i++ {
		if b.marks[i].kind == markDisconnect {
			disconnects++
		} else {
			attempts++
		}
	}
	return disconnects, attempts
}

// tip returns the two lines of the tip for x, or "" when nothing is there.
func (b *timelineBand) tip(x, width float32) (head, reason string) {
	s, ok := b.segmentAt(x, width)
	if !ok {
		return "", ""
	}
	withSeconds := b.span == span1h || s.Duration() < 10*time.Minute
	head = stateWord(s.State)
	if s.Gap {
		head = "Not recorded"
		if s.Reason == history.ReasonStopped {
			head = "Warden not running"
		}
	}
	reason = s.Reason
	switch {
	case s.Gap && s.Reason == history.ReasonStopped:
		reason = "between \"warden stopped\" and the next start: neither uptime nor downtime"
	case !s.Gap && s.Cause != "":
		reason = s.Cause + prefixedWith(": ", s.Reason)
	}
	d := s.Duration()
	if !withSeconds {
		d = d.Round(time.Minute) // as the times it sits between read
	}
	head += " · " + instant(s.Start, b.now, withSeconds) + " – " + instant(s.End, b.now, withSeconds) +
		" · " + formatDuration(d)
	if s.Attempt > 0 && !s.Gap {
		head += fmt.Sprintf(" · attempt %d", s.Attempt)
	}
	if d, a := b.marksNear(x, width); d > 0 || a > 0 {
		reason = markWords(d, a) + prefixedWith(" · ", reason)
	}
	return head, reason
}

// markWords says which markers are under the pointer: "1 disconnect, 2 attempts".
func markWords(disconnects, attempts int) string {
	var s string
	if disconnects > 0 {
		s = plural(disconnects, "disconnect")
	}
	if attempts > 0 {
		if s != "" {
			s += ", "
		}
		s += plural(attempts, "reconnect attempt")
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func prefixedWith(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// instant writes t as a time of day in now's location, with seconds when
// asked, and the date when it is not today: "14:02:11", "3 Mar 14:02".
func instant(t, now time.Time, seconds bool) string {
	t = t.In(now.Location())
	layout := "15:04"
	if seconds {
		layout = "15:04:05"
	}
	if y, m, d := t.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		layout = "2 Jan " + layout
	}
	return t.Format(layout)
}

// CreateRenderer builds the band's canvas objects.
func (b *timelineBand) CreateRenderer() fyne.WidgetRenderer {
	r := &bandRenderer{
		b:       b,
		tipBox:  &canvas.Rectangle{CornerRadius: 4, StrokeWidth: 1},
		tipHead: &canvas.Text{TextStyle: fyne.TextStyle{Bold: true}},
		tipBody: &canvas.Text{},
		track:   &canvas.Rectangle{CornerRadius: 2},
	}
	r.Refresh()
	return r
}

// bandRenderer draws the band. It keeps pools of rectangles, rasters,
// markers and labels and reuses them from one refresh to the next.
type bandRenderer struct {
	b *timelineBand

	tipBox           *canvas.Rectangle
	tipHead, tipBody *canvas.Text
	track            *canvas.Rectangle

	runs     []*canvas.Rectangle
	gaps     []*canvas.Raster
	cuts     []*canvas.Rectangle      // disconnect lines through the band
	drops    []*canvas.RegularPolygon // disconnect triangles above the band
	attempts []*canvas.Rectangle
	tickRs   []*canvas.Rectangle
	tickTs   []*canvas.Text

	objects []fyne.CanvasObject
	size    fyne.Size
}

func (r *bandRenderer) textSize() float32 {
	return theme.SizeForWidget(theme.SizeNameCaptionText, r.b)
}

// tipHeight is the height of the tip, which floats above the band: two
// lines of caption text.
func tipHeight() float32 {
	return 2*fyne.MeasureText("Ag", theme.CaptionTextSize(), fyne.TextStyle{}).Height + 2*tipPadding
}

func (r *bandRenderer) bandTop() float32 { return markRow }

func (r *bandRenderer) MinSize() fyne.Size {
	label := fyne.MeasureText("00:00", r.textSize(), fyne.TextStyle{}).Height
	return fyne.NewSize(minBandWidth, r.bandTop()+bandHeight+attemptRow+tickLine+label)
}

func (r *bandRenderer) Layout(size fyne.Size) {
	r.size = size
	r.draw()
}

func (r *bandRenderer) Refresh() {
	r.size = r.b.Size()
	r.draw()
}

func (r *bandRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *bandRenderer) Destroy() {}

// draw lays every object out for the current data and size.
func (r *bandRenderer) draw() {
	b := r.b
	width := r.size.Width
	fg := theme.ColorForWidget(theme.ColorNameForeground, b)
	muted := theme.ColorForWidget(theme.ColorNamePlaceHolder, b)
	ts := r.textSize()
	top := r.bandTop()
	objs := r.objects[:0]

	r.track.FillColor = theme.ColorForWidget(theme.ColorNameInputBackground, b)
	r.track.Move(fyne.NewPos(0, top))
	r.track.Resize(fyne.NewSize(width, bandHeight))
	objs = append(objs, r.track)

	// The state runs and the hatched gaps.
	nr, ng := 0, 0
	for _, run := range bandRuns(b.segs, b.from, b.to, width) {
		var o fyne.CanvasObject
		if run.gap {
			if ng == len(r.gaps) {
				r.gaps = append(r.gaps, canvas.NewRasterWithPixels(gapPixel))
			}
			o = r.gaps[ng]
			ng++
		} else {
			if nr == len(r.runs) {
				r.runs = append(r.runs, &canvas.Rectangle{})
			}
			rect := r.runs[nr]
			nr++
			if c := stateColor(run.state); rect.FillColor != c {
				rect.FillColor = c
				rect.Refresh()
			}
			o = rect
		}
		o.Move(fyne.NewPos(run.x0, top))
		o.Resize(fyne.NewSize(run.x1-run.x0, bandHeight))
		objs = append(objs, o)
	}

	// Hour ticks and their labels, dropping labels that would collide.
	nt := 0
	lastRight := float32(math.Inf(-1)) // the right edge of the last label drawn
	axis := top + bandHeight + attemptRow
	span := b.to.Sub(b.from)
	loc := b.now.Location()
	if b.now.IsZero() {
		loc = time.Local
	}
	if span > 0 {
		for _, t := range b.span.ticks(b.from, b.to, loc) {
			x := float32(float64(t.Sub(b.from)) / float64(span) * float64(width))
			if nt == len(r.tickRs) {
				r.tickRs = append(r.tickRs, &canvas.Rectangle{})
				r.tickTs = append(r.tickTs, &canvas.Text{})
			}
			line, label := r.tickRs[nt], r.tickTs[nt]
			nt++
			line.FillColor = muted
			line.Move(fyne.NewPos(x, axis))
			line.Resize(fyne.NewSize(1, tickLine))
			objs = append(objs, line)
			label.Text, label.TextSize, label.Color = t.In(loc).Format(spanInfo[b.span].format), ts, muted
			w := fyne.MeasureText(label.Text, ts, label.TextStyle).Width
			lx := min(max(x-w/2, 0), width-w)
			if lx > lastRight+4 {
				label.Move(fyne.NewPos(lx, axis+tickLine))
				label.Resize(label.MinSize())
				objs = append(objs, label)
				lastRight = lx + w
			}
		}
	}

	// Reconnect attempts: short ticks under the band.
	na := 0
	for _, x := range markXs(b.marks, markAttempt, b.from, b.to, width) {
		if na == len(r.attempts) {
			r.attempts = append(r.attempts, &canvas.Rectangle{})
		}
		m := r.attempts[na]
		na++
		m.FillColor = fg
		m.Move(fyne.NewPos(min(x, width-1), top+bandHeight+1))
		m.Resize(fyne.NewSize(1, attemptRow-2))
		objs = append(objs, m)
	}

	// Disconnects: a line through the band and a triangle above it.
	red := theme.ColorForWidget(theme.ColorNameError, b)
	nd := 0
	for _, x := range markXs(b.marks, markDisconnect, b.from, b.to, width) {
		if nd == len(r.drops) {
			r.drops = append(r.drops, &canvas.RegularPolygon{Sides: 3, Angle: 180})
			r.cuts = append(r.cuts, &canvas.Rectangle{})
		}
		tri, cut := r.drops[nd], r.cuts[nd]
		nd++
		tri.FillColor = red
		tri.Move(fyne.NewPos(x-5, top-markRow))
		tri.Resize(fyne.NewSize(10, markRow))
		cut.FillColor = fg
		cut.Move(fyne.NewPos(min(x, width-1), top))
		cut.Resize(fyne.NewSize(1, bandHeight))
		objs = append(objs, cut, tri)
	}

	// The tip, above the band, while the pointer is on it.
	head, body := "", ""
	if b.hovering {
		head, body = b.tip(b.hoverX, width)
	}
	if head != "" {
		r.tipHead.TextSize, r.tipBody.TextSize = ts, ts
		r.tipHead.Color, r.tipBody.Color = fg, fg
		r.tipHead.Text = head
		room := width - 2*tipPadding
		r.tipBody.Text = truncateText(body, room, ts)
		lineH := fyne.MeasureText("Ag", ts, fyne.TextStyle{}).Height
		w := max(fyne.MeasureText(head, ts, r.tipHead.TextStyle).Width, fyne.MeasureText(r.tipBody.Text, ts, fyne.TextStyle{}).Width)
		w = min(w+2*tipPadding, width)
		x := min(max(b.hoverX-w/2, 0), width-w)
		r.tipBox.FillColor = theme.ColorForWidget(theme.ColorNameOverlayBackground, b)
		r.tipBox.StrokeColor = theme.ColorForWidget(theme.ColorNameSeparator, b)
		y := -2*lineH - 2*tipPadding - 2
		r.tipBox.Move(fyne.NewPos(x, y))
		r.tipBox.Resize(fyne.NewSize(w, 2*lineH+2*tipPadding))
		r.tipHead.Move(fyne.NewPos(x+tipPadding, y+tipPadding))
		r.tipHead.Resize(r.tipHead.MinSize())
		r.tipBody.Move(fyne.NewPos(x+tipPadding, y+tipPadding+lineH))
		r.tipBody.Resize(r.tipBody.MinSize())
		objs = append(objs, r.tipBox, r.tipHead, r.tipBody)
	}
	r.objects = objs
	for _, o := range objs {
		o.Refresh()
	}
}

// truncateText shortens s with an ellipsis to fit width at size.
func truncateText(s string, width, size float32) string {
	if fyne.MeasureText(s, size, fyne.TextStyle{}).Width <= width {
		return s
	}
	rs := []rune(s)
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fyne.MeasureText(string(rs[:mid])+"…", size, fyne.TextStyle{}).Width <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return string(rs[:lo]) + "…"
}
