package history

import (
	"fmt"
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

// IsNetworkDrop reports whether ev is a disconnect that this computer's
// network or WhatsApp's servers can explain: the account left Connected to
// try again (Waiting) because the connection was lost, WhatsApp closed it
// or keepalives went unanswered. A conflict (Replaced), a ban, a log-out,
// an outdated client, a permanent failure, the operator's own commands,
// Warden's shutdown and a handover to another node are disconnects
// (IsDisconnect) but not network drops: the network explains none of them.
func IsNetworkDrop(ev core.Event) bool {
	return IsDisconnect(ev) && ev.To == core.Waiting
}

// DropCause is what the drops of a fleet alert point at.
type DropCause int

const (
	// DropLost: connections lost on the way or keepalives unanswered, or a
	// mix: this computer's network, or WhatsApp's servers.
	DropLost DropCause = iota + 1
	// DropServer: WhatsApp's servers closed every connection (stream
	// errors) or refused the logins.
	DropServer
)

// FleetAlert is a fleet drop as the window's banner and the desktop
// notification show it: many accounts lost their connection together, for
// a reason none of them explains.
type FleetAlert struct {
	Accounts []core.AccountID // the accounts that dropped, sorted by ID
	At       time.Time        // the newest of their drops
	Cause    DropCause
	Back     int // how many of Accounts are connected again
}

// Headline says what happened, for the banner and a notification's title.
func (a FleetAlert) Headline() string {
	if a.Cause == DropServer {
		return fmt.Sprintf("WhatsApp's servers closed %d connections within a minute", len(a.Accounts))
	}
	return fmt.Sprintf("%d accounts lost their connection within a minute", len(a.Accounts))
}

// Likely says the likely cause, in a sentence's second half.
func (a FleetAlert) Likely() string {
	if a.Cause == DropServer {
		return "a problem on WhatsApp's side, not these accounts"
	}
	return "likely this computer's network or WhatsApp's servers, not these accounts"
}

// Fleet follows the timeline events of every account and keeps the fleet
// alert: it comes when FleetThreshold accounts dropped (IsNetworkDrop)
// within FleetWindow of each other and are down together, and it goes once
// every one of them is back (or left the reconnect cycle: stopped by the
// operator, replaced, logged out). A few accounts that drop one after
// another and come straight back, as faults do now and then, are no fleet
// drop. The zero value is ready to use; not safe for concurrent use.
type Fleet struct {
	down  map[core.AccountID]core.Event // the accounts down after a network drop: that drop
	back  map[core.AccountID]bool       // the accounts whose last change connected them
	alert *FleetAlert
}

// Observe takes a batch of events, in order, of a fleet of total accounts,
// and reports whether the alert changed: it came, named other accounts,
// or went. The Back count changing is no change.
func (f *Fleet) Observe(evs []core.Event, total int) (changed bool) {
	if f.down == nil {
		f.down, f.back = map[core.AccountID]core.Event{}, map[core.AccountID]bool{}
	}
	for _, ev := range evs {
		switch {
		case IsNetworkDrop(ev):
			f.down[ev.Account] = ev
			delete(f.back, ev.Account)
		case IsNote(ev):
		case ev.To != core.Waiting && ev.To != core.Connecting:
			// Back, or out of the reconnect cycle for another reason
			// (banned, replaced, stopped): the network is no longer
			// what keeps it off.
			delete(f.down, ev.Account)
			if ev.To == core.Connected {
				f.back[ev.Account] = true
			} else {
				delete(f.back, ev.Account)
			}
		}
	}
	drops := make([]core.Event, 0, len(f.down))
	for _, ev := range f.down {
		drops = append(drops, ev)
	}
	if fire, ids := FleetDrop(drops, total); fire {
		if f.alert != nil && !slices.ContainsFunc(ids, func(id core.AccountID) bool { return !slices.Contains(f.alert.Accounts, id) }) {
			return false // the same accounts, or some of them while the others are back
		}
		a := &FleetAlert{Accounts: ids, Cause: DropServer}
		for _, id := range ids {
			ev := f.down[id]
			if ev.At.After(a.At) {
				a.At = ev.At
			}
			if !ev.ByServer() {
				a.Cause = DropLost
			}
		}
		f.alert = a
		return true
	}
	if f.alert == nil {
		return false
	}
	for _, id := range f.alert.Accounts {
		if _, ok := f.down[id]; ok {
			return false
		}
	}
	f.alert = nil
	return true
}

// Forget drops a deleted account.
func (f *Fleet) Forget(id core.AccountID) {
	delete(f.down, id)
	delete(f.back, id)
}

// Alert returns the current alert, with how many of its accounts are
// connected again.
func (f *Fleet) Alert() (FleetAlert, bool) {
	if f.alert == nil {
		return FleetAlert{}, false
	}
	a := *f.alert
	a.Accounts = slices.Clone(a.Accounts)
	for _, id := range a.Accounts {
		if f.back[id] {
			a.Back++
		}
	}
	return a, true
}
