package ui

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// logsPane is a live tail of log lines: an account's, or every account's in
// the all-logs window. It loads the stored lines for its filter, then adds
// live ones as they come.
type logsPane struct {
	src   LogSource
	win   fyne.Window
	names func(core.AccountID) string // an account's name, for the all view
	now   func() time.Time
	max   int // lines held at most
	// searchDelay is how long typing pauses before the stored logs are
	// searched; 0 searches at once.
	searchDelay time.Duration

	// do runs f on Fyne's thread; async runs work in the background, then
	// what it returns on Fyne's thread. Tests run both in place.
	do    func(f func())
	async func(work func() (then func()))

	// Fyne's thread only:
	filter  logFilter
	lines   []LogLine // shown, oldest first
	held    []LogLine // matching lines that came while paused
	seen    map[lineKey]bool
	gen     int       // counts loads; a load that is not the newest is ignored
	loading bool      // live lines wait in early until the load is done
	early   []LogLine // live lines that came during a load
	paused  bool
	// onScreen is false while the pane is hidden (another tab); stale
	// means it has to load its lines when it comes on screen.
	onScreen, stale bool
	sel             int // the selected row, -1 for none
	// bottomAt is the list's scroll offset at the bottom, for the list's
	// size bottomSize, as scrollToBottom left it.
	bottomAt   float32
	bottomSize fyne.Size
	note       string
	search     *time.Timer // the pending search of the stored logs

	levelSelect *widget.Select
	query       *closeKeyEntry // Escape and Ctrl+W close the all-logs window
	followBtn   *widget.Button
	hint        *widget.RichText
	status      *widget.RichText
	list        *deleteKeyList
	empty       *widget.RichText
	full        *widget.Label
	selected    *fyne.Container
	content     fyne.CanvasObject

	ctx       context.Context
	cancel    context.CancelFunc
	unsub     func()
	unsubOnce sync.Once
	wg        sync.WaitGroup
}

// newLogsPane builds a logs view of id, or of everything when all is set.
// start makes it follow the live lines; it loads its lines once setShown(true)
// says it is on screen; close stops it. names gives the account names shown
// in the all view (nil shows IDs).
func newLogsPane(src LogSource, id core.AccountID, all bool, win fyne.Window, names func(core.AccountID) string) *logsPane {
	if names == nil {
		names = func(id core.AccountID) string { return string(id) }
	}
	p := &logsPane{
		src: src, win: win, names: names, now: time.Now, max: maxLogLines, searchDelay: searchDelay,
		filter:   logFilter{level: slog.LevelInfo, all: all, account: id},
		seen:     map[lineKey]bool{},
		sel:      -1,
		onScreen: true,
		stale:    true,
		do:       fyne.Do,
		unsub:    func() {},
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.async = func(work func() func()) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if then := work(); then != nil {
				fyne.Do(then)
			}
		}()
	}

	var choices []string
	for _, l := range logLevels {
		choices = append(choices, l.name)
	}
	p.levelSelect = widget.NewSelect(choices, func(s string) {
		for _, l := range logLevels {
			if l.name == s && l.level != p.filter.level {
				p.filter.level = l.level
				p.refilter()
				p.reload()
				return
			}
		}
	})
	p.levelSelect.SetSelected("Info")
	p.query = newCloseKeyEntry()
	p.query.PlaceHolder = "Search messages and values"
	p.query.ActionItem = &widget.Button{Icon: theme.SearchIcon(), Importance: widget.LowImportance, OnTapped: p.reload}
	p.query.OnChanged = func(s string) {
		if s == p.filter.query {
			return
		}
		p.filter.query = s
		p.refilter()
		p.reloadSoon()
	}
	p.query.OnSubmitted = func(string) { p.reload() }
	p.followBtn = &widget.Button{OnTapped: p.toggleFollow}
	p.hint = newMuted(theme.SizeNameText)
	p.status = newMuted(theme.SizeNameCaptionText)
	export := &widget.Button{Text: "Export…", Icon: theme.DocumentSaveIcon(), OnTapped: p.showExport}

	p.list = &deleteKeyList{List: widget.List{
		Length:     func() int { return len(p.lines) },
		CreateItem: func() fyne.CanvasObject { return newLogRow(p) },
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(p.lines) {
				o.(*logRow).set(i, p.lines[i])
			}
		},
		OnSelected:   p.selectLine,
		OnUnselected: func(widget.ListItemID) { p.selectLine(-1) },
	}}
	p.list.ExtendBaseWidget(p.list) // so that Refresh makes the scroller ScrollToBottom needs, even off screen
	p.empty = newMuted(theme.SizeNameText)

	p.full = &widget.Label{Wrapping: fyne.TextWrapWord, Selectable: true, TextStyle: fyne.TextStyle{Monospace: true}}
	copyBtn := &widget.Button{Text: "Copy", Icon: theme.ContentCopyIcon(), OnTapped: func() { p.copyLine(p.sel) }}
	closeBtn := &widget.Button{Icon: theme.CancelIcon(), Importance: widget.LowImportance, OnTapped: func() { p.list.UnselectAll() }}
	fullScroll := container.NewVScroll(p.full)
	fullScroll.SetMinSize(fyne.NewSize(0, 90))
	p.selected = container.NewBorder(widget.NewSeparator(), nil, nil, container.NewVBox(copyBtn, closeBtn), fullScroll)
	p.selected.Hide()

	tools := container.NewBorder(nil, nil,
		container.NewHBox(widget.NewLabel("Level"), p.levelSelect),
		container.NewHBox(p.followBtn, p.hint, export),
		p.query)
	top := container.NewVBox(tools, p.status)
	p.content = container.NewBorder(top, p.selected, nil, nil,
		container.NewStack(p.list, container.NewCenter(p.empty)))
	p.showFollow()
	p.showCount()
	return p
}

