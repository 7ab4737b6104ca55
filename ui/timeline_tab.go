package ui

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// timelineLimit is how many of an account's newest events the tab loads.
const timelineLimit = 100_000

// liveEvery is how often at most live events are applied to the tab.
const liveEvery = 200 * time.Millisecond

// timelineTab is the detail's Timeline tab: a window picker, the statistics
// of the window, the band of states and the window's events, newest first.
// It loads the account's events when it is shown and follows new ones live.
type timelineTab struct {
	ctl    Controller
	ctx    context.Context
	now    func() time.Time
	async  func(work func() (then func()))
	parent func() fyne.Window

	// watched is the account whose live events are wanted ("" when the tab is
	// not on screen); the follow goroutine reads it to drop the others early.
	watched atomic.Value // core.AccountID

	// The following are read and written on Fyne's thread only.
	account  core.Account
	shown    bool
	evs      []core.Event // the account's events, oldest first
	loading  bool
	loaded   bool
	gen      int          // the load in flight; older loads are ignored
	early    []core.Event // live events that came while loading
	span     timeSpan
	builtAt  time.Time
	winStart int // index in evs of the window's first event
	stats    history.Stats
	rowsMade int // rows the list created: only those on screen

	picker  *widget.RadioGroup
	values  map[string]*widget.Label
	notes   map[string]*widget.RichText
	band    *timelineBand
	count   *widget.RichText
	list    *widget.List
	csv     *widget.Button
	json    *widget.Button
	content *fyne.Container
}

// The statistics shown above the band, in order.
var statNames = []string{"Uptime", "Disconnects", "Time to recover", "Conflicts", "Guard", "Attempt"}

