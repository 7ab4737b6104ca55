package ui

import (
	"fmt"
	"time"

	"warden/core"
)

// The Overview's Messages fact and the list's quiet hint: when the last
// message came in, what came in and went out today, and the liveness hint
// of core.QuietAccounts, recomputed every tick since it changes with the
// clock.

// messagesText is the Overview's Messages fact: "last in at 14:02 (3m 10s
// ago) · today 12 in, 4 out", with the quiet hint on a second line.
func messagesText(s core.Status, q core.Quiet, quiet bool, now time.Time) string {
	in, out := s.Traffic.Today(now)
	last := s.Traffic.LastIn
	var line string
	switch {
	case last.IsZero():
		line = "none received yet"
	default:
		line = fmt.Sprintf("last in at %s (%s ago)", clockTime(last, now), formatDuration(now.Sub(last)))
	}
	switch {
	case in+out > 0:
		line += fmt.Sprintf(" · today %d in, %d out", in, out)
	case !last.IsZero():
		line += " · none today"
	}
	if quiet {
		line += fmt.Sprintf("\nQuiet: nothing received for %s while %d of the %d other connected accounts received. "+
			"If it lasts, check Linked devices on the phone.", formatDuration(q.For), q.Active, q.Peers)
	}
	return line
}

// quietLine is the row's hint for a quiet account.
func quietLine(q core.Quiet) string { return " · quiet for " + formatDuration(q.For) }

// refreshQuiet recomputes the quiet accounts and refreshes the rows whose
// hint came or went.
func (w *Window) refreshQuiet(now time.Time) {
	sts := make([]core.Status, 0, len(w.statuses))
	for _, s := range w.statuses {
		sts = append(sts, s)
	}
	next := core.QuietAccounts(sts, now)
	prev := w.quiet
	w.quiet = next
	for id := range next {
		if _, was := prev[id]; !was {
			w.list.refreshRow(id)
		}
	}
	for id := range prev {
		if _, is := next[id]; !is {
			w.list.refreshRow(id)
		}
	}
}

// quietOf returns an account's liveness hint.
func (w *Window) quietOf(id core.AccountID) (core.Quiet, bool) {
	q, ok := w.quiet[id]
	return q, ok
}