// start follows src's live lines until close.
func (p *logsPane) start() {
	live, unsub := p.src.Subscribe()
	p.unsub = unsub
	p.wg.Add(1)
	go p.follow(live)
}

// follow hands the live lines to addLive on Fyne's thread until the
// subscription ends or the pane closes.
func (p *logsPane) follow(live <-chan LogLine) {
	defer p.wg.Done()
	batchFeed(p.ctx, live, logBatchEvery, p.max, func(b []LogLine, done func()) {
		p.do(func() {
			p.addLive(b)
			done()
		})
	})
}

// batchFeed reads live and hands what came to apply in batches, at most
// every `every`, one batch at a time: the next waits until apply calls done.
// A batch keeps its newest most values (all of them when most is 0). It
// returns when ctx ends or live closes. The logs panes and the fleet banner
// both follow their streams with it.
func batchFeed[T any](ctx context.Context, live <-chan T, every time.Duration, most int, apply func(batch []T, done func())) {
	var batch []T
	var flush <-chan time.Time
	applied := make(chan struct{}, 1)
	done := func() { applied <- struct{}{} }
	busy := false
	arm := func() {
		if flush == nil && !busy && len(batch) > 0 {
			flush = time.After(every)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case l, ok := <-live:
			if !ok {
				return
			}
			batch = append(batch, l)
			if most > 0 && len(batch) > most { // far behind: keep the newest
				batch = slices.Delete(batch, 0, len(batch)-most)
			}
			arm()
		case <-flush:
			flush = nil
			b := batch
			batch = nil
			busy = true
			apply(b, done)
		case <-applied:
			busy = false
			arm()
		}
	}
}

// close stops following and waits for the pane's goroutines. It is safe to
// call from any goroutine, and twice.
func (p *logsPane) close() {
	p.cancel()
	p.unsubOnce.Do(p.unsub)
	p.wg.Wait()
}

