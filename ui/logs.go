package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// LogLine is one log line of Warden (Account "") or of an account.
type LogLine struct {
	At      time.Time
	Level   slog.Level
	Account core.AccountID
	Message string
	// Attrs are the record's other attributes, "group.key" inside groups.
	Attrs map[string]string
}

// LogSource is where the logs views read lines: the stored ones, of earlier
// runs too, and the live ones.
type LogSource interface {
	// History returns the newest lines of an account ("" for Warden's own),
	// or of every account and Warden's own when all is set: at most limit,
	// newest last, at minLevel or above, and whose message or an attribute
	// value contains contains, ignoring case ("" matches all).
	History(ctx context.Context, id core.AccountID, all bool, limit int, minLevel slog.Level, contains string) ([]LogLine, error)
	// Subscribe streams the lines logged from now on, of every account. It
	// never blocks the logger; a slow reader may miss lines.
	Subscribe() (<-chan LogLine, func())
}

// How much the logs views hold, and how often they take new lines.
const (
	maxLogLines   = 20_000
	logBatchEvery = 100 * time.Millisecond // at most 10 redraws a second
	searchDelay   = 300 * time.Millisecond // typing pauses this long before the stored logs are searched
)

// The level filter's choices, lowest first.
var logLevels = []struct {
	name  string
	level slog.Level
}{
	{"Debug", slog.LevelDebug},
	{"Info", slog.LevelInfo},
	{"Warn", slog.LevelWarn},
	{"Error", slog.LevelError},
}

// logFilter is what a logs view shows.
type logFilter struct {
	level slog.Level
	query string // as typed; matched ignoring case
	// all shows every account and Warden's own lines; otherwise only
	// account's.
	all     bool
	account core.AccountID
}

// matches reports whether l passes f. q is f.query in lower case.
func (f logFilter) matches(l LogLine, q string) bool {
	if l.Level < f.level || (!f.all && l.Account != f.account) {
		return false
	}
	if q == "" || strings.Contains(strings.ToLower(l.Message), q) {
		return true
	}
	for _, v := range l.Attrs {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}

// filterLogs returns the lines that pass f, in their order.
func filterLogs(lines []LogLine, f logFilter) []LogLine {
	q := strings.ToLower(f.query)
	var out []LogLine
	for _, l := range lines {
		if f.matches(l, q) {
			out = append(out, l)
		}
	}
	return out
}

// levelWord is a level as the logs show it, five characters wide.
func levelWord(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO "
	case l < slog.LevelError:
		return "WARN "
	}
	return "ERROR"
}