func newTimelineTab(ctl Controller, ctx context.Context, now func() time.Time, async func(func() func()), parent func() fyne.Window) *timelineTab {
	t := &timelineTab{ctl: ctl, ctx: ctx, now: now, async: async, parent: parent, span: span24h,
		values: map[string]*widget.Label{}, notes: map[string]*widget.RichText{}}
	t.watched.Store(core.AccountID(""))

	var labels []string
	for _, s := range []timeSpan{span1h, span24h, span7d} {
		labels = append(labels, s.String())
	}
	t.picker = &widget.RadioGroup{Options: labels, Horizontal: true, Required: true, Selected: t.span.String()}
	t.picker.OnChanged = func(label string) {
		for i, l := range labels {
			if l == label && timeSpan(i) != t.span {
				t.span = timeSpan(i)
				t.rebuild()
			}
		}
	}
	t.picker.ExtendBaseWidget(t.picker)
	// Export buttons: the save icon and the format.
	t.csv = &widget.Button{Text: "CSV…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { t.export("csv") }}
	t.json = &widget.Button{Text: "JSON…", Icon: theme.DocumentSaveIcon(), OnTapped: func() { t.export("json") }}
	top := container.NewBorder(nil, nil, t.picker, container.NewHBox(t.csv, t.json))

	// The statistics: a figure in bold and what it is, side by side,
	// wrapping in a narrow window.
	stats := container.New(&flowLayout{hpad: theme.Padding() * 4})
	for _, name := range statNames {
		v := &widget.Label{TextStyle: fyne.TextStyle{Bold: true}}
		n := newMuted(theme.SizeNameCaptionText)
		t.values[name], t.notes[name] = v, n
		// The smaller note sits on the figure's baseline.
		drop := theme.TextSize() - theme.CaptionTextSize()
		stats.Add(container.New(layout.NewCustomPaddedHBoxLayout(0), v,
			container.New(layout.NewCustomPaddedLayout(drop, 0, 0, 0), n)))
	}

	t.band = newTimelineBand()
	t.count = newMuted(theme.SizeNameCaptionText)
	t.list = widget.NewList(t.rows, func() fyne.CanvasObject {
		t.rowsMade++
		return newEventRow()
	}, t.updateRow)
	t.list.HideSeparators = true
	t.list.OnSelected = func(i widget.ListItemID) {
		t.list.Unselect(i)
		if j := len(t.evs) - 1 - i; j >= t.winStart && j >= 0 {
			t.showEvent(t.evs[j])
		}
	}

	// The tip floats over the statistics, so the band needs no room of
	// its own for it.
	legend := newTimelineLegend()
	legend.Add(t.count)
	t.content = container.New(&timelineLayout{}, top, stats, t.band, legend, widget.NewSeparator(), t.list)
	t.rebuild()
	return t
}

// setAccount shows another account (or none, with a zero Account).
func (t *timelineTab) setAccount(a core.Account) {
	if a.ID == t.account.ID {
		t.account = a // a rename
		return
	}
	t.account = a
	t.evs, t.early, t.loaded, t.loading = nil, nil, false, false
	t.gen++
	t.list.ScrollToTop()
	t.list.UnselectAll()
	t.watch()
	if t.shown {
		t.load()
	}
	t.rebuild()
}

// setShown says whether the tab is on screen. The account's events are
// loaded the first time it comes on screen; from then on they are kept and
// followed, on screen or not, until another account is selected.
func (t *timelineTab) setShown(shown bool) {
	if t.shown == shown {
		return
	}
	t.shown = shown
	if shown {
		t.rebuild() // "Loading…" the first time
		t.load()
	}
}

// watch tells the follow goroutine which account's events to keep: the one
// whose events are loaded or loading.
func (t *timelineTab) watch() {
	id := core.AccountID("")
	if t.loaded || t.loading {
		id = t.account.ID
	}
	t.watched.Store(id)
}

// load fetches the account's events in the background.
func (t *timelineTab) load() {
	if t.account.ID == "" || t.loading || t.loaded {
		return
	}
	t.loading = true
	t.watch()
	t.gen++
	gen, id := t.gen, t.account.ID
	t.async(func() func() {
		ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
		evs, err := t.ctl.Events(ctx, id, timelineLimit)
		cancel()
		return func() {
			if gen != t.gen {
				return // another account was selected meanwhile
			}
			t.loading = false
			if err != nil {
				t.early = nil
				t.watch()
				setMuted(t.count, "Could not load the timeline: "+plainError(err))
				return
			}
			t.loaded = true
			t.evs = evs
			t.appendNew(t.early)
			t.early = nil
			t.rebuild()
		}
	})
}

// appendNew appends the events of the account that are newer than the
// newest one held, so that a live event the load already had is not doubled.
func (t *timelineTab) appendNew(evs []core.Event) bool {
	added := false
	for _, ev := range evs {
		if ev.Account != t.account.ID {
			continue
		}
		if n := len(t.evs); n > 0 && ev.Seq <= t.evs[n-1].Seq {
			continue
		}
		t.evs = append(t.evs, ev)
		added = true
	}
	return added
}

// addLive applies live events; Fyne's thread.
func (t *timelineTab) addLive(evs []core.Event) {
	if t.account.ID == "" {
		return
	}
	if t.loading {
		for _, ev := range evs {
			if ev.Account == t.account.ID {
				t.early = append(t.early, ev)
			}
		}
		return
	}
	if t.loaded && t.appendNew(evs) && t.shown {
		t.rebuild()
	}
}

// follow reads the live event stream until ctx ends or the stream closes,
// and hands the watched account's events to addLive through do, at most
// every liveEvery and one batch at a time.
func (t *timelineTab) follow(ctx context.Context, events <-chan core.Event, do func(func())) {
	var (
		mu      sync.Mutex
		pending []core.Event
	)
	busy := make(chan struct{}, 1) // full while a batch waits for Fyne's thread
	var flush <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if id, _ := t.watched.Load().(core.AccountID); id == "" || ev.Account != id {
				continue
			}
			mu.Lock()
			pending = append(pending, ev)
			mu.Unlock()
			if flush == nil {
				flush = time.After(liveEvery)
			}
		case <-flush:
			select {
			case busy <- struct{}{}:
			default:
				flush = time.After(liveEvery) // the last batch is still queued
				continue
			}
			flush = nil
			do(func() {
				mu.Lock()
				batch := pending
				pending = nil
				mu.Unlock()
				<-busy
				t.addLive(batch)
			})
		}
	}
}

// rebuildEvery is how long the band may go without being redrawn as time
// passes: about one pixel of an 720-pixel band, at least a second.
func (t *timelineTab) rebuildEvery() time.Duration {
	return max(t.span.Length()/720, time.Second)
}

// tick redraws the window as time passes, when the tab is on screen.
func (t *timelineTab) tick(now time.Time) {
	if t.shown && t.loaded && now.Sub(t.builtAt) >= t.rebuildEvery() {
		t.rebuild()
	}
}