// setAccount shows another account's lines.
func (p *logsPane) setAccount(id core.AccountID) {
	if p.filter.all {
		return
	}
	if id != p.filter.account {
		// Another account starts from the default filter: a level or a
		// search chosen for one account would hide the next one's lines
		// without a word. The filter is set before the widgets, so that
		// their callbacks see no change and read nothing.
		p.filter.account = id
		p.filter.level, p.filter.query = slog.LevelInfo, ""
		p.levelSelect.SetSelected("Info")
		p.query.SetText("")
		p.setLines(nil)
		p.stale = true
	}
	p.setShown(p.onScreen)
}

// setShown tells the pane whether it is on screen. Off screen it does not
// follow; on screen again, it loads what it missed.
func (p *logsPane) setShown(shown bool) {
	p.onScreen = shown
	if shown && p.stale {
		p.stale = false
		p.reload()
	}
}

// reloadSoon searches the stored logs once typing pauses.
func (p *logsPane) reloadSoon() {
	if p.search != nil {
		p.search.Stop()
	}
	if p.searchDelay <= 0 {
		p.reload()
		return
	}
	gen := p.gen
	p.search = time.AfterFunc(p.searchDelay, func() {
		p.do(func() {
			if p.gen == gen && p.ctx.Err() == nil {
				p.reload()
			}
		})
	})
}

// reload reads the lines for the current filter from the source; live lines
// that come meanwhile are added once it is done.
func (p *logsPane) reload() {
	if p.ctx.Err() != nil {
		return
	}
	p.gen++
	gen, f := p.gen, p.filter
	p.loading = true
	p.showCount()
	p.async(func() func() {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		lines, err := p.src.History(ctx, f.account, f.all, p.max, f.level, f.query)
		cancel()
		return func() {
			if gen != p.gen || p.ctx.Err() != nil {
				return
			}
			p.loading = false
			early := p.early
			p.early = nil
			if err != nil {
				p.note = "Could not read the stored logs: " + err.Error()
				lines = p.lines // keep what is shown
			} else {
				p.note = ""
				if !p.filter.all && p.filter.account != f.account {
					return // a late answer for another account
				}
			}
			p.setLines(lines)
			p.addLive(early)
		}
	})
}

// setLines shows lines, which are filtered and in order.
func (p *logsPane) setLines(lines []LogLine) {
	p.list.UnselectAll()
	p.sel = -1
	p.selected.Hide()
	if len(lines) > p.max {
		lines = lines[len(lines)-p.max:]
	}
	p.lines = slices.Clip(lines)
	p.held = nil
	clear(p.seen)
	for _, l := range p.lines {
		p.seen[keyOf(l)] = true
	}
	p.list.Refresh()
	if !p.paused {
		p.scrollToBottom()
	}
	p.showFollow()
	p.showCount()
}

// refilter narrows what is shown to the current filter at once; a reload
// then brings the older matching lines.
func (p *logsPane) refilter() {
	p.setLines(filterLogs(p.lines, p.filter))
}

// addLive adds new lines: shown at the end when following, held while
// paused. Lines already shown are skipped: a line may come from the store
// and live.
func (p *logsPane) addLive(batch []LogLine) {
	if !p.onScreen {
		p.stale = true // the next setShown(true) loads them
		return
	}
	if p.loading {
		p.early = append(p.early, batch...)
		if len(p.early) > p.max {
			p.early = slices.Delete(p.early, 0, len(p.early)-p.max)
		}
		return
	}
	if !p.paused && p.scrolledUp() {
		// The operator scrolled back to read: pause rather than pull the
		// view to the newest line.
		p.paused = true
		p.showFollow()
	}
	q := strings.ToLower(p.filter.query)
	added := 0
	for _, l := range batch {
		if !p.filter.matches(l, q) || p.seen[keyOf(l)] {
			continue
		}
		p.seen[keyOf(l)] = true
		added++
		if p.paused {
			p.held = append(p.held, l)
		} else {
			p.lines = append(p.lines, l)
		}
	}
	if added == 0 {
		return
	}
	if p.paused {
		if n := len(p.held) - p.max; n > 0 {
			p.forget(p.held[:n])
			p.held = slices.Delete(p.held, 0, n)
		}
		p.showFollow()
		return
	}
	if n := len(p.lines) - p.max; n > 0 {
		p.forget(p.lines[:n])
		p.lines = slices.Delete(p.lines, 0, n)
	}
	p.list.Refresh()
	p.scrollToBottom()
	p.showCount()
}

