package ui

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
	"warden/core/history"
)

// tev is an event of the account "waiting" at t0 + offset.
func tev(offset time.Duration, from, to core.State, cause, reason string, attempt int, delay time.Duration) core.Event {
	return core.Event{Account: "waiting", At: t0.Add(offset), From: from, To: to, Cause: cause, Reason: reason,
		Attempt: attempt, Delay: delay, Epoch: 1}
}

// nightEvents is a day of the account "waiting", up to t0 (14:30): connected
// in the afternoon, a drop at 22:30 while Warden was closed a minute later,
// started at 08:00, a conflict at 12:30 taken back, and a zombie drop at
// 14:10 with its reconnection (one skipped request and one stale event).
func nightEvents() []core.Event {
	h, m, s := time.Hour, time.Minute, time.Second
	evs := []core.Event{
		tev(-23*h, core.Idle, core.Connecting, core.CauseConnect, "connecting", 0, 0),
		tev(-23*h+s, core.Connecting, core.Connected, "connected", "", 0, 0),
		tev(-16*h, core.Connected, core.Waiting, "disconnected", "the connection was closed by WhatsApp (stream error 515)", 1, 3*s),
		tev(-16*h+3*s, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting (attempt 1)", 1, 0),
		tev(-16*h+4*s, core.Connecting, core.Waiting, core.CauseDialFailed, "could not connect: no route to host", 2, 5*s),
		tev(-16*h+60*s, core.Waiting, core.Idle, core.CauseShutdown, "Warden was closed", 0, 0),
		tev(-6*h-30*m, core.Idle, core.Waiting, core.CauseStartup, "starting", 0, 0),
		tev(-6*h-30*m+2*s, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting", 0, 0),
		tev(-6*h-30*m+3*s, core.Connecting, core.Connected, "connected", "", 0, 0),
		tev(-2*h, core.Connected, core.Replaced, "replaced", "another client took this account at 12:30: taking it back once in 30s", 0, 30*s),
		tev(-2*h+30*s, core.Replaced, core.Connecting, core.CauseTimer, "taking the account back from the other client", 0, 0),
		tev(-2*h+31*s, core.Connecting, core.Connected, "connected", "", 0, 0),
		tev(-20*m, core.Connected, core.Waiting, core.CauseZombie, "WhatsApp did not answer keepalives for 3m0s: reconnecting", 1, 3200*time.Millisecond),
		tev(-20*m+2*s, core.Waiting, core.Waiting, core.CauseSkipped, "a connection attempt is already running", 1, 0),
		tev(-20*m+3*s, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting (attempt 1)", 1, 0),
		tev(-20*m+3*s+500*time.Millisecond, core.Connecting, core.Connecting, core.CauseStale, `late "disconnected" from session #11 ignored (current session #12)`, 1, 0),
		tev(-20*m+4*s, core.Connecting, core.Connected, "connected", "", 1, 0),
	}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	return evs
}

// flapEvents is an hour of an account that drops every 5 minutes and needs
// two or three attempts each time.
func flapEvents() []core.Event {
	var evs []core.Event
	for i := range 12 {
		at := -time.Hour + time.Duration(i)*5*time.Minute
		evs = append(evs,
			tev(at, core.Connected, core.Waiting, "disconnected", "the connection was lost", 1, 3*time.Second),
			tev(at+3*time.Second, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting (attempt 1)", 1, 0),
			tev(at+5*time.Second, core.Connecting, core.Waiting, core.CauseDialFailed, "could not connect: timeout", 2, 5*time.Second),
			tev(at+10*time.Second, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting (attempt 2)", 2, 0),
		)
		if i%3 == 0 {
			evs = append(evs,
				tev(at+15*time.Second, core.Connecting, core.Waiting, core.CauseDialFailed, "could not connect: timeout", 3, 5*time.Second),
				tev(at+20*time.Second, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting (attempt 3)", 3, 0),
				tev(at+80*time.Second, core.Connecting, core.Connected, "connected", "", 3, 0))
		} else {
			evs = append(evs, tev(at+12*time.Second, core.Connecting, core.Connected, "connected", "", 2, 0))
		}
	}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	return evs
}

// weekEvents is a week with a night of Warden closed and a day it crashed.
func weekEvents() []core.Event {
	d := 24 * time.Hour
	evs := []core.Event{
		tev(-7*d+2*time.Hour, core.Idle, core.Connecting, core.CauseConnect, "connecting", 0, 0),
		tev(-7*d+2*time.Hour+time.Second, core.Connecting, core.Connected, "connected", "", 0, 0),
		tev(-5*d, core.Connected, core.Idle, core.CauseShutdown, "Warden was closed", 0, 0),
		tev(-4*d-12*time.Hour, core.Idle, core.Waiting, core.CauseStartup, "starting", 0, 0),
		tev(-4*d-12*time.Hour+time.Second, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting", 0, 0),
		tev(-4*d-12*time.Hour+2*time.Second, core.Connecting, core.Connected, "connected", "", 0, 0),
		tev(-3*d, core.Connected, core.LoggedOut, "logged out", "the phone unlinked this device: pair again", 0, 0),
		tev(-2*d-4*time.Hour, core.LoggedOut, core.Pairing, core.CauseConnect, "pairing again", 0, 0),
		tev(-2*d-4*time.Hour+time.Minute, core.Pairing, core.Connecting, "pair success", "paired: logging in", 0, 0),
		tev(-2*d-4*time.Hour+time.Minute+time.Second, core.Connecting, core.Connected, "connected", "", 0, 0),
		// Warden crashed some time after this, and came back a day later.
		tev(-d-6*time.Hour, core.Idle, core.Waiting, core.CauseStartup, "starting", 0, 0),
		tev(-d-6*time.Hour+time.Second, core.Waiting, core.Connecting, core.CauseTimer, "reconnecting", 0, 0),
		tev(-d-6*time.Hour+2*time.Second, core.Connecting, core.Connected, "connected", "", 0, 0),
	}
	for i := range evs {
		evs[i].Seq = uint64(i + 1)
	}
	return evs
}

// bandFor builds a band showing evs over span, ending at t0.
func bandFor(evs []core.Event, span timeSpan) *timelineBand {
	b := newTimelineBand()
	from := t0.Add(-span.Length())
	b.set(history.Segments(evs, from, t0, t0), marksOf(evs, from, t0), from, t0, t0, span)
	return b
}

// TestTimelineBandImages renders the band for known sequences, one per
// window, in one fixed size.
func TestTimelineBandImages(t *testing.T) {
	for _, tt := range []struct {
		file  string
		evs   []core.Event
		span  timeSpan
		hover float32 // 0: no pointer
	}{
		{"timeline_band_24h.png", nightEvents(), span24h, 0},
		{"timeline_band_24h_gap_tip.png", nightEvents(), span24h, 240},
		{"timeline_band_1h_flapping.png", flapEvents(), span1h, 0},
		{"timeline_band_1h_tip.png", flapEvents(), span1h, 330},
		{"timeline_band_7d.png", weekEvents(), span7d, 0},
	} {
		t.Run(tt.file, func(t *testing.T) {
			test.NewTempApp(t)
			test.ApplyTheme(t, theme.LightTheme())
			b := bandFor(tt.evs, tt.span)
			// The tip floats above the band: leave it room.
			room := tipHeight() + 2
			win := test.NewTempWindow(t, container.New(layout.NewCustomPaddedLayout(room, 0, 0, 0), b))
			win.SetPadded(false)
			win.Resize(fyne.NewSize(640, room+b.MinSize().Height))
			if tt.hover > 0 {
				test.MoveMouse(win.Canvas(), fyne.NewPos(tt.hover, room+markRow+4))
			}
			test.AssertRendersToImage(t, tt.file, win.Canvas())
		})
	}
}

func TestTimelineBandTipTellsStateStartDurationAndReason(t *testing.T) {
	test.NewTempApp(t)
	b := bandFor(nightEvents(), span24h)
	win := test.NewTempWindow(t, b)
	win.SetPadded(false)
	win.Resize(fyne.NewSize(720, b.MinSize().Height))
	r := test.WidgetRenderer(b).(*bandRenderer)
	for _, tt := range []struct {
		at         time.Time
		head, body string
	}{
		// 17:30 the day before: connected since 15:30:01.
		{t0.Add(-21 * time.Hour), "Connected · 2 Mar 15:30 – 2 Mar 22:30 · 7h 00m", "connected"}, // 6h 59m 59s,
		// 03:00: Warden was closed from 22:31 to 08:00.
		{t0.Add(-11*time.Hour - 30*time.Minute), "Warden not running · 2 Mar 22:31 – 08:00 · 9h 29m",
			`between "warden stopped" and the next start: neither uptime nor downtime`},
		// 12:30: the conflict; its marker is under the pointer.
		{t0.Add(-2*time.Hour + 10*time.Second), "Replaced · 12:30:00 – 12:30:30 · 30 s",
			"1 disconnect, 1 reconnect attempt · replaced: another client took this account at 12:30: taking it back once in 30s"},
	} {
		x := float32(float64(tt.at.Sub(t0.Add(-24*time.Hour))) / float64(24*time.Hour) * 720)
		test.MoveMouse(win.Canvas(), fyne.NewPos(x, r.bandTop()+4))
		if r.tipHead.Text != tt.head || r.tipBody.Text != tt.body {
			t.Errorf("pointing at %s shows\n  %q\n  %q\nwant\n  %q\n  %q", tt.at.Format("15:04:05"), r.tipHead.Text, r.tipBody.Text, tt.head, tt.body)
		}
		if !hasText(b, tt.head) {
			t.Errorf("pointing at %s: the tip is not on screen", tt.at.Format("15:04:05"))
		}
	}
	test.MoveMouse(win.Canvas(), fyne.NewPos(10, 300)) // away
	if hasText(b, r.tipHead.Text) {
		t.Error("the tip stays after the pointer left the band")
	}

	test.TapAt(b, fyne.NewPos(700, r.bandTop()+4)) // 13:50: connected since 12:30:31
	if want := "Connected · 12:30 – 14:10 · 1h 39m"; r.tipHead.Text != want {
		t.Errorf("tapping at 14:00 shows %q, want %q", r.tipHead.Text, want)
	}
}

func TestBandRunsNeverOutnumberPixels(t *testing.T) {
	const width = 600
	from := t0.Add(-time.Hour)
	var segs []history.Segment
	for i := range 10_000 { // a state change every 0.36 s
		start := from.Add(time.Duration(i) * 360 * time.Millisecond)
		segs = append(segs, history.Segment{State: core.States[i%3+2], Start: start, End: start.Add(360 * time.Millisecond)})
	}
	runs := bandRuns(segs, from, t0, width)
	if len(runs) > width {
		t.Fatalf("%d segments on a %d-pixel band make %d runs, want at most %d", len(segs), width, len(runs), width)
	}
	x := float32(0)
	for _, r := range runs {
		if r.x0 != x {
			t.Fatalf("the band has a hole or an overlap at x=%v (next run starts at %v)", x, r.x0)
		}
		x = r.x1
	}
	if x != width {
		t.Errorf("the runs end at %v, want the band's width %d", x, width)
	}
}

func TestTimeSpanTicks(t *testing.T) {
	for _, tt := range []struct {
		span  timeSpan
		from  time.Time
		first string
		n     int
	}{
		{span1h, time.Date(2026, 3, 3, 14, 3, 0, 0, time.UTC), "14:10", 6},                        // every 10 min
		{span24h, time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC), "16:00", 12},                     // every 2 h
		{span7d, time.Date(2026, 2, 24, 14, 30, 0, 0, time.UTC), "Wed 25", 7},                     // every midnight
		{span24h, time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC), "14:00", 13},                      // on a tick: both ends count
		{span1h, time.Date(2026, 3, 3, 23, 55, 0, 0, time.UTC), "00:00", 6},                       // over midnight
		{span7d, time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC), "Fri 27", 7},                      // plain week
		{span24h, time.Date(2026, 3, 2, 14, 30, 0, 0, time.FixedZone("IST", 19800)), "16:00", 12}, // a half-hour zone
	} {
		to := tt.from.Add(tt.span.Length())
		ticks := tt.span.ticks(tt.from, to, tt.from.Location())
		if len(ticks) != tt.n || len(ticks) == 0 || ticks[0].Format(spanInfo[tt.span].format) != tt.first {
			var got []string
			for _, tk := range ticks {
				got = append(got, tk.Format(spanInfo[tt.span].format))
			}
			t.Errorf("%v ticks from %s: %v, want %d starting %s", tt.span, tt.from.Format(time.RFC3339), got, tt.n, tt.first)
		}
	}
}

func TestExportCSV(t *testing.T) {
	var buf bytes.Buffer
	evs := nightEvents()
	if err := exportCSV(&buf, evs); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v", err)
	}
	if len(recs) != len(evs)+1 {
		t.Fatalf("%d records, want a header and %d events", len(recs), len(evs))
	}
	if got := strings.Join(recs[0], ","); got != "seq,time,from,to,cause,reason,attempt,delay_s,epoch,message_id" {
		t.Errorf("header %q", got)
	}
	// The zombie drop: a reason with a colon, a fractional delay.
	want := "13,2026-03-03T14:10:00.000Z,Connected,Waiting,keepalive timeout,WhatsApp did not answer keepalives for 3m0s: reconnecting,1,3.200,1,"
	if got := strings.Join(recs[13], ","); got != want {
		t.Errorf("row 13:\n  %s\nwant\n  %s", got, want)
	}
	// A reason with quotes and a comma survives the round trip.
	if got := recs[16][5]; got != `late "disconnected" from session #11 ignored (current session #12)` {
		t.Errorf("the stale event's reason reads back as %q", got)
	}
}

func TestExportJSON(t *testing.T) {
	var buf bytes.Buffer
	evs := nightEvents()
	if err := exportJSON(&buf, evs); err != nil {
		t.Fatal(err)
	}
	var got []exportEvent
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("the export is not valid JSON: %v\n%s", err, buf.String())
	}
	if len(got) != len(evs) {
		t.Fatalf("%d events, want %d", len(got), len(evs))
	}
	want := exportEvent{Seq: 13, Account: "waiting", Time: "2026-03-03T14:10:00.000Z", From: "Connected", To: "Waiting",
		Cause: core.CauseZombie, Reason: "WhatsApp did not answer keepalives for 3m0s: reconnecting", Attempt: 1, DelayS: 3.2, Epoch: 1}
	if got[12] != want {
		t.Errorf("event 13 exports as\n  %+v\nwant\n  %+v", got[12], want)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != len(evs)+2 {
		t.Errorf("the export has %d lines, want one per event and one per bracket", lines)
	}

	buf.Reset()
	if err := exportJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[\n]" {
		t.Errorf("an empty timeline exports as %q (%v), want an empty array", buf.String(), err)
	}
}

func TestExportFileName(t *testing.T) {
	for name, want := range map[string]string{
		"Sales desk 1":   "sales-desk-1-timeline-2026-03-03.csv",
		"  Ünïcode/..  ": "n-code-timeline-2026-03-03.csv",
		"":               "account-timeline-2026-03-03.csv",
	} {
		if got := exportFileName(core.Account{Name: name}, "csv", t0); got != want {
			t.Errorf("exportFileName(%q) = %q, want %q", name, got, want)
		}
	}
}

// openTimeline selects id in a test window holding evs and shows its
// Timeline tab.
func openTimeline(t testing.TB, evs []core.Event) (*Window, *fakeController, *timelineTab) {
	t.Helper()
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.events = evs
	w.list.list.Select(w.list.index["waiting"])
	tl := w.detail.timeline
	for _, item := range w.detail.tabs.Items {
		if item.Text == "Timeline" {
			w.detail.tabs.Select(item)
		}
	}
	if !tl.shown {
		t.Fatal("the Timeline tab is not shown after selecting it")
	}
	return w, ctl, tl
}

// listTexts returns the first line of every row of the list on screen.
func listTexts(tl *timelineTab) []string {
	var out []string
	for i := range tl.rows() {
		r := newEventRow()
		tl.updateRow(i, r)
		out = append(out, strings.Join([]string{r.when.Text, r.change.Text, r.cause.Text, r.extra.Text}, " | "))
	}
	return out
}

func TestTimelineTabShowsEventsNewestFirstWithTheGuard(t *testing.T) {
	_, _, tl := openTimeline(t, nightEvents())
	rows := listTexts(tl)
	want := []string{
		"14:10:04 | Connecting ⟶ Connected | connected | attempt 1",
		"14:10:03 | Connecting (no change) | stale event dropped | attempt 1",
		"14:10:03 | Reconnecting ⟶ Connecting | timer | attempt 1",
		"14:10:02 | Reconnecting (no change) | already reconnecting, skipped | attempt 1",
		"14:10:00 | Connected ⟶ Reconnecting | keepalive timeout | attempt 1 · retry in 3.2 s",
	}
	if len(rows) != 17 {
		t.Errorf("the 24 h list has %d rows, want all 17 events", len(rows))
	}
	for i, w := range want {
		if i >= len(rows) || rows[i] != w {
			t.Errorf("row %d = %q, want %q", i, rows[i], w)
		}
	}
	// The guard's notes stand out in the warning colour, the drop in red.
	for i, imp := range map[int]widget.Importance{1: widget.WarningImportance, 3: widget.WarningImportance} {
		r := newEventRow()
		tl.updateRow(i, r)
		if r.cause.Importance != imp {
			t.Errorf("row %d (%s): cause importance %v, want the warning colour", i, r.cause.Text, r.cause.Importance)
		}
	}
	r := newEventRow()
	tl.updateRow(4, r)
	if r.change.Importance != widget.DangerImportance {
		t.Errorf("the disconnect's change is not in the error colour")
	}
	if r.reason.String() != "WhatsApp did not answer keepalives for 3m0s: reconnecting" {
		t.Errorf("the disconnect's reason reads %q", r.reason.String())
	}
}

// statLine returns the statistics as "Name value (note)".
func statLine(tl *timelineTab) []string {
	var out []string
	for _, name := range statNames {
		out = append(out, fmt.Sprintf("%s %s (%s)", name, tl.values[name].Text, tl.notes[name].String()))
	}
	return out
}

func TestTimelineTabStatistics(t *testing.T) {
	_, _, tl := openTimeline(t, nightEvents())
	// 24 h from 14:30 the day before: Warden watched 24 h less the hour
	// before the first event and the night (22:31 to 08:00), 13h 31m; the
	// account was connected all that time but 99 s: its first connect (1 s),
	// the night's drop (60 s before Warden closed, 3 s after it started),
	// the conflict (31 s) and the zombie drop (4 s).
	want := []string{
		"Uptime 99.79 % (uptime · 13h 31m watched)",
		"Disconnects 3 (disconnects · 5.3 per 24 h)",
		"Time to recover 31 s (to recover (median), worst 1m 03s)",
		"Conflicts 1 (conflict)",
		"Guard 1 · 1 (skipped · stale dropped)",
		"Attempt — (current attempt (4 in the window))",
	}
	if got := statLine(tl); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("24 h statistics:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}

	tl.picker.SetSelected("1 h")
	want = []string{
		"Uptime 99.88 % (uptime · 1h 00m watched)", // 4 s down
		"Disconnects 1 (disconnect · 24.0 per 24 h)",
		"Time to recover 4 s (to recover)",
		"Conflicts 0 (conflicts)",
		"Guard 1 · 1 (skipped · stale dropped)",
		"Attempt — (current attempt (1 in the window))",
	}
	if got := statLine(tl); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("1 h statistics:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if n := tl.rows(); n != 5 {
		t.Errorf("the 1 h list has %d rows, want the 5 events of the zombie drop", n)
	}
	if got := tl.count.String(); got != "5 events in the last 1 h, newest first" {
		t.Errorf("the list's caption reads %q", got)
	}
}

func TestTimelineTabFollowsLiveEvents(t *testing.T) {
	_, ctl, tl := openTimeline(t, nightEvents())
	events, cancel := ctl.SubscribeEvents()
	defer cancel()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// Fyne's thread is this test's goroutine: follow hands it its batches.
	batches := make(chan func())
	go tl.follow(ctx, events, func(f func()) { batches <- f })

	before := tl.rows()
	late := tev(-30*time.Second, core.Connected, core.Waiting, "disconnected", "the connection was lost", 1, 3*time.Second)
	late.Seq = 18
	other := late
	other.Account, other.Seq = "connected", 99
	dup := nightEvents()[16] // already loaded
	ctl.emit(dup, other, late)
	(<-batches)()

	rows := listTexts(tl)
	if len(rows) != before+1 || rows[0] != "14:29:30 | Connected ⟶ Reconnecting | disconnected | attempt 1 · retry in 3.0 s" {
		t.Fatalf("after a live drop the list has %d rows (was %d), the newest %q", len(rows), before, rows[0])
	}
	if got := tl.values["Disconnects"].Text; got != "4" {
		t.Errorf("the live drop is not counted: %s disconnects", got)
	}
	if got := tl.notes["Time to recover"].String(); got != "to recover (median), worst 1m 03s · down for 30 s now" {
		t.Errorf("the time to recover says %q while the account is down", got)
	}
}

func TestTimelineTabLoadsOnlyWhenShownAndPerAccount(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.events = append(nightEvents(), core.Event{Seq: 1, Account: "connected", At: t0.Add(-time.Minute), From: core.Connecting, To: core.Connected, Cause: "connected"})
	w.list.list.Select(w.list.index["waiting"])
	tl := w.detail.timeline
	if tl.loaded || tl.loading {
		t.Fatal("the timeline loaded while the Overview tab was shown")
	}
	w.detail.tabs.SelectIndex(1)
	if !tl.loaded || tl.rows() != 17 {
		t.Fatalf("showing the Timeline tab loaded %d rows (loaded %v), want 17", tl.rows(), tl.loaded)
	}
	w.list.list.Select(w.list.index["connected"])
	if tl.rows() != 1 || listTexts(tl)[0] != "14:29:00 | Connecting ⟶ Connected | connected | " {
		t.Errorf("another account's timeline shows %v", listTexts(tl))
	}
	// Leaving the tab keeps the events and follows new ones; coming back
	// loads nothing again.
	w.detail.tabs.SelectIndex(0)
	if tl.shown || tl.watched.Load().(core.AccountID) != "connected" {
		t.Fatal("the timeline stops following its account when its tab is left")
	}
	late := core.Event{Seq: 2, Account: "connected", At: t0, From: core.Connected, To: core.Waiting, Cause: "disconnected", Attempt: 1}
	ctl.mu.Lock()
	ctl.events = nil // a reload would find nothing
	ctl.mu.Unlock()
	tl.addLive([]core.Event{late})
	w.detail.tabs.SelectIndex(1)
	if rows := listTexts(tl); len(rows) != 2 || rows[0] != "14:30:00 | Connected ⟶ Reconnecting | disconnected | attempt 1" {
		t.Errorf("back on the tab the list shows %q, want the kept event and the one that came meanwhile", rows)
	}
}

func TestTimelineTabSaysWhenItCannotLoad(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	ctl.errs["Events"] = errors.New("the store is closed")
	w.list.list.Select(w.list.index["waiting"])
	w.detail.tabs.SelectIndex(1)
	tl := w.detail.timeline
	if got := tl.count.String(); !strings.HasPrefix(got, "Could not load the timeline") {
		t.Errorf("a failed load says %q", got)
	}
	if tl.watched.Load().(core.AccountID) != "" || !tl.csv.Disabled() {
		t.Error("after a failed load the tab follows events or offers an export")
	}
}

func TestTimelineTabExportButtonsNeedEvents(t *testing.T) {
	_, _, tl := openTimeline(t, nil)
	if !tl.csv.Disabled() || !tl.json.Disabled() {
		t.Error("the export buttons are enabled for an empty timeline")
	}
	if got := tl.count.String(); got != "No events in the last 24 h." {
		t.Errorf("an empty timeline says %q", got)
	}
	if got := tl.values["Uptime"].Text; got != "—" {
		t.Errorf("an empty timeline shows uptime %q", got)
	}
}

// TestTimelineTabImage renders the window with the Timeline tab, for a
// reviewer's eye, and its markup.
func TestTimelineTabImage(t *testing.T) {
	w, _, _ := openTimeline(t, nightEvents())
	test.ApplyTheme(t, theme.LightTheme())
	w.win.Resize(fyne.NewSize(1120, 720))
	test.AssertRendersToImage(t, "window_light_timeline.png", w.win.Canvas())
	test.AssertObjectRendersToMarkup(t, "timeline_tab.xml", w.detail.timeline.content)
}

// manyEvents is a week of a flapping account: n events, oldest first.
func manyEvents(n int) []core.Event {
	evs := make([]core.Event, 0, n)
	start := t0.Add(-7 * 24 * time.Hour)
	step := 7 * 24 * time.Hour / time.Duration(n)
	cycle := []struct {
		from, to core.State
		cause    string
	}{
		{core.Connected, core.Waiting, "disconnected"},
		{core.Waiting, core.Connecting, core.CauseTimer},
		{core.Connecting, core.Waiting, core.CauseDialFailed},
		{core.Waiting, core.Waiting, core.CauseSkipped},
		{core.Waiting, core.Connecting, core.CauseTimer},
		{core.Connecting, core.Connected, "connected"},
	}
	for i := range n {
		c := cycle[i%len(cycle)]
		evs = append(evs, core.Event{Seq: uint64(i + 1), Account: "waiting", At: start.Add(time.Duration(i) * step),
			From: c.from, To: c.to, Cause: c.cause, Reason: "the connection was lost", Attempt: 1 + i%3, Epoch: uint64(i / 6)})
	}
	return evs
}

// bandObjects counts the canvas objects the band draws.
func bandObjects(tl *timelineTab) int { return len(test.WidgetRenderer(tl.band).Objects()) }

func TestTimelineBuildsOnlyWhatIsVisible(t *testing.T) {
	evs := manyEvents(100_000)
	w, _, tl := openTimeline(t, evs)
	w.win.Resize(fyne.NewSize(1120, 720))
	tl.picker.SetSelected("7 d")
	if tl.rows() != len(evs) {
		t.Fatalf("the 7 d list holds %d rows, want all %d events", tl.rows(), len(evs))
	}
	if tl.rowsMade > 40 {
		t.Errorf("the list built %d rows for %d events, want only those on screen", tl.rowsMade, len(evs))
	}
	// One object per pixel column at most for the states, and as many for
	// the markers of each kind; the 16,667 disconnects and 33,333 attempts
	// of the week must not become objects of their own.
	width := int(tl.band.Size().Width)
	if n := bandObjects(tl); n > 4*width+64 {
		t.Errorf("the band draws %d objects on %d pixels for %d events", n, width, len(evs))
	}
}

// BenchmarkTimelineOpen opens the Timeline tab of an account with 100,000
// events (a week of a flapping account): loading them from the controller,
// the segments, statistics and markers of the 24 h window, and the first
// layout of the band and the list, each time the account is selected with
// its Timeline tab on screen. It reports the rows the list built and
// the objects the band draws: only what is visible.
func BenchmarkTimelineOpen(b *testing.B) {
	evs := manyEvents(100_000)
	w, ctl := newTestWindow(b, sampleStatuses()...)
	ctl.events = evs
	w.win.Resize(fyne.NewSize(1120, 720))
	w.list.list.Select(w.list.index["waiting"])
	tl := w.detail.timeline
	w.detail.tabs.SelectIndex(1)
	tl.rowsMade = 0
	b.ResetTimer()
	for range b.N {
		// Another account (no events), then this one: its Timeline loads
		// and builds from scratch.
		w.list.list.Select(w.list.index["idle"])
		w.list.list.Select(w.list.index["waiting"])
		if tl.rows() == 0 {
			b.Fatal("nothing loaded")
		}
		tl.content.Refresh()
	}
	b.ReportMetric(float64(tl.rowsMade)/float64(b.N), "rows-built/op")
	b.ReportMetric(float64(bandObjects(tl)), "band-objects")
}

func TestTimelineTabFitsANarrowPane(t *testing.T) {
	_, _, tl := openTimeline(t, nightEvents())
	// The detail pane of a 640-pixel window is about 400 wide: the tab must
	// wrap its statistics and legend rather than push the list aside.
	if w := tl.content.MinSize().Width; w > 400 {
		t.Errorf("the Timeline tab needs %v pixels of width, want at most 400", w)
	}
	tl.content.Resize(fyne.NewSize(400, 700))
	stats := tl.body.Objects[1]
	band := tl.body.Objects[2]
	if stats.Position().Y+stats.Size().Height > band.Position().Y {
		t.Errorf("the wrapped statistics (%v high) run into the band at y=%v", stats.Size().Height, band.Position().Y)
	}
	if stats.Size().Height < 3*tl.values["Uptime"].MinSize().Height {
		t.Errorf("at 400 pixels the statistics take %v, want them wrapped over at least three rows", stats.Size().Height)
	}
}

func TestTimelineTabFollowsTheClock(t *testing.T) {
	test.NewTempApp(t)
	now := t0
	ctl := newFakeController(sampleStatuses()...)
	ctl.events = nightEvents()
	tl := newTimelineTab(ctl, context.Background(), func() time.Time { return now },
		func(work func() func()) { work()() }, func() fyne.Window { return nil })
	tl.setAccount(statusOf(t, "waiting").Account)
	tl.setShown(true)
	tl.picker.SetSelected("1 h")
	if got := tl.notes["Uptime"].String(); got != "uptime · 1h 00m watched" {
		t.Fatalf("uptime note %q", got)
	}
	// At 15:15 the zombie drop of 14:10 has left the 1 h window.
	now = t0.Add(45 * time.Minute)
	tl.tick(now)
	if got := tl.values["Disconnects"].Text; got != "0" {
		t.Errorf("45 minutes later the 1 h window still counts %s disconnects, want the 14:10 drop gone", got)
	}
	if tl.rows() != 0 {
		t.Errorf("45 minutes later the 1 h list holds %d events, want none", tl.rows())
	}
}

func TestTimelineRowOpensTheWholeEvent(t *testing.T) {
	w, _, tl := openTimeline(t, nightEvents())
	tl.list.Select(1) // the stale event dropped, whose reason the row may cut short
	top := w.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("selecting a row opens no dialog")
	}
	for _, want := range []string{
		"Tue 3 Mar 2026 14:10:03.500",
		"Connecting (no change: a note)",
		core.CauseStale,
		`late "disconnected" from session #11 ignored (current session #12)`,
		"#16",
	} {
		if !hasText(top, want) {
			t.Errorf("the event's dialog does not say %q", want)
		}
	}
	if tl.list.Length() > 0 && tl.rowsMade > 0 {
		// The row does not stay selected: the next tap on it opens it again.
		tl.list.Select(1)
		if w.win.Canvas().Overlays().Top() == top {
			t.Error("tapping the same row again opens nothing")
		}
	}
}

// reconnectEvents is n reconnects of the waiting account, a minute apart, the
// newest a minute before t0.
func reconnectEvents(n int) []core.Event {
	var evs []core.Event
	for i := range n {
		evs = append(evs, tev(-time.Duration(n-i)*time.Minute, core.Connected, core.Waiting, "keepalive timeout", "", 1, 3*time.Second))
	}
	return evs
}

// listInView returns the part of the list's height inside the tab's
// scrolling page as it is scrolled now.
func listInView(tl *timelineTab) float32 {
	area := tl.body.Objects[len(tl.body.Objects)-1]
	top := area.Position().Y - tl.page.Offset.Y
	bottom := top + area.Size().Height
	return max(min(bottom, tl.page.Size().Height)-max(top, 0), 0)
}

func TestTimelineListKeepsSixRowsInAShortWindow(t *testing.T) {
	w, _, tl := openTimeline(t, reconnectEvents(32))
	w.fleet.show(history.FleetAlert{Accounts: []core.AccountID{"connected", "waiting"}, At: t0}, time.UTC)
	w.win.Resize(fyne.NewSize(1024, 600))
	rowH := newEventRow().MinSize().Height
	if tl.rows() != 32 {
		t.Fatalf("the list holds %d events, want 32", tl.rows())
	}
	if tl.page.Size().Height <= 0 || tl.page.Size().Height > 300 {
		t.Fatalf("at 1024×600 with the banner the tab is %v high: not the short window this test is about", tl.page.Size().Height)
	}
	if h := tl.list.Size().Height; h < 6*rowH {
		t.Fatalf("at 1024×600 with the banner the event list is %v high, want room for 6 rows of %v", h, rowH)
	}

	// The wheel over the list first brings the whole list into view...
	chain := tl.body.Objects[len(tl.body.Objects)-1].(*fyne.Container).Objects[1].(*wheelChain)
	for range 20 {
		chain.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: -40}})
	}
	if got := listInView(tl); got < 6*rowH {
		t.Errorf("scrolled down, %v of the list is in view, want at least 6 rows (%v)", got, 6*rowH)
	}
	// ...then scrolls the list down to its oldest events.
	if tl.list.GetScrollOffset() <= 0 {
		t.Error("the wheel never scrolled the list itself: its older events cannot be reached")
	}
	// Back up: the list returns to its top, then the page to the statistics.
	for range 200 {
		chain.Scrolled(&fyne.ScrollEvent{Scrolled: fyne.Delta{DY: 40}})
	}
	if tl.list.GetScrollOffset() != 0 || tl.page.Offset.Y != 0 {
		t.Errorf("scrolled back up, the list is at %v and the page at %v, want both at the top", tl.list.GetScrollOffset(), tl.page.Offset.Y)
	}
}