// formatAttrs writes attributes as sorted key=value pairs, quoting values
// that would not read as one word.
func formatAttrs(attrs map[string]string) string {
	var b strings.Builder
	for i, k := range slices.Sorted(maps.Keys(attrs)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := attrs[k]
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

// formatLogLine writes a line as export and copy give it: UTC time, level,
// [account], message and attributes. The message's further lines are
// indented.
func formatLogLine(l LogLine) string {
	var b strings.Builder
	b.WriteString(l.At.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	b.WriteString("  " + levelWord(l.Level) + "  ")
	if l.Account != "" {
		b.WriteString("[" + string(l.Account) + "] ")
	}
	b.WriteString(strings.ReplaceAll(strings.TrimRight(l.Message, "\n"), "\n", "\n    "))
	if len(l.Attrs) > 0 {
		b.WriteString("  " + formatAttrs(l.Attrs))
	}
	return b.String()
}

// writeLogs writes lines to w, one formatLogLine each.
func writeLogs(w io.Writer, lines []LogLine) error {
	for _, l := range lines {
		if _, err := io.WriteString(w, formatLogLine(l)+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// lineKey identifies a line that may come both from the store and live.
type lineKey struct {
	at      int64
	account core.AccountID
	msg     string
}

func keyOf(l LogLine) lineKey { return lineKey{l.At.UnixNano(), l.Account, l.Message} }

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
	query       *widget.Entry
	followBtn   *widget.Button
	hint        *widget.RichText
	status      *widget.RichText
	list        *widget.List
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
	p.query = widget.NewEntry()
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

	p.list = &widget.List{
		Length:     func() int { return len(p.lines) },
		CreateItem: func() fyne.CanvasObject { return newLogRow(p) },
		UpdateItem: func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(p.lines) {
				o.(*logRow).set(i, p.lines[i])
			}
		},
		OnSelected:   p.selectLine,
		OnUnselected: func(widget.ListItemID) { p.selectLine(-1) },
	}
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
		p.filter.account = id
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

// copyLine puts line i on the clipboard, as export writes it.
func (p *logsPane) copyLine(i int) {
	if i < 0 || i >= len(p.lines) {
		return
	}
	fyne.CurrentApp().Clipboard().SetContent(formatLogLine(p.lines[i]))
	setMuted(p.status, "Copied the line to the clipboard.")
}

// matching returns every line that passes the filter: shown and held.
func (p *logsPane) matching() []LogLine {
	return append(slices.Clip(p.lines), p.held...)
}

// exportName is the file name the export dialog suggests.
func (p *logsPane) exportName() string {
	what := "all"
	if !p.filter.all {
		what = p.names(p.filter.account)
		if what == "" {
			what = string(p.filter.account)
		}
	}
	clean := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, what)
	return "warden-" + strings.Trim(clean, "-") + "-" + p.now().Format("20060102-1504") + ".log"
}

// exportHeader is the comment an export starts with: what the lines are,
// when they were exported, and the names of the accounts they name by ID.
func (p *logsPane) exportHeader(lines []LogLine) string {
	var b strings.Builder
	b.WriteString("# Warden logs of ")
	if p.filter.all {
		b.WriteString("every account and Warden itself")
	} else {
		b.WriteString(p.names(p.filter.account) + " (" + string(p.filter.account) + ")")
	}
	b.WriteString(", " + strings.ToLower(strings.TrimSpace(levelWord(p.filter.level))) + " and above")
	if p.filter.query != "" {
		b.WriteString(", matching " + strconv.Quote(p.filter.query))
	}
	fmt.Fprintf(&b, "; %d lines, exported %s\n", len(lines), p.now().UTC().Format("2006-01-02T15:04:05Z07:00"))
	if p.filter.all {
		seen := map[core.AccountID]bool{"": true}
		for _, l := range lines {
			if !seen[l.Account] {
				seen[l.Account] = true
				fmt.Fprintf(&b, "# [%s] is %s\n", l.Account, p.names(l.Account))
			}
		}
	}
	return b.String()
}

// showExport asks where to save the lines that pass the filter.
func (p *logsPane) showExport() {
	lines := p.matching()
	header := p.exportHeader(lines)
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, p.win)
			return
		}
		if w == nil { // cancelled
			return
		}
		_, err = io.WriteString(w, header)
		if err == nil {
			err = writeLogs(w, lines)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			dialog.ShowError(fmt.Errorf("export the logs: %w", err), p.win)
			return
		}
		setMuted(p.status, fmt.Sprintf("Saved %s lines to %s.", thousands(len(lines)), w.URI().Name()))
	}, p.win)
	d.SetFileName(p.exportName())
	d.Show()
	d.Resize(fyne.NewSize(760, 520)) // only once shown: before, the dialog has no content yet
}

// thousands writes n with thin separators: 20000 → "20,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

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

// shortcutLogs opens the all-logs window.
var shortcutLogs = &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}

// windowLogs are the logs views of a Window.
type windowLogs struct {
	w   *Window
	src LogSource

	// Fyne's thread only:
	account *logsPane   // the selected account's Logs tab
	allWin  fyne.Window // the all-logs window while it is open
	allPane *logsPane

	mu sync.Mutex
	// mu guards the following
	panes  map[*logsPane]bool // open panes, closed with the Window
	closed bool
}

