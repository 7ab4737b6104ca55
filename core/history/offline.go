package history

import (
	"iter"
	"time"

	"warden/core"
)

// OfflineWindow is how recent an account's failed dial must be to count in
// Offline.
const OfflineWindow = 5 * time.Minute

// Offline decides whether this computer, rather than any account, cannot
// reach WhatsApp: no account is connected, and every account whose last
// dial failed within OfflineWindow before now failed with the same network
// problem (core.DialProblem.Network), such as no DNS. It returns that
// problem and how many accounts it kept from connecting; ProblemNone and 0
// otherwise. An account whose dial is under way or that never tried does
// not count; one that failed another way (its proxy) means the dials do
// not all fail alike.
func Offline(statuses iter.Seq[core.Status], now time.Time) (core.DialProblem, int) {
	problem, n := core.ProblemNone, 0
	for s := range statuses {
		if s.State == core.Connected {
			return core.ProblemNone, 0
		}
		if s.Problem == core.ProblemNone || now.Sub(s.Since) > OfflineWindow {
			continue
		}
		if !s.Problem.Network() || (problem != core.ProblemNone && s.Problem != problem) {
			return core.ProblemNone, 0
		}
		problem = s.Problem
		n++
	}
	return problem, n
}
