package history

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"warden/core"
)

// day0 is midnight of the tests' first day.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// at is day0 plus a clock time such as "22:01:03", or "+1 08:00" for the next day.
func at(clock string) time.Time {
	days := 0
	if strings.HasPrefix(clock, "+") {
		fmt.Sscanf(clock, "+%d %s", &days, &clock)
	}
	layout := "15:04"
	if strings.Count(clock, ":") == 2 {
		layout = "15:04:05"
	}
	t, err := time.Parse(layout, clock)
	if err != nil {
		panic(err)
	}
	return day0.AddDate(0, 0, days).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

// ev is one event at clock time, with its attempt when given.
func ev(clock string, from, to core.State, cause string, attempt ...int) core.Event {
	e := core.Event{Account: "a", At: at(clock), From: from, To: to, Cause: cause, Reason: cause + " at " + clock}
	if len(attempt) > 0 {
		e.Attempt = attempt[0]
	}
	return e
}

// seg is a wanted segment, written "Connected 20:00-22:00" or "gap 22:01-+1 08:00".
type seg struct {
	state      core.State
	start, end string
	gap        bool
}

func (s seg) String() string {
	if s.gap {
		return "gap " + s.start + "-" + s.end
	}
	return fmt.Sprintf("%v %s-%s", s.state, s.start, s.end)
}

func segString(s Segment) string {
	clock := func(t time.Time) string {
		d := int(t.Sub(day0) / (24 * time.Hour))
		c := t.Format("15:04:05")
		if d > 0 {
			return fmt.Sprintf("+%d %s", d, c)
		}
		return c
	}
	if s.Gap {
		return "gap " + clock(s.Start) + "-" + clock(s.End)
	}
	return fmt.Sprintf("%v %s-%s", s.State, clock(s.Start), clock(s.End))
}

func wantString(s seg) string {
	norm := func(c string) string {
		t := at(c)
		d := int(t.Sub(day0) / (24 * time.Hour))
		if d > 0 {
			return fmt.Sprintf("+%d %s", d, t.Format("15:04:05"))
		}
		return t.Format("15:04:05")
	}
	if s.gap {
		return "gap " + norm(s.start) + "-" + norm(s.end)
	}
	return fmt.Sprintf("%v %s-%s", s.state, norm(s.start), norm(s.end))
}

// A night: connected in the evening, a drop at 22:00, Warden closed at
// 22:01 while reconnecting, started again at 08:00 and connected at 08:00:03.
func nightWithStop() []core.Event {
	return []core.Event{
		ev("20:00", core.Idle, core.Connecting, core.CauseConnect),
		ev("20:00:01", core.Connecting, core.Connected, "connected"),
		ev("22:00", core.Connected, core.Waiting, "disconnected", 1),
		ev("22:00:03", core.Waiting, core.Connecting, core.CauseTimer, 1),
		ev("22:00:04", core.Connecting, core.Waiting, core.CauseDialFailed, 2),
		ev("22:01", core.Waiting, core.Idle, core.CauseShutdown),
		ev("+1 08:00", core.Idle, core.Waiting, core.CauseStartup),
		ev("+1 08:00:02", core.Waiting, core.Connecting, core.CauseTimer),
		ev("+1 08:00:03", core.Connecting, core.Connected, "connected"),
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name          string
		evs           []core.Event
		from, to, now string
		want          []seg
	}{
		{
			name: "no events: all of it is a gap",
			from: "10:00", to: "11:00", now: "11:00",
			want: []seg{{start: "10:00", end: "11:00", gap: true}},
		},
		{
			name: "before the first event is a gap; the last state lasts until now",
			evs: []core.Event{
				ev("10:10", core.Idle, core.Connecting, core.CauseConnect),
				ev("10:11", core.Connecting, core.Connected, "connected"),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: []seg{
				{start: "10:00", end: "10:10", gap: true},
				{state: core.Connecting, start: "10:10", end: "10:11"},
				{state: core.Connected, start: "10:11", end: "11:00"},
			},
		},
		{
			name: "a window ending after now stops at now",
			evs:  []core.Event{ev("09:00", core.Idle, core.Connected, "connected")},
			from: "10:00", to: "11:00", now: "10:20",
			want: []seg{{state: core.Connected, start: "10:00", end: "10:20"}},
		},
		{
			name: "the state at the window's start comes from earlier events",
			evs: []core.Event{
				ev("08:00", core.Idle, core.Connected, "connected"),
				ev("09:59", core.Connected, core.Waiting, "disconnected", 1),
				ev("10:05", core.Waiting, core.Connecting, core.CauseTimer, 1),
				ev("10:06", core.Connecting, core.Connected, "connected", 1),
				ev("11:30", core.Connected, core.Waiting, "disconnected", 1),
			},
			from: "10:00", to: "11:00", now: "12:00",
			want: []seg{
				{state: core.Waiting, start: "10:00", end: "10:05"},
				{state: core.Connecting, start: "10:05", end: "10:06"},
				{state: core.Connected, start: "10:06", end: "11:00"},
			},
		},
		{
			name: "notes (skipped, stale) begin no segment",
			evs: []core.Event{
				ev("10:00", core.Connected, core.Waiting, "disconnected", 1),
				ev("10:00:01", core.Waiting, core.Waiting, core.CauseSkipped, 1),
				ev("10:00:02", core.Waiting, core.Waiting, core.CauseStale, 1),
				ev("10:00:03", core.Waiting, core.Connecting, core.CauseTimer, 1),
			},
			from: "10:00", to: "10:01", now: "10:01",
			want: []seg{
				{state: core.Waiting, start: "10:00", end: "10:00:03"},
				{state: core.Connecting, start: "10:00:03", end: "10:01"},
			},
		},
		{
			name: "warden stopped then started next day: a gap in between",
			evs:  nightWithStop(),
			from: "20:00", to: "+1 09:00", now: "+1 09:00",
			want: []seg{
				{state: core.Connecting, start: "20:00", end: "20:00:01"},
				{state: core.Connected, start: "20:00:01", end: "22:00"},
				{state: core.Waiting, start: "22:00", end: "22:00:03"},
				{state: core.Connecting, start: "22:00:03", end: "22:00:04"},
				{state: core.Waiting, start: "22:00:04", end: "22:01"},
				{start: "22:01", end: "+1 08:00", gap: true},
				{state: core.Waiting, start: "+1 08:00", end: "+1 08:00:02"},
				{state: core.Connecting, start: "+1 08:00:02", end: "+1 08:00:03"},
				{state: core.Connected, start: "+1 08:00:03", end: "+1 09:00"},
			},
		},
		{
			name: "warden ended without closing: from the last event to the next start is a gap",
			evs: []core.Event{
				ev("20:00", core.Connecting, core.Connected, "connected"),
				ev("+1 08:00", core.Idle, core.Waiting, core.CauseStartup),
				ev("+1 08:00:02", core.Waiting, core.Connecting, core.CauseTimer),
			},
			from: "19:00", to: "+1 09:00", now: "+1 09:00",
			want: []seg{
				{start: "19:00", end: "+1 08:00", gap: true},
				{state: core.Waiting, start: "+1 08:00", end: "+1 08:00:02"},
				{state: core.Connecting, start: "+1 08:00:02", end: "+1 09:00"},
			},
		},
		{
			name: "warden stopped at the end: a gap until now",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:30", core.Connected, core.Idle, core.CauseShutdown),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: []seg{
				{state: core.Connected, start: "10:00", end: "10:30"},
				{start: "10:30", end: "11:00", gap: true},
			},
		},
		{
			name: "a parked account's shutdown note: a gap until its next event",
			evs: []core.Event{
				ev("10:00", core.Connected, core.LoggedOut, "logged out"),
				ev("10:20", core.LoggedOut, core.LoggedOut, core.CauseShutdown),
				ev("10:40", core.LoggedOut, core.Pairing, core.CauseConnect),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: []seg{
				{state: core.LoggedOut, start: "10:00", end: "10:20"},
				{start: "10:20", end: "10:40", gap: true},
				{state: core.Pairing, start: "10:40", end: "11:00"},
			},
		},
		{
			name: "a clock set back never makes segments overlap",
			evs: []core.Event{
				ev("10:10", core.Idle, core.Connecting, core.CauseConnect),
				ev("10:05", core.Connecting, core.Connected, "connected"),
				ev("10:20", core.Connected, core.Waiting, "disconnected", 1),
			},
			from: "10:00", to: "10:30", now: "10:30",
			want: []seg{
				{start: "10:00", end: "10:10", gap: true},
				{state: core.Connected, start: "10:10", end: "10:20"},
				{state: core.Waiting, start: "10:20", end: "10:30"},
			},
		},
		{
			name: "a window entirely in the future is empty",
			evs:  []core.Event{ev("10:00", core.Idle, core.Connected, "connected")},
			from: "12:00", to: "13:00", now: "11:00",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Segments(tt.evs, at(tt.from), at(tt.to), at(tt.now))
			var gs, ws []string
			for _, s := range got {
				gs = append(gs, segString(s))
			}
			for _, s := range tt.want {
				ws = append(ws, wantString(s))
			}
			if strings.Join(gs, "\n") != strings.Join(ws, "\n") {
				t.Errorf("Segments(%s..%s, now %s) =\n  %s\nwant\n  %s", tt.from, tt.to, tt.now,
					strings.Join(gs, "\n  "), strings.Join(ws, "\n  "))
			}
		})
	}
}

func TestSegmentsCarryTheReason(t *testing.T) {
	evs := nightWithStop()
	segs := Segments(evs, at("20:00"), at("+1 09:00"), at("+1 09:00"))
	byStart := map[string]Segment{}
	for _, s := range segs {
		byStart[segString(s)[strings.Index(segString(s), " ")+1:]] = s
	}
	if s := byStart["22:00:00-22:00:03"]; s.Reason != "disconnected at 22:00" || s.Attempt != 1 || s.Cause != "disconnected" {
		t.Errorf("the drop's segment says %q (cause %q, attempt %d), want the drop's reason, cause and attempt 1", s.Reason, s.Cause, s.Attempt)
	}
	if s := byStart["22:01:00-+1 08:00:00"]; s.Reason != ReasonStopped {
		t.Errorf("the night's gap says %q, want %q", s.Reason, ReasonStopped)
	}
}

func TestIsDisconnect(t *testing.T) {
	tests := []struct {
		ev   core.Event
		want bool
	}{
		{ev("10:00", core.Connected, core.Waiting, "disconnected"), true},
		{ev("10:00", core.Connected, core.Replaced, "replaced"), true},
		{ev("10:00", core.Connected, core.Waiting, core.CauseZombie), true},
		{ev("10:00", core.Connected, core.LoggedOut, "logged out"), true}, // the phone unlinked it
		{ev("10:00", core.Connected, core.Banned, "temporary ban"), true},
		{ev("10:00", core.Connected, core.Idle, core.CauseDisconnect), false},
		{ev("10:00", core.Connected, core.LoggedOut, core.CauseLogout), false},
		{ev("10:00", core.Connected, core.Idle, core.CauseShutdown), false},
		{ev("10:00", core.Connecting, core.Waiting, core.CauseDialFailed), false}, // never was connected
		{ev("10:00", core.Connected, core.Connected, "connected"), false},         // a note
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v→%v %s", tt.ev.From, tt.ev.To, tt.ev.Cause), func(t *testing.T) {
			if got := IsDisconnect(tt.ev); got != tt.want {
				t.Errorf("IsDisconnect(%v→%v, %q) = %v, want %v", tt.ev.From, tt.ev.To, tt.ev.Cause, got, tt.want)
			}
		})
	}
}