// scrollToBottom shows the newest line and notes where that is, so that
// scrolledUp can tell when the operator scrolled back.
func (p *logsPane) scrollToBottom() {
	p.list.ScrollToBottom()
	p.bottomAt, p.bottomSize = p.list.GetScrollOffset(), p.list.Size()
}

// scrolledUp reports whether the view left the bottom since scrollToBottom,
// while the list kept its size (a resize moves the bottom).
func (p *logsPane) scrolledUp() bool {
	return p.list.Size() == p.bottomSize && p.list.GetScrollOffset() < p.bottomAt-1
}

func (p *logsPane) forget(lines []LogLine) {
	for _, l := range lines {
		delete(p.seen, keyOf(l))
	}
}

// toggleFollow pauses the view, or follows again: the held lines are shown
// and the view scrolls to the newest.
func (p *logsPane) toggleFollow() {
	if !p.paused {
		p.paused = true
		p.showFollow()
		return
	}
	p.paused = false
	held := p.held
	p.held = nil
	p.list.UnselectAll()
	p.lines = append(p.lines, held...)
	if n := len(p.lines) - p.max; n > 0 {
		p.forget(p.lines[:n])
		p.lines = slices.Delete(p.lines, 0, n)
	}
	p.list.Refresh()
	p.scrollToBottom()
	p.showFollow()
	p.showCount()
}

func (p *logsPane) showFollow() {
	if p.paused {
		p.followBtn.SetText("Follow")
		p.followBtn.SetIcon(theme.MediaPlayIcon())
		p.followBtn.Importance = widget.HighImportance
		switch n := len(p.held); n {
		case 0:
			setMuted(p.hint, "Paused")
		case 1:
			setMuted(p.hint, "1 new line")
		default:
			setMuted(p.hint, fmt.Sprintf("%s new lines", thousands(n)))
		}
		p.hint.Show()
	} else {
		p.followBtn.SetText("Pause")
		p.followBtn.SetIcon(theme.MediaPauseIcon())
		p.followBtn.Importance = widget.MediumImportance
		p.hint.Hide()
	}
	p.followBtn.Refresh()
}

// showCount says how many lines are shown, or that they are loading, and
// what the empty view means.
func (p *logsPane) showCount() {
	var s string
	switch {
	case p.note != "":
		s = p.note
	case p.loading:
		s = "Loading…"
	case len(p.lines) == 1:
		s = "1 line"
	default:
		s = thousands(len(p.lines)) + " lines"
		if len(p.lines) == p.max {
			s += " (the newest)"
		}
	}
	if l, ok := p.src.(interface{ LogLevel() slog.Level }); ok && p.filter.level < l.LogLevel() && p.note == "" {
		s += " · Warden logs at " + strings.TrimSpace(strings.ToLower(levelWord(l.LogLevel()))) +
			" level: lines below it, such as whatsmeow's XML at debug, are not recorded"
	}
	setMuted(p.status, s)
	switch {
	case len(p.lines) > 0 || p.loading:
		p.empty.Hide()
	case p.filter.query != "" || p.filter.level > slog.LevelDebug:
		setMuted(p.empty, "No lines match. Lower the level or change the search.")
		p.empty.Show()
	default:
		setMuted(p.empty, "No log lines yet.")
		p.empty.Show()
	}
}

// selectLine shows a line in full below the list, with Copy. Selecting pauses
// the view so that the line stays put.
func (p *logsPane) selectLine(i int) {
	if i < 0 || i >= len(p.lines) {
		p.sel = -1
		p.selected.Hide()
		p.content.Refresh()
		return
	}
	p.sel = i
	if !p.paused {
		p.paused = true
		p.showFollow()
	}
	p.full.SetText(formatLogLine(p.lines[i]))
	p.selected.Show()
	p.content.Refresh()
}
