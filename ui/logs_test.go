package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"warden/core"
)

// fakeLogs is a LogSource: stored lines searched as the store does, and a
// live channel the test feeds.
type fakeLogs struct {
	mu     sync.Mutex
	stored []LogLine
	err    error
	calls  []string // "History <id> <all> <level> <contains>"
	live   chan LogLine
	unsubs int
}

func newFakeLogs(stored ...LogLine) *fakeLogs {
	return &fakeLogs{stored: stored, live: make(chan LogLine, 64)}
}

func (f *fakeLogs) History(_ context.Context, id core.AccountID, all bool, limit int, minLevel slog.Level, contains string) ([]LogLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("History %q %v %v %q", id, all, minLevel, contains))
	if f.err != nil {
		return nil, f.err
	}
	q := strings.ToLower(contains)
	var out []LogLine
	for _, l := range f.stored {
		if l.Level < minLevel || (!all && l.Account != id) {
			continue
		}
		hit := strings.Contains(strings.ToLower(l.Message), q)
		for _, v := range l.Attrs {
			hit = hit || strings.Contains(strings.ToLower(v), q)
		}
		if hit {
			out = append(out, l)
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func (f *fakeLogs) Subscribe() (<-chan LogLine, func()) {
	return f.live, func() {
		f.mu.Lock()
		f.unsubs++
		f.mu.Unlock()
	}
}

func (f *fakeLogs) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// at is t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func line(s int, level slog.Level, id core.AccountID, msg string, kv ...string) LogLine {
	l := LogLine{At: at(s), Level: level, Account: id, Message: msg}
	if len(kv) > 0 {
		l.Attrs = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			l.Attrs[kv[i]] = kv[i+1]
		}
	}
	return l
}

func msgs(lines []LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Message)
	}
	return out
}

func TestFilterLogs(t *testing.T) {
	lines := []LogLine{
		line(1, slog.LevelDebug, "a1", "<iq type=\"get\"/>", "module", "Client/Send"),
		line(2, slog.LevelInfo, "a1", "Connected", "epoch", "3"),
		line(3, slog.LevelWarn, "a1", "stream error", "code", "515"),
		line(4, slog.LevelError, "a2", "Stream Errored (conflict)", "code", "440"),
		line(5, slog.LevelInfo, "", "warden started", "data_dir", "/data/Warden"),
	}
	tests := []struct {
		name string
		f    logFilter
		want []string
	}{
		{"info of one account hides debug and the others", logFilter{level: slog.LevelInfo, account: "a1"},
			[]string{"Connected", "stream error"}},
		{"debug shows the XML nodes", logFilter{level: slog.LevelDebug, account: "a1"},
			[]string{"<iq type=\"get\"/>", "Connected", "stream error"}},
		{"warn", logFilter{level: slog.LevelWarn, account: "a1"}, []string{"stream error"}},
		{"Warden's own", logFilter{level: slog.LevelDebug, account: ""}, []string{"warden started"}},
		{"all accounts", logFilter{level: slog.LevelInfo, all: true},
			[]string{"Connected", "stream error", "Stream Errored (conflict)", "warden started"}},
		{"error across all", logFilter{level: slog.LevelError, all: true}, []string{"Stream Errored (conflict)"}},
		{"search ignores case", logFilter{level: slog.LevelInfo, all: true, query: "STREAM"},
			[]string{"stream error", "Stream Errored (conflict)"}},
		{"search finds attribute values", logFilter{level: slog.LevelInfo, all: true, query: "44"},
			[]string{"Stream Errored (conflict)"}},
		{"search value ignoring case", logFilter{level: slog.LevelDebug, all: true, query: "warden"},
			[]string{"warden started"}},
		{"search does not match keys", logFilter{level: slog.LevelDebug, all: true, query: "epoch"}, []string{}},
		{"search within the level only", logFilter{level: slog.LevelInfo, account: "a1", query: "iq"}, []string{}},
		{"search and account", logFilter{level: slog.LevelInfo, account: "a2", query: "error"},
			[]string{"Stream Errored (conflict)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := msgs(filterLogs(lines, tt.f)); !slices.Equal(got, tt.want) {
				t.Errorf("filterLogs(%+v) = %q, want %q", tt.f, got, tt.want)
			}
		})
	}
}

