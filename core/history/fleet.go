package history

import (
	"slices"
	"sync"
	"time"

	"warden/core"
)

// FleetWindow is how close together drops must be to count as one fleet
// drop, and FlapWindow how far back Flapping looks.
const (
	FleetWindow = time.Minute
	FlapWindow  = 10 * time.Minute
	// FlapLimit is how many disconnects within FlapWindow an account may
	// have before it counts as flapping: more than this many.
	FlapLimit = 5
)

// FleetThreshold is how many different accounts must drop within
// FleetWindow, out of a fleet of total accounts, to call it a fleet drop:
//
//	max(2, min(3, ceil(total/3)))
//
// "3 or more accounts, or a third of all", except that one drop is never
// a fleet drop: 3 always are, and in a fleet of up to 6 accounts 2 are
// (a third of it, rounded up, but at least 2). A fleet of one account never
// has a fleet drop.
func FleetThreshold(total int) int {
	third := (total + 2) / 3
	return max(2, min(3, third))
}

// FleetDrop decides whether the disconnects in drops make a fleet drop: at
// least FleetThreshold(total) different accounts dropped within FleetWindow
// of each other. drops are events of any accounts, in any order; only
// disconnects (IsDisconnect) count, and an account that dropped twice counts
// once. It looks at every FleetWindow-long window and returns the accounts
// of the one with the most accounts (the latest of equals), sorted by ID;
// nil when no window has enough.
func FleetDrop(drops []core.Event, total int) (fire bool, accounts []core.AccountID) {
	evs := make([]core.Event, 0, len(drops))
	for _, ev := range drops {
		if IsDisconnect(ev) {
			evs = append(evs, ev)
		}
	}
	slices.SortStableFunc(evs, func(a, b core.Event) int { return a.At.Compare(b.At) })
	need := FleetThreshold(total)
	// A sliding window [evs[lo].At, evs[hi].At] no longer than FleetWindow,
	// with the number of drops of each account in it.
	in := map[core.AccountID]int{}
	best, bestLo, bestHi := 0, 0, -1
	lo := 0
	for hi, ev := range evs {
		in[ev.Account]++
		for ev.At.Sub(evs[lo].At) > FleetWindow {
			a := evs[lo].Account
			if in[a]--; in[a] == 0 {
				delete(in, a)
			}
			lo++
		}
		if len(in) >= best {
			best, bestLo, bestHi = len(in), lo, hi
		}
	}
	if best < need {
		return false, nil
	}
	seen := map[core.AccountID]bool{}
	for _, ev := range evs[bestLo : bestHi+1] {
		if !seen[ev.Account] {
			seen[ev.Account] = true
			accounts = append(accounts, ev.Account)
		}
	}
	slices.Sort(accounts)
	return true, accounts
}

// Flapping reports whether an account whose disconnects happened at
// disconnectTimes is flapping at now: more than FlapLimit of them within the
// FlapWindow before now. Times after now do not count.
func Flapping(disconnectTimes []time.Time, now time.Time) bool {
	n := 0
	for _, t := range disconnectTimes {
		if !t.After(now) && now.Sub(t) <= FlapWindow {
			n++
		}
	}
	return n > FlapLimit
}

// RateLimiter lets at most one thing through per key per interval, such as
// one notification per account per five minutes. It reads the clock with
// time.Now, so tests run it in a testing/synctest bubble. It is safe for
// concurrent use. The zero value is not usable: use NewRateLimiter.
type RateLimiter[K comparable] struct {
	every time.Duration

	mu sync.Mutex
	// mu guards the following
	last map[K]time.Time // when each key was last let through
}

// NewRateLimiter returns a limiter that lets each key through at most once
// per every.
func NewRateLimiter[K comparable](every time.Duration) *RateLimiter[K] {
	return &RateLimiter[K]{every: every, last: map[K]time.Time{}}
}

// Allow reports whether key may go through now, and if so counts it.
func (r *RateLimiter[K]) Allow(key K) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.last[key]; ok && now.Sub(last) < r.every {
		return false
	}
	r.last[key] = now
	// Forget keys whose interval is over, so the map does not grow with
	// every account that ever went through.
	if len(r.last) > 64 {
		for k, t := range r.last {
			if now.Sub(t) >= r.every {
				delete(r.last, k)
			}
		}
	}
	return true
}
