// Package history reads an account's timeline (its core.Events) back as what
// an operator asks about: which state the account was in and when, when Warden
// was not running, and how often and how fast it recovered.
//
// It is pure: no I/O, no clock. Every function takes the events (oldest first,
// as core.Manager.Events returns them) and the instants it needs.
//
// # Gaps
//
// The timeline only knows what Warden saw. The time between two consecutive
// events is a gap, when Warden was not watching, if
//   - the first is a "warden stopped" event (core.CauseShutdown): Warden was
//     closed and the next event is the first one after it came back; or
//   - the second is a "warden started" event (core.CauseStartup) that follows
//     no "warden stopped": Warden ended without closing (a crash, a power
//     loss), at an unknown time after the last event it wrote.
//
// The time before the first event is a gap too (there is no record), and so
// is the time after a final "warden stopped". An account that was not running
// when Warden closed is not started again, so it has no "warden started"
// event: its gap lasts until its next event. Gaps are neither uptime nor
// downtime, and not recovery time.
package history

import (
	"sort"
	"time"

	"warden/core"
)

// Segment is a stretch of time the account spent in one state, or a gap.
type Segment struct {
	State      core.State // the state; in a gap, the last state Warden recorded
	Start, End time.Time
	// Reason is the reason of the event that began the segment, or for a
	// gap what is known about it.
	Reason string
	// Cause is the cause of the event that began the segment ("" for the gap
	// before the first event).
	Cause string
	// Attempt is the attempt number of the event that began it.
	Attempt int
	// Gap is set when Warden was not running, or there is no record: see the
	// package comment.
	Gap bool
}

// Duration is End - Start.
func (s Segment) Duration() time.Duration { return s.End.Sub(s.Start) }

// What gap segments say about themselves.
const (
	ReasonNoRecord = "no record: the account has no events before this"
	ReasonStopped  = "Warden was not running"
	ReasonCrashed  = "no record: Warden stopped without closing some time after the last event"
)

// IsDisconnect reports whether ev is a disconnect: the account left Connected
// for another state and neither the operator (Disconnect, Log out, Delete)
// nor Warden's own shutdown asked for it. Drops, conflicts, zombie checks,
// logouts from the phone and bans are disconnects.
func IsDisconnect(ev core.Event) bool {
	if ev.From != core.Connected || ev.To == core.Connected {
		return false
	}
	return !byOperator(ev) && ev.Cause != core.CauseShutdown
}

// IsReconnectAttempt reports whether ev starts a reconnection: a dial that
// follows a drop, a conflict or a ban (Waiting, Replaced or Banned →
// Connecting by the timer or the operator's Retry now / Take over).
func IsReconnectAttempt(ev core.Event) bool {
	if ev.To != core.Connecting && ev.To != core.Pairing {
		return false
	}
	switch ev.From {
	case core.Waiting, core.Replaced, core.Banned:
		return true
	}
	return false
}

// IsNote reports whether ev changed no state: a skipped reconnection, a
// dropped stale event, a failed logout, a shutdown of a stopped account.
func IsNote(ev core.Event) bool { return ev.From == ev.To }

// byOperator reports whether the operator's own command caused ev.
func byOperator(ev core.Event) bool {
	switch ev.Cause {
	case core.CauseDisconnect, core.CauseLogout, core.CauseDelete:
		return true
	}
	return false
}

// gapBetween reports whether the time between the consecutive events a and b
// is a gap (see the package comment).
func gapBetween(a, b core.Event) bool {
	return a.Cause == core.CauseShutdown || b.Cause == core.CauseStartup
}

// span is the time between two consecutive events (or before the first, or
// after the last): the state after ev, and whether Warden was watching.
type span struct {
	start, end time.Time
	ev         *core.Event // the event that began it; nil before the first
	gap        bool
	reason     string
}

// walk calls onEvent (if not nil) with the index of every event in order,
// and after each event fn with the span that event begins, up to end. Times
// that go backwards (a clock set back) are clamped, so spans never overlap or
// have a negative length. Spans are not clipped on the left.
func walk(evs []core.Event, end time.Time, onEvent func(i int), fn func(sp span)) {
	var cursor time.Time
	for i := range evs {
		if onEvent != nil {
			onEvent(i)
		}
		start := evs[i].At
		if start.Before(cursor) {
			start = cursor
		}
		if start.After(end) {
			return
		}
		sp := span{start: start, end: end, ev: &evs[i], reason: evs[i].Reason}
		if i+1 < len(evs) {
			if next := evs[i+1].At; next.Before(end) {
				sp.end = next
			}
			if gapBetween(evs[i], evs[i+1]) {
				sp.gap, sp.reason = true, ReasonStopped
				if evs[i].Cause != core.CauseShutdown {
					sp.reason = ReasonCrashed
				}
			}
		} else if evs[i].Cause == core.CauseShutdown {
			sp.gap, sp.reason = true, ReasonStopped
		}
		if sp.end.Before(start) {
			sp.end = start
		}
		cursor = sp.end
		fn(sp)
	}
}

// lastBefore returns the index of the last event before t, or 0. evs are
// oldest first.
func lastBefore(evs []core.Event, t time.Time) int {
	// Times that went backwards make this a guess; callers walk from here,
	// and walk clamps them.
	i := sort.Search(len(evs), func(i int) bool { return !evs[i].At.Before(t) })
	return max(i-1, 0)
}

// Segments returns the account's states over [from, to), as far as now: the
// segments are clipped to the window, end at the earlier of to and now, never
// overlap and leave no hole. A note (a skipped reconnection, a dropped stale
// event) changes no state, so it begins no segment, and consecutive gaps are
// one segment. The time before the first event is a gap. evs must be oldest
// first.
func Segments(evs []core.Event, from, to, now time.Time) []Segment {
	// A span depends only on its event and the next, so the walk can start
	// at the last event before the window.
	return segments(evs, from, to, now, lastBefore(evs, from))
}

// segments is Segments with the walk starting at evs[start].
func segments(evs []core.Event, from, to, now time.Time, start int) []Segment {
	end := to
	if now.Before(end) {
		end = now
	}
	if !end.After(from) {
		return nil
	}
	// At most one segment per event, and the gap before the first.
	last := sort.Search(len(evs), func(i int) bool { return evs[i].At.After(end) })
	segs := make([]Segment, 0, max(last-start, 0)+1)
	add := func(s Segment) {
		if s.Start.Before(from) {
			s.Start = from
		}
		if !s.End.After(s.Start) {
			return
		}
		if n := len(segs); n > 0 {
			last := &segs[n-1]
			if last.Gap == s.Gap && (s.Gap || last.State == s.State) {
				last.End = s.End
				return
			}
		}
		segs = append(segs, s)
	}
	first := end
	if len(evs) > 0 && evs[0].At.Before(first) {
		first = evs[0].At
	}
	add(Segment{State: core.Idle, Start: from, End: first, Reason: ReasonNoRecord, Gap: true})
	walk(evs[start:], end, nil, func(sp span) {
		add(Segment{State: sp.ev.To, Start: sp.start, End: sp.end, Reason: sp.reason, Cause: sp.ev.Cause,
			Attempt: sp.ev.Attempt, Gap: sp.gap})
	})
	return segs
}