func TestWriteLogs(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	lines := []LogLine{
		{At: time.Date(2026, 3, 3, 15, 30, 1, 234_000_000, local), Level: slog.LevelInfo, Message: "warden started",
			Attrs: map[string]string{"version": "0.1.0", "demo": "true"}},
		{At: at(2), Level: slog.LevelWarn, Account: "a1", Message: "stream error",
			Attrs: map[string]string{"reason": "stream replaced", "empty": "", "eq": "a=b"}},
		{At: at(3), Level: slog.LevelDebug, Account: "a1", Message: "<iq>\n  <ping/>\n</iq>\n"},
		{At: at(4), Level: slog.LevelError + 2, Account: "a2", Message: "gave up"},
	}
	var b bytes.Buffer
	if err := writeLogs(&b, lines); err != nil {
		t.Fatal(err)
	}
	want := `2026-03-03T14:30:01.234Z  INFO   warden started  demo=true version=0.1.0
2026-03-03T14:30:02.000Z  WARN   [a1] stream error  empty="" eq="a=b" reason="stream replaced"
2026-03-03T14:30:03.000Z  DEBUG  [a1] <iq>
      <ping/>
    </iq>
2026-03-03T14:30:04.000Z  ERROR  [a2] gave up
`
	if got := b.String(); got != want {
		t.Errorf("writeLogs wrote\n%s\nwant\n%s", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteLogsReportsErrors(t *testing.T) {
	if err := writeLogs(failingWriter{}, []LogLine{line(1, slog.LevelInfo, "", "x")}); err == nil {
		t.Error("writeLogs to a failing writer returned nil")
	}
}

// newTestLogsPane builds a pane over src whose loads and redraws run at once
// on the test's goroutine; live lines are handed over with addLive.
func newTestLogsPane(t *testing.T, src LogSource, id core.AccountID, all bool) *logsPane {
	t.Helper()
	test.NewTempApp(t)
	win := test.NewTempWindow(t, nil)
	names := map[core.AccountID]string{"a1": "Sales desk", "a2": "Support"}
	p := newLogsPane(src, id, all, win, func(id core.AccountID) string { return names[id] })
	p.now = func() time.Time { return t0 }
	p.do = func(f func()) { f() }
	p.async = func(work func() func()) {
		if then := work(); then != nil {
			then()
		}
	}
	p.searchDelay = 0
	win.SetContent(p.content)
	win.Resize(fyne.NewSize(1000, 500))
	p.reload()
	t.Cleanup(p.close)
	return p
}

func TestLogsPaneShowsStoredThenLiveLinesOnce(t *testing.T) {
	src := newFakeLogs(
		line(1, slog.LevelInfo, "a1", "Connected"),
		line(2, slog.LevelInfo, "a2", "other account"),
		line(3, slog.LevelWarn, "a1", "stream error", "code", "515"),
	)
	p := newTestLogsPane(t, src, "a1", false)
	if got, want := msgs(p.lines), []string{"Connected", "stream error"}; !slices.Equal(got, want) {
		t.Fatalf("after loading, shown %q, want %q", got, want)
	}
	// The stream error was stored and is also live; the other account's
	// line and a debug line do not belong here.
	p.addLive([]LogLine{
		line(3, slog.LevelWarn, "a1", "stream error", "code", "515"),
		line(4, slog.LevelInfo, "a2", "other account again"),
		line(5, slog.LevelDebug, "a1", "<iq/>"),
		line(6, slog.LevelInfo, "a1", "Reconnecting in 3 s"),
	})
	if got, want := msgs(p.lines), []string{"Connected", "stream error", "Reconnecting in 3 s"}; !slices.Equal(got, want) {
		t.Errorf("after live lines, shown %q, want %q", got, want)
	}
	if !hasText(p.content, "3 lines") {
		t.Error("the pane does not say it shows 3 lines")
	}
}

func TestLogsPaneLiveLinesDuringALoadAreKept(t *testing.T) {
	src := newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected"), line(2, slog.LevelInfo, "a1", "Disconnected"))
	p := newTestLogsPane(t, src, "a1", false)
	var pending func() func()
	p.async = func(work func() func()) { pending = work }
	p.reload()
	if !hasText(p.content, "Loading…") {
		t.Error("no Loading… while the stored lines load")
	}
	// Lines logged while loading; one is also in the store by then.
	p.addLive([]LogLine{line(2, slog.LevelInfo, "a1", "Disconnected"), line(3, slog.LevelInfo, "a1", "Connecting")})
	if got := msgs(p.lines); len(got) != 2 {
		t.Errorf("lines changed while loading: %q", got)
	}
	pending()()
	if got, want := msgs(p.lines), []string{"Connected", "Disconnected", "Connecting"}; !slices.Equal(got, want) {
		t.Errorf("after the load, shown %q, want %q", got, want)
	}
}

func TestLogsPaneLevelAndSearchReadTheStore(t *testing.T) {
	src := newFakeLogs(
		line(1, slog.LevelDebug, "a1", "<iq/>", "module", "Client/Send"),
		line(2, slog.LevelInfo, "a1", "Connected"),
		line(3, slog.LevelWarn, "a1", "stream error", "code", "515"),
	)
	p := newTestLogsPane(t, src, "a1", false)
	if got, want := msgs(p.lines), []string{"Connected", "stream error"}; !slices.Equal(got, want) {
		t.Fatalf("at Info, shown %q, want %q", got, want)
	}
	p.levelSelect.SetSelected("Debug")
	if got, want := msgs(p.lines), []string{"<iq/>", "Connected", "stream error"}; !slices.Equal(got, want) {
		t.Errorf("at Debug, shown %q, want %q", got, want)
	}
	test.Type(p.query, "515")
	if got, want := msgs(p.lines), []string{"stream error"}; !slices.Equal(got, want) {
		t.Errorf("searching 515, shown %q, want %q", got, want)
	}
	calls := src.Calls()
	if last, want := calls[len(calls)-1], `History "a1" false DEBUG "515"`; last != want {
		t.Errorf("last read of the store: %s, want %s", last, want)
	}
	p.levelSelect.SetSelected("Error")
	if len(p.lines) != 0 || !hasText(p.content, "No lines match. Lower the level or change the search.") {
		t.Errorf("at Error with the search, shown %q, and no hint that nothing matches", msgs(p.lines))
	}
	// Live lines pass the same filter.
	p.levelSelect.SetSelected("Info")
	p.addLive([]LogLine{line(4, slog.LevelWarn, "a1", "keepalive failed"), line(5, slog.LevelError, "a1", "code 515 again")})
	if got, want := msgs(p.lines), []string{"stream error", "code 515 again"}; !slices.Equal(got, want) {
		t.Errorf("live lines under search 515: shown %q, want %q", got, want)
	}
}

func TestLogsPaneReadErrorKeepsTheLines(t *testing.T) {
	src := newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected"), line(2, slog.LevelInfo, "a1", "Stopped"))
	p := newTestLogsPane(t, src, "a1", false)
	src.mu.Lock()
	src.err = errors.New("store closed")
	src.mu.Unlock()
	test.Type(p.query, "conn")
	if !hasText(p.content, "Could not read the stored logs: store closed") {
		t.Error("a failed read is not shown")
	}
	if got := msgs(p.lines); !slices.Equal(got, []string{"Connected"}) {
		t.Errorf("after a failed read, shown %q, want the matching line shown before", got)
	}
}

func TestLogsPausedHoldsNewLinesUntilFollow(t *testing.T) {
	p := newTestLogsPane(t, newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected")), "a1", false)
	pause := findButton(p.content, "Pause")
	if pause == nil {
		t.Fatal("no Pause button")
	}
	test.Tap(pause)
	p.addLive([]LogLine{line(2, slog.LevelInfo, "a1", "Disconnected"), line(3, slog.LevelInfo, "a1", "Connecting")})
	if got := msgs(p.lines); !slices.Equal(got, []string{"Connected"}) {
		t.Errorf("paused, the view changed to %q", got)
	}
	if !hasText(p.content, "2 new lines") {
		t.Error("paused, no \"2 new lines\" hint")
	}
	follow := findButton(p.content, "Follow")
	if follow == nil {
		t.Fatal("paused, no Follow button")
	}
	test.Tap(follow)
	if got, want := msgs(p.lines), []string{"Connected", "Disconnected", "Connecting"}; !slices.Equal(got, want) {
		t.Errorf("after Follow, shown %q, want %q", got, want)
	}
	if hasText(p.content, "2 new lines") || findButton(p.content, "Pause") == nil {
		t.Error("after Follow, the hint stays or there is no Pause button")
	}
}

func TestLogsPaneKeepsTheNewestLines(t *testing.T) {
	p := newTestLogsPane(t, newFakeLogs(), "a1", false)
	p.max = 3
	for i := range 5 {
		p.addLive([]LogLine{line(i, slog.LevelInfo, "a1", fmt.Sprint("line ", i))})
	}
	if got, want := msgs(p.lines), []string{"line 2", "line 3", "line 4"}; !slices.Equal(got, want) {
		t.Errorf("shown %q, want the newest %q", got, want)
	}
	if len(p.seen) != 3 {
		t.Errorf("the pane remembers %d lines for deduplication, want 3", len(p.seen))
	}
	// A line that was dropped may come again (from a reload): it is shown.
	p.addLive([]LogLine{line(0, slog.LevelInfo, "a1", "line 0")})
	if got := msgs(p.lines); got[len(got)-1] != "line 0" {
		t.Errorf("shown %q, want line 0 again at the end", got)
	}
}

func TestLogsPaneSelectShowsTheLineAndCopies(t *testing.T) {
	l := line(3, slog.LevelWarn, "a1", "stream error", "code", "515")
	p := newTestLogsPane(t, newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected"), l), "a1", false)
	p.list.Select(1)
	want := "2026-03-03T14:30:03.000Z  WARN   [a1] stream error  code=515"
	if !p.selected.Visible() || p.full.Text != want {
		t.Fatalf("selecting shows %q (visible %v), want %q", p.full.Text, p.selected.Visible(), want)
	}
	if findButton(p.content, "Follow") == nil {
		t.Error("selecting a line does not pause the view")
	}
	p.addLive([]LogLine{line(4, slog.LevelInfo, "a1", "later")})
	if p.sel != 1 || len(p.lines) != 2 {
		t.Errorf("a new line moved the selected one: sel %d, %d lines", p.sel, len(p.lines))
	}
	copyBtn := findButton(p.content, "Copy")
	if copyBtn == nil {
		t.Fatal("no Copy button for the selected line")
	}
	test.Tap(copyBtn)
	if got := fyne.CurrentApp().Clipboard().Content(); got != want {
		t.Errorf("clipboard = %q, want %q", got, want)
	}
	if !hasText(p.content, "Copied the line to the clipboard.") {
		t.Error("no word that the line was copied")
	}
}

func TestLogsRowsShowLevelAccountAndAttrs(t *testing.T) {
	src := newFakeLogs(
		line(1, slog.LevelInfo, "", "warden started"),
		line(2, slog.LevelError, "a2", "Stream Errored (conflict)", "code", "440"),
	)
	p := newTestLogsPane(t, src, "", true)
	for _, text := range []string{"03 Mar 14:30:02.000", "ERROR", "Support", "Stream Errored (conflict)", "code=440", "Warden", "INFO "} {
		if !hasText(p.content, text) {
			t.Errorf("the all-logs rows do not show %q", text)
		}
	}
	// An account's own tab shows no account column.
	p2 := newTestLogsPane(t, src, "a2", false)
	if hasText(p2.content, "Support") {
		t.Error("an account's logs show its name on every row")
	}
}

func TestLogsPaneSwitchesAccounts(t *testing.T) {
	src := newFakeLogs(line(1, slog.LevelInfo, "a1", "one"), line(2, slog.LevelInfo, "a2", "two"))
	p := newTestLogsPane(t, src, "a1", false)
	p.setAccount("a2")
	if got := msgs(p.lines); !slices.Equal(got, []string{"two"}) {
		t.Errorf("after switching to a2, shown %q", got)
	}
	p.addLive([]LogLine{line(3, slog.LevelInfo, "a1", "one again")})
	if got := msgs(p.lines); !slices.Equal(got, []string{"two"}) {
		t.Errorf("a1's live line shows in a2's logs: %q", got)
	}
}

func TestLogsExportTakesHeldLinesAndNamesTheFile(t *testing.T) {
	p := newTestLogsPane(t, newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected")), "a1", false)
	test.Tap(findButton(p.content, "Pause"))
	p.addLive([]LogLine{line(2, slog.LevelInfo, "a1", "held")})
	if got := msgs(p.matching()); !slices.Equal(got, []string{"Connected", "held"}) {
		t.Errorf("export would write %q, want the shown and the held line", got)
	}
	if got, want := p.exportName(), "warden-Sales-desk-20260303-1430.log"; got != want {
		t.Errorf("exportName() = %q, want %q", got, want)
	}
	test.Tap(findButton(p.content, "Export…"))
	if p.win.Canvas().Overlays().Top() == nil {
		t.Error("Export… shows no file dialog")
	}
}

func TestBatchLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		live := make(chan LogLine)
		batches := make(chan []LogLine, 10)
		var done func()
		finished := make(chan struct{})
		go func() {
			batchFeed(ctx, live, logBatchEvery, 3, func(b []LogLine, d func()) {
				done = d
				batches <- b
			})
			close(finished)
		}()
		for i := range 2 {
			live <- line(i, slog.LevelInfo, "", fmt.Sprint(i))
		}
		synctest.Wait()
		if len(batches) != 0 {
			t.Fatal("a batch came before logBatchEvery")
		}
		time.Sleep(logBatchEvery)
		synctest.Wait()
		if got := msgs(<-batches); !slices.Equal(got, []string{"0", "1"}) {
			t.Errorf("first batch %q, want 0 1", got)
		}
		// While the batch is being applied, lines wait; the newest 3 go next.
		for i := 2; i < 7; i++ {
			live <- line(i, slog.LevelInfo, "", fmt.Sprint(i))
		}
		time.Sleep(5 * logBatchEvery)
		synctest.Wait()
		if len(batches) != 0 {
			t.Fatal("a second batch came before the first was applied")
		}
		done()
		time.Sleep(logBatchEvery)
		synctest.Wait()
		if got := msgs(<-batches); !slices.Equal(got, []string{"4", "5", "6"}) {
			t.Errorf("second batch %q, want the newest 4 5 6", got)
		}
		close(live)
		<-finished
		cancel()
	})
}

func TestLogsPaneScrollingBackPauses(t *testing.T) {
	p := newTestLogsPane(t, newFakeLogs(), "a1", false)
	for i := range 100 {
		p.addLive([]LogLine{line(i, slog.LevelInfo, "a1", fmt.Sprint("line ", i))})
	}
	if p.paused {
		t.Fatal("following paused by itself")
	}
	p.list.ScrollToOffset(0) // the operator scrolls to the top
	p.addLive([]LogLine{line(100, slog.LevelInfo, "a1", "line 100")})
	if !p.paused || len(p.lines) != 100 || p.list.GetScrollOffset() != 0 {
		t.Errorf("after scrolling back, a new line: paused %v, %d lines shown, offset %v; want paused at the top with 100",
			p.paused, len(p.lines), p.list.GetScrollOffset())
	}
	if !hasText(p.content, "1 new line") {
		t.Error("no \"1 new line\" hint")
	}
}

// leveledLogs is a source that says at which level Warden logs.
type leveledLogs struct {
	*fakeLogs
	level slog.Level
}

func (l leveledLogs) LogLevel() slog.Level { return l.level }

func TestLogsPaneSaysDebugLinesAreNotRecorded(t *testing.T) {
	p := newTestLogsPane(t, leveledLogs{newFakeLogs(line(1, slog.LevelInfo, "a1", "Connected")), slog.LevelInfo}, "a1", false)
	const hint = "1 line · Warden logs at info level: lines below it, such as whatsmeow's XML at debug, are not recorded"
	if hasText(p.content, hint) {
		t.Error("the hint shows at Info")
	}
	p.levelSelect.SetSelected("Debug")
	if !hasText(p.content, hint) {
		t.Error("at Debug, no word that Warden does not record debug lines")
	}
}

// logsTab returns the detail's Logs tab, failing the test when there is none.
func logsTab(t *testing.T, w *Window) *container.TabItem {
	t.Helper()
	for _, it := range w.detail.tabs.Items {
		if it.Text == "Logs" {
			return it
		}
	}
	t.Fatal("the detail has no Logs tab")
	return nil
}

func TestWindowLogsTabFollowsTheSelection(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	src := newFakeLogs(
		line(1, slog.LevelInfo, "connected", "Connected"),
		line(2, slog.LevelWarn, "waiting", "stream error", "code", "515"),
		line(3, slog.LevelInfo, "", "warden started"),
	)
	w.SetLogSource(src)
	tab := logsTab(t, w)
	selectRow(t, w, "connected")
	if calls := src.Calls(); len(calls) != 0 {
		t.Errorf("the logs were read before the Logs tab was shown: %q", calls)
	}
	w.detail.tabs.Select(tab)
	if !hasText(tab.Content, "Connected") || hasText(tab.Content, "stream error") {
		t.Error("the Logs tab does not show the selected account's lines alone")
	}
	selectRow(t, w, "waiting")
	if !hasText(tab.Content, "stream error") || hasText(tab.Content, "Connected") {
		t.Error("after selecting another account, the Logs tab does not show its lines")
	}
	if got, want := src.Calls(), []string{`History "connected" false INFO ""`, `History "waiting" false INFO ""`}; !slices.Equal(got, want) {
		t.Errorf("reads of the logs: %q, want %q", got, want)
	}
}

func TestWindowAllLogsMenuOpensOneWindow(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	src := newFakeLogs(
		line(1, slog.LevelInfo, "connected", "Connected"),
		line(3, slog.LevelInfo, "", "warden started"),
	)
	w.SetLogSource(src)
	var item *fyne.MenuItem
	for _, m := range w.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Label == "All logs…" && m.Label == "View" {
				item = it
			}
		}
	}
	if item == nil || item.Shortcut != shortcutLogs {
		t.Fatalf("no View › All logs… with Ctrl+L in the main menu (%v)", item)
	}
	before := len(fyne.CurrentApp().Driver().AllWindows())
	item.Action()
	item.Action() // a second time brings the same window forward
	wins := fyne.CurrentApp().Driver().AllWindows()
	if len(wins) != before+1 {
		t.Fatalf("%d windows after All logs… twice, want %d", len(wins), before+1)
	}
	logs := wins[len(wins)-1]
	for _, text := range []string{"Sales desk 1", "Connected", "Warden", "warden started"} {
		if !hasText(logs.Content(), text) {
			t.Errorf("the all-logs window does not show %q", text)
		}
	}
	logs.Close()
	item.Action()
	if n := len(fyne.CurrentApp().Driver().AllWindows()); n != before+1 {
		t.Errorf("after closing it, All logs… leaves %d windows, want %d", n, before+1)
	}
}

func TestLogsExportHeaderSaysWhatAndNamesAccounts(t *testing.T) {
	src := newFakeLogs(
		line(1, slog.LevelWarn, "a1", "stream error 515"),
		line(2, slog.LevelWarn, "", "store slow 515"),
		line(3, slog.LevelError, "a2", "code 515"),
		line(4, slog.LevelWarn, "a1", "again 515"),
	)
	p := newTestLogsPane(t, src, "", true)
	p.levelSelect.SetSelected("Warn")
	test.Type(p.query, "515")
	want := "# Warden logs of every account and Warden itself, warn and above, matching \"515\"; 4 lines, exported 2026-03-03T14:30:00Z\n" +
		"# [a1] is Sales desk\n" +
		"# [a2] is Support\n"
	if got := p.exportHeader(p.matching()); got != want {
		t.Errorf("all-logs export header:\n%s\nwant\n%s", got, want)
	}

	p2 := newTestLogsPane(t, src, "a1", false)
	want = "# Warden logs of Sales desk (a1), info and above; 2 lines, exported 2026-03-03T14:30:00Z\n"
	if got := p2.exportHeader(p2.matching()); got != want {
		t.Errorf("account export header:\n%s\nwant\n%s", got, want)
	}
}

func TestWindowLogsFilterStartsOverForAnotherAccount(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	src := newFakeLogs(
		line(1, slog.LevelInfo, "connected", "Connected"),
		line(2, slog.LevelInfo, "waiting", "dialling"),
	)
	w.SetLogSource(src)
	tab := logsTab(t, w)
	selectRow(t, w, "connected")
	w.detail.tabs.Select(tab)
	p := w.logs.account
	p.levelSelect.SetSelected("Warn")
	p.query.SetText("nothing like this")
	selectRow(t, w, "waiting")
	if p.levelSelect.Selected != "Info" || p.query.Text != "" {
		t.Errorf("the next account opens with level %q and search %q, want Info and none", p.levelSelect.Selected, p.query.Text)
	}
	if !hasText(tab.Content, "dialling") {
		t.Error("the next account's Info line is hidden by the filter chosen for the one before")
	}
	calls := src.Calls()
	if last := calls[len(calls)-1]; last != `History "waiting" false INFO ""` {
		t.Errorf("the next account's lines were read as %s", last)
	}
}
