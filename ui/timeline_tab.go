package ui

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
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
	list    *deleteKeyList
	csv     *widget.Button
	json    *widget.Button
	body    *fyne.Container   // the tab's parts, the list last
	page    *container.Scroll // body, scrolling in a short window
	content fyne.CanvasObject
}

// timelineMinRows is how many events the list shows at least; a window too
// short for them and the statistics scrolls the tab.
const timelineMinRows = 6

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
	t.list = &deleteKeyList{List: widget.List{Length: t.rows, CreateItem: func() fyne.CanvasObject {
		t.rowsMade++
		return newEventRow()
	}, UpdateItem: t.updateRow}}
	t.list.ExtendBaseWidget(t.list)
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
	// In a short window the whole tab scrolls, so that the list keeps room
	// for timelineMinRows events rather than shrink to nothing.
	rowH := newEventRow().MinSize().Height + theme.Padding()
	lay := &timelineLayout{listMin: func() float32 { return timelineMinRows * rowH }}
	t.body = container.New(lay, top, stats, t.band, legend, widget.NewSeparator(), nil)
	t.page = container.NewVScroll(t.body)
	t.body.Objects[len(t.body.Objects)-1] = container.NewStack(t.list, newWheelChain(&t.list.List, t.page))
	lay.grew = func() { t.page.Refresh() }
	t.content = t.page
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
	// New figures may wrap the statistics into another number of rows.
	t.body.Refresh()
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
