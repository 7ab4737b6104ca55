package history

import (
	"slices"
	"time"

	"warden/core"
)

// Stats sums up an account's timeline over a window.
type Stats struct {
	// Running is the time in the window Warden was watching the account:
	// the window, as far as now, less its gaps.
	Running time.Duration
	// Connected is the time in the window the account was Connected.
	Connected time.Duration
	// Uptime is Connected / Running, from 0 to 1: the share of the time
	// Warden was running that the account was connected. Gaps (Warden not
	// running, no record) count neither way. It is 0 when Running is 0.
	Uptime float64

	// Disconnects counts the disconnects (see IsDisconnect) in the window.
	Disconnects int
	// DisconnectsPer24h is Disconnects per 24 h of Running time.
	DisconnectsPer24h float64

	// Recoveries counts the disconnects in the window after which the
	// account came back to Connected (by itself or by the operator's Retry
	// now or Take over). RecoverMedian and RecoverWorst are the median and
	// the longest of their times to recover: the running time from leaving
	// Connected to the next Connected, gaps excluded. A recovery that the
	// operator ended (Disconnect, Log out) is not counted.
	Recoveries    int
	RecoverMedian time.Duration
	RecoverWorst  time.Duration
	// Down is the running time since the last disconnect when the account
	// has not come back yet; 0 otherwise.
	Down time.Duration

	// Conflicts counts the times another client took the account (any
	// state → Replaced) in the window.
	Conflicts int
	// Skipped counts the reconnections skipped because one was already
	// running, and Stale the events of an older session dropped: the
	// single-client guard at work.
	Skipped int
	Stale   int
	// Attempts counts the reconnect attempts (see IsReconnectAttempt) in the
	// window.
	Attempts int

	// CurrentAttempt is the attempt number of the newest event when the
	// account is reconnecting (Waiting or Connecting) at the end of the
	// window; 0 otherwise.
	CurrentAttempt int
}

// recoveryStart returns where a walk must start to know, at from, whether
// the account is recovering from a disconnect and since when: at the last
// event before from, or earlier at the disconnect it has not yet recovered
// from. evs are oldest first.
func recoveryStart(evs []core.Event, from time.Time) int {
	if len(evs) == 0 {
		return 0
	}
	k := lastBefore(evs, from)
	for j := k; j >= 0; j-- {
		ev := evs[j]
		switch {
		case IsDisconnect(ev):
			return j
		case ev.To == core.Connected && ev.From != core.Connected, byOperator(ev):
			return k
		}
	}
	return k
}

// StatsOf sums up evs (oldest first) over [from, to), as far as now.
func StatsOf(evs []core.Event, from, to, now time.Time) Stats {
	return statsOf(evs, from, to, now, recoveryStart(evs, from))
}

// statsOf is StatsOf with the walk starting at evs[start].
func statsOf(evs []core.Event, from, to, now time.Time, start int) Stats {
	end := to
	if now.Before(end) {
		end = now
	}
	var st Stats
	if !end.After(from) {
		return st
	}
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(end) || t.Equal(end) }
	evs = evs[start:]

	var (
		recovering bool
		dropAt     time.Time
		down       time.Duration
		recoveries []time.Duration
		last       *core.Event
	)
	onEvent := func(i int) {
		ev := evs[i]
		if ev.At.After(end) {
			return
		}
		last = &evs[i]
		switch {
		case recovering && ev.To == core.Connected && ev.From != core.Connected:
			recovering = false
			if in(dropAt) {
				recoveries = append(recoveries, down)
			}
		case recovering && byOperator(ev):
			recovering = false
		}
		if IsDisconnect(ev) {
			recovering, dropAt, down = true, ev.At, 0
		}
		if !in(ev.At) {
			return
		}
		switch {
		case IsDisconnect(ev):
			st.Disconnects++
		case IsReconnectAttempt(ev):
			st.Attempts++
		}
		if ev.To == core.Replaced && ev.From != core.Replaced {
			st.Conflicts++
		}
		switch ev.Cause {
		case core.CauseSkipped:
			st.Skipped++
		case core.CauseStale:
			st.Stale++
		}
	}
	walk(evs, end, onEvent, func(sp span) {
		if sp.gap {
			return
		}
		d := sp.end.Sub(sp.start)
		if recovering {
			down += d
		}
		// The part inside the window.
		s := sp.start
		if s.Before(from) {
			s = from
		}
		if sp.end.After(s) {
			w := sp.end.Sub(s)
			st.Running += w
			if sp.ev.To == core.Connected {
				st.Connected += w
			}
		}
	})

	if st.Running > 0 {
		st.Uptime = float64(st.Connected) / float64(st.Running)
		st.DisconnectsPer24h = float64(st.Disconnects) / (float64(st.Running) / float64(24*time.Hour))
	}
	if recovering {
		st.Down = down
	}
	st.Recoveries = len(recoveries)
	if n := len(recoveries); n > 0 {
		slices.Sort(recoveries)
		st.RecoverWorst = recoveries[n-1]
		if n%2 == 1 {
			st.RecoverMedian = recoveries[n/2]
		} else {
			st.RecoverMedian = (recoveries[n/2-1] + recoveries[n/2]) / 2
		}
	}
	if last != nil && (last.To == core.Waiting || last.To == core.Connecting) && last.Cause != core.CauseShutdown {
		st.CurrentAttempt = last.Attempt
	}
	return st
}