// rebuild computes the window's segments, markers and statistics and shows
// them. The list holds no copy of the events: its rows read them by index.
func (t *timelineTab) rebuild() {
	now := t.now()
	t.builtAt = now
	from := now.Add(-t.span.Length())
	evs := t.evs
	t.winStart = sort.Search(len(evs), func(i int) bool { return !evs[i].At.Before(from) })
	var segs []history.Segment
	if t.loaded {
		segs = history.Segments(evs, from, now, now)
	}
	t.stats = history.StatsOf(evs, from, now, now)
	t.band.set(segs, marksOf(evs, from, now), from, now, now, t.span)
	t.showStats()
	n := len(evs) - t.winStart
	switch {
	case t.account.ID == "":
		setMuted(t.count, "")
	case t.loading || !t.loaded:
		setMuted(t.count, "Loading the timeline…")
	case n == 0:
		setMuted(t.count, "No events in the last "+t.span.String()+".")
	default:
		line := fmt.Sprintf("%s in the last %s, newest first", plural(n, "event"), t.span)
		if len(evs) >= timelineLimit {
			line += fmt.Sprintf(" (the newest %d are loaded)", timelineLimit)
		}
		setMuted(t.count, line)
	}
	t.csv.Disable()
	t.json.Disable()
	if t.loaded && len(evs) > 0 {
		t.csv.Enable()
		t.json.Enable()
	}
	t.list.Refresh()
}

// showStats writes the statistics line.
func (t *timelineTab) showStats() {
	st := t.stats
	set := func(name, value, note string) {
		setText(t.values[name], value)
		setMuted(t.notes[name], note)
	}
	if !t.loaded || st.Running == 0 {
		for _, name := range statNames {
			set(name, "—", statNote(name))
		}
		if t.loaded {
			setMuted(t.notes["Uptime"], "Warden did not run in the window")
		}
		return
	}
	set("Uptime", formatUptime(st.Uptime), "uptime · "+formatDuration(st.Running)+" watched")
	disconnects := pluralWord(st.Disconnects, "disconnect")
	if st.Running >= time.Hour { // a shorter time makes a rate per day a guess
		disconnects += fmt.Sprintf(" · %.1f per 24 h", st.DisconnectsPer24h)
	}
	set("Disconnects", strconv.Itoa(st.Disconnects), disconnects)
	median, note := "—", "to recover"
	switch {
	case st.Recoveries == 1:
		median = formatDuration(st.RecoverMedian)
	case st.Recoveries > 1:
		median = formatDuration(st.RecoverMedian)
		note = "to recover (median), worst " + formatDuration(st.RecoverWorst)
	}
	if st.Down > 0 {
		note += " · down for " + formatDuration(st.Down) + " now"
	}
	set("Time to recover", median, note)
	set("Conflicts", strconv.Itoa(st.Conflicts), pluralWord(st.Conflicts, "conflict"))
	set("Guard", fmt.Sprintf("%d · %d", st.Skipped, st.Stale), "skipped · stale dropped")
	attempt := "—"
	if st.CurrentAttempt > 0 {
		attempt = strconv.Itoa(st.CurrentAttempt)
	}
	set("Attempt", attempt, fmt.Sprintf("current attempt (%d in the window)", st.Attempts))
}

// timelineLayout stacks the tab's parts: the picker row, the statistics and
// the legend (both wrapping at the tab's width), the band, a separator, and
// the list in the rest. Unlike a VBox it knows the width when it decides the
// heights, so wrapped rows get the room they need at once.
type timelineLayout struct{}

func (timelineLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	y := float32(0)
	for i, o := range objs {
		h := o.MinSize().Height
		if c, ok := o.(*fyne.Container); ok {
			if f, ok := c.Layout.(*flowLayout); ok {
				h = f.height(c.Objects, size.Width)
			}
		}
		if i == len(objs)-1 { // the list: the rest
			h = max(size.Height-y, 0)
		}
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + pad
	}
}

func (timelineLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height + theme.Padding()
	}
	return s
}

// flowLayout places its objects left to right at their minimum sizes and
// wraps them into rows. Its MinSize is one row as wide as its widest object;
// the layout that holds it asks height for the rows a width needs.
type flowLayout struct{ hpad float32 }