// SetLogSource gives the window its logs: a Logs tab for the selected account
// and View › All logs… (Ctrl+L), a window with every account's lines and
// Warden's own. Call it once, before Show.
func (w *Window) SetLogSource(src LogSource) {
	wl := &windowLogs{w: w, src: src, panes: map[*logsPane]bool{}}
	item := &fyne.MenuItem{Label: "All logs…", Shortcut: shortcutLogs, Action: wl.showAll}
	menu := w.win.MainMenu()
	if menu == nil {
		menu = fyne.NewMainMenu()
	}
	view := (*fyne.Menu)(nil)
	for _, m := range menu.Items {
		if m.Label == "View" {
			view = m
		}
	}
	if view == nil {
		view = fyne.NewMenu("View")
		menu.Items = append(menu.Items, view)
	}
	view.Items = append(view.Items, item)
	w.win.SetMainMenu(menu)
	w.win.Canvas().AddShortcut(shortcutLogs, func(fyne.Shortcut) { wl.showAll() })

	wl.account = wl.newPane(src, w.list.selected, false, w.win)
	wl.account.onScreen = false
	wl.account.start()
	wl.track(wl.account)
	w.detail.setLogs(wl.account)
	onSelect := w.list.onSelect
	w.list.onSelect = func(id core.AccountID) {
		onSelect(id)
		wl.account.setAccount(id)
	}

	// The panes stop with the Window: Close cancels w.ctx and waits for w.wg.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		<-w.ctx.Done()
		wl.mu.Lock()
		wl.closed = true
		panes := slices.Collect(maps.Keys(wl.panes))
		wl.mu.Unlock()
		for _, p := range panes {
			p.close()
		}
	}()
}

// newPane builds a logs pane that runs its work as the Window does.
func (wl *windowLogs) newPane(src LogSource, id core.AccountID, all bool, win fyne.Window) *logsPane {
	p := newLogsPane(src, id, all, win, wl.w.accountName)
	p.do, p.async = wl.w.do, wl.w.async
	return p
}

// track registers p to be closed with the Window; false when it already
// closed (p is closed then).
func (wl *windowLogs) track(p *logsPane) bool {
	wl.mu.Lock()
	closed := wl.closed
	if !closed {
		wl.panes[p] = true
	}
	wl.mu.Unlock()
	if closed {
		p.close()
	}
	return !closed
}

func (wl *windowLogs) untrack(p *logsPane) {
	wl.mu.Lock()
	delete(wl.panes, p)
	wl.mu.Unlock()
	p.close()
}

// showAll opens the all-logs window, or brings it to the front.
func (wl *windowLogs) showAll() {
	if wl.allWin != nil {
		wl.allWin.RequestFocus()
		return
	}
	w := wl.w
	win := w.app.NewWindow(w.opts.Title + " · All logs")
	p := wl.newPane(wl.src, "", true, win)
	p.start()
	if !wl.track(p) { // the Window closed
		win.Close()
		return
	}
	wl.allWin, wl.allPane = win, p
	win.SetContent(container.NewPadded(p.content))
	win.Resize(fyne.NewSize(1100, 680))
	closeWin := func(fyne.Shortcut) { win.Close() }
	win.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault}, closeWin)
	focusSearch := func(fyne.Shortcut) { win.Canvas().Focus(p.query) }
	win.Canvas().AddShortcut(shortcutLogs, focusSearch)
	win.Canvas().AddShortcut(shortcutFilter, focusSearch)
	win.SetOnClosed(func() {
		wl.allWin, wl.allPane = nil, nil
		wl.untrack(p)
	})
	p.setShown(true)
	win.Show()
	win.Canvas().Focus(p.query)
}

// accountName is the name the logs show for an account: its current name, or
// its ID once it is gone.
func (w *Window) accountName(id core.AccountID) string {
	if s, ok := w.statuses[id]; ok && s.Account.Name != "" {
		return s.Account.Name
	}
	return string(id)
}

// setLogs adds the Logs tab. It loads the selected account's lines when it
// comes on screen.
func (d *detailView) setLogs(p *logsPane) {
	item := d.addTab("Logs", p.content, func(shown bool) {
		if shown {
			p.setAccount(d.status.Account.ID)
		}
		p.setShown(shown)
	})
	p.setShown(d.shown && d.tabs.Selected() == item)
}