func TestTimelineListFillsATallWindowWithoutScrolling(t *testing.T) {
	w, _, tl := openTimeline(t, reconnectEvents(32))
	w.win.Resize(fyne.NewSize(1440, 900))
	if got, want := tl.body.Size().Height, tl.page.Size().Height; got != want {
		t.Errorf("at 1440×900 the tab's content is %v high in a page of %v: it should fit without scrolling", got, want)
	}
	area := tl.body.Objects[len(tl.body.Objects)-1]
	if bottom := area.Position().Y + area.Size().Height; bottom < tl.page.Size().Height-1 {
		t.Errorf("the list ends at %v, above the tab's bottom at %v: it should take the rest", bottom, tl.page.Size().Height)
	}
	if h := tl.list.Size().Height; h < 6*newEventRow().MinSize().Height {
		t.Errorf("at 1440×900 the list is %v high", h)
	}
}

// Figures that come after the tab was laid out (the load, a live event) may
// wrap the statistics into more rows: the tab lays them out again rather
// than hide the last ones behind the band.
func TestTimelineStatisticsGetTheRowsTheirFiguresNeed(t *testing.T) {
	_, _, tl := openTimeline(t, nightEvents())
	stats := tl.body.Objects[1].(*fyne.Container)
	need := stats.Layout.(*flowLayout).height(stats.Objects, stats.Size().Width)
	if got := stats.Size().Height; got < need {
		t.Errorf("the statistics are %v high, their figures need %v: the last ones are hidden", got, need)
	}
	band := tl.body.Objects[2]
	if stats.Position().Y+need > band.Position().Y {
		t.Errorf("the statistics run into the band at y=%v", band.Position().Y)
	}
}