// place positions objs in rows at width (when move is set) and returns the
// height they take.
func (f *flowLayout) place(objs []fyne.CanvasObject, width float32, move bool) float32 {
	x, y, rowH := float32(0), float32(0), float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		if x > 0 && x+m.Width > width {
			x, y, rowH = 0, y+rowH, 0
		}
		if move {
			o.Move(fyne.NewPos(x, y))
			o.Resize(m)
		}
		x += m.Width + f.hpad
		rowH = max(rowH, m.Height)
	}
	return y + rowH
}

func (f *flowLayout) height(objs []fyne.CanvasObject, width float32) float32 {
	return f.place(objs, width, false)
}

func (f *flowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	f.place(objs, size.Width, true)
}

func (f *flowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Visible() {
			m := o.MinSize()
			s = s.Max(m)
		}
	}
	return s
}

// pluralWord is word for n of them: "conflict", "conflicts".
func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// statNote is a statistic's caption when there is no figure.
func statNote(name string) string {
	switch name {
	case "Uptime":
		return "uptime"
	case "Disconnects":
		return "disconnects"
	case "Time to recover":
		return "to recover"
	case "Conflicts":
		return "conflicts"
	case "Guard":
		return "skipped · stale dropped"
	}
	return "current attempt"
}

// formatUptime writes a share as a percentage that never rounds up to a
// perfect score: 0.99996 is "99.99 %", only 1 is "100 %".
func formatUptime(u float64) string {
	if u >= 1 {
		return "100 %"
	}
	return strconv.FormatFloat(math.Floor(u*10000)/100, 'f', 2, 64) + " %"
}

// rows is the list's length: the window's events.
func (t *timelineTab) rows() int { return len(t.evs) - t.winStart }

// updateRow shows the i-th newest event of the window.
func (t *timelineTab) updateRow(i widget.ListItemID, o fyne.CanvasObject) {
	j := len(t.evs) - 1 - i
	if j < t.winStart || j < 0 {
		return
	}
	o.(*eventRow).set(t.evs[j], t.now())
}

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

// export asks where to save the account's whole timeline and writes it.
func (t *timelineTab) export(format string) {
	if len(t.evs) == 0 {
		return
	}
	name := exportFileName(t.account, format, t.now())
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, t.parent())
			return
		}
		if w == nil {
			return // cancelled
		}
		// What the tab holds now, live events included; appends later never
		// touch this slice's elements.
		evs := t.evs[:len(t.evs):len(t.evs)]
		t.async(func() func() {
			write := exportCSV
			if format == "json" {
				write = exportJSON
			}
			err := write(w, evs)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return func() {
				if err != nil {
					dialog.ShowError(fmt.Errorf("export the timeline: %w", err), t.parent())
					return
				}
				setMuted(t.count, fmt.Sprintf("Saved %s to %s.", plural(len(evs), "event"), w.URI().Name()))
			}
		})
	}, t.parent())
	d.SetFileName(name)
	d.Show()
}

// exportFileName is the file name offered for an export:
// "sales-desk-1-timeline-2026-03-03.csv".
func exportFileName(a core.Account, format string, now time.Time) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, a.Name)
	base = strings.Trim(base, "-")
	for strings.Contains(base, "--") {
		base = strings.ReplaceAll(base, "--", "-")
	}
	if base == "" {
		base = "account"
	}
	return base + "-timeline-" + now.Format("2006-01-02") + "." + format
}

// exportHeader names the columns of the CSV export.
var exportHeader = []string{"seq", "time", "from", "to", "cause", "reason", "attempt", "delay_s", "epoch", "message_id"}

// exportTime writes an instant in UTC with milliseconds.
func exportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// exportCSV writes evs, oldest first, as CSV with a header row. Times are
// UTC, delays in seconds.
func exportCSV(w io.Writer, evs []core.Event) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader); err != nil {
		return err
	}
	for _, e := range evs {
		rec := []string{
			strconv.FormatUint(e.Seq, 10), exportTime(e.At), e.From.String(), e.To.String(), e.Cause, e.Reason,
			strconv.Itoa(e.Attempt), strconv.FormatFloat(e.Delay.Seconds(), 'f', 3, 64), strconv.FormatUint(e.Epoch, 10),
			e.MessageID,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// exportEvent is one event of the JSON export.
type exportEvent struct {
	Seq     uint64  `json:"seq"`
	Account string  `json:"account"`
	Time    string  `json:"time"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Cause   string  `json:"cause"`
	Reason  string  `json:"reason,omitempty"`
	Attempt int     `json:"attempt,omitempty"`
	DelayS  float64 `json:"delay_s,omitempty"`
	Epoch   uint64  `json:"epoch,omitempty"`
	Message string  `json:"message_id,omitempty"`
}

// exportJSON writes evs, oldest first, as a JSON array with one event per
// line. Times are UTC, delays in seconds.
func exportJSON(w io.Writer, evs []core.Event) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("[")
	for i, e := range evs {
		b, err := json.Marshal(exportEvent{
			Seq: e.Seq, Account: string(e.Account), Time: exportTime(e.At), From: e.From.String(), To: e.To.String(),
			Cause: e.Cause, Reason: e.Reason, Attempt: e.Attempt, DelayS: math.Round(e.Delay.Seconds()*1000) / 1000, Epoch: e.Epoch,
			Message: e.MessageID,
		})
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(b)
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
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
	line := container.New(&eventColumns{}, container.NewCenter(container.New(fixedSize{10, 10}, r.dot)), r.when, r.change, r.cause)
	reason := container.New(layout.NewCustomPaddedLayout(-theme.Padding()*2, -theme.Padding(), eventFixed[0]*theme.TextSize(), 0),
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

// fixedSize lays its objects out at one fixed size.
type fixedSize struct{ w, h float32 }

func (f fixedSize) Layout(objs []fyne.CanvasObject, _ fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(fyne.NewSize(f.w, f.h))
	}
}

func (f fixedSize) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(f.w, f.h) }

// newTimelineLegend explains the band's marks.
func newTimelineLegend() *fyne.Container {
	swatch := func(o fyne.CanvasObject, text string) fyne.CanvasObject {
		l := newMuted(theme.SizeNameCaptionText)
		setMuted(l, text)
		return container.NewHBox(container.NewCenter(container.New(fixedSize{12, 10}, o)), l)
	}
	// It wraps in a narrow window rather than widen the pane.
	return container.New(&flowLayout{hpad: theme.Padding()},
		swatch(newLegendMark(markDisconnect), "disconnect"),
		swatch(newLegendMark(markAttempt), "reconnect attempt"),
		swatch(canvas.NewRasterWithPixels(gapPixel), "not running / no record"),
	)
}

// legendMark draws a marker of the band for the legend, in the theme's
// colours of the moment.
type legendMark struct {
	widget.BaseWidget
	kind markKind
}

func newLegendMark(kind markKind) *legendMark {
	m := &legendMark{kind: kind}
	m.ExtendBaseWidget(m)
	return m
}

func (m *legendMark) CreateRenderer() fyne.WidgetRenderer {
	tri := &canvas.RegularPolygon{Sides: 3, Angle: 180}
	tick := &canvas.Rectangle{}
	r := &legendMarkRenderer{m: m, tri: tri, tick: tick}
	r.Refresh()
	return r
}

type legendMarkRenderer struct {
	m    *legendMark
	tri  *canvas.RegularPolygon
	tick *canvas.Rectangle
}

func (r *legendMarkRenderer) Layout(size fyne.Size) {
	r.tri.Resize(fyne.NewSize(10, markRow))
	r.tri.Move(fyne.NewPos((size.Width-10)/2, (size.Height-markRow)/2))
	r.tick.Resize(fyne.NewSize(1, attemptRow))
	r.tick.Move(fyne.NewPos(size.Width/2, (size.Height-attemptRow)/2))
}

func (r *legendMarkRenderer) MinSize() fyne.Size { return fyne.NewSize(10, markRow) }

func (r *legendMarkRenderer) Refresh() {
	r.tri.FillColor = theme.ColorForWidget(theme.ColorNameError, r.m)
	r.tick.FillColor = theme.ColorForWidget(theme.ColorNameForeground, r.m)
	r.tri.Refresh()
	r.tick.Refresh()
}

func (r *legendMarkRenderer) Objects() []fyne.CanvasObject {
	if r.m.kind == markDisconnect {
		return []fyne.CanvasObject{r.tri}
	}
	return []fyne.CanvasObject{r.tick}
}

func (r *legendMarkRenderer) Destroy() {}
