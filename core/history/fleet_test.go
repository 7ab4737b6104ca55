package history

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

var fleetT0 = time.Date(2026, 3, 3, 14, 0, 0, 0, time.UTC)

// drop is a disconnect of account id at offset after fleetT0.
func drop(id string, offset time.Duration) core.Event {
	return core.Event{Account: core.AccountID(id), At: fleetT0.Add(offset), From: core.Connected, To: core.Waiting, Cause: "disconnected"}
}

func TestFleetThreshold(t *testing.T) {
	tests := []struct{ total, want int }{
		{0, 2}, {1, 2}, {2, 2}, {3, 2}, {6, 2}, {7, 3}, {9, 3}, {10, 3}, {1000, 3},
	}
	for _, tt := range tests {
		if got := FleetThreshold(tt.total); got != tt.want {
			t.Errorf("FleetThreshold(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}

func TestFleetDrop(t *testing.T) {
	s := time.Second
	byOperator := drop("c", 10*s)
	byOperator.To, byOperator.Cause = core.Idle, core.CauseDisconnect
	shutdown := drop("c", 10*s)
	shutdown.To, shutdown.Cause = core.Idle, core.CauseShutdown
	notFromConnected := drop("c", 10*s)
	notFromConnected.From = core.Connecting
	conflict := drop("c", 10*s)
	conflict.To, conflict.Cause = core.Replaced, "replaced"

	tests := []struct {
		name  string
		drops []core.Event
		total int
		want  []core.AccountID // nil: no banner
	}{
		{"nothing", nil, 20, nil},
		{"one drop never fires, even in a fleet of two", []core.Event{drop("a", 0)}, 2, nil},
		{"one account dropping three times is one account", []core.Event{drop("a", 0), drop("a", 10*s), drop("a", 20*s)}, 3, nil},
		{"two of twenty is not enough", []core.Event{drop("a", 0), drop("b", 30*s)}, 20, nil},
		{"three of twenty within a minute", []core.Event{drop("a", 0), drop("b", 30*s), drop("c", 59*s)}, 20, []core.AccountID{"a", "b", "c"}},
		{"three of a thousand", []core.Event{drop("x", 0), drop("y", s), drop("z", 2*s)}, 1000, []core.AccountID{"x", "y", "z"}},
		{"exactly a minute apart still counts", []core.Event{drop("a", 0), drop("b", 30*s), drop("c", 60*s)}, 20, []core.AccountID{"a", "b", "c"}},
		{"three spread over more than a minute", []core.Event{drop("a", 0), drop("b", 30*s), drop("c", 61*s)}, 20, nil},
		{"order does not matter", []core.Event{drop("c", 59*s), drop("a", 0), drop("b", 30*s)}, 20, []core.AccountID{"a", "b", "c"}},
		{"two of six is a third", []core.Event{drop("a", 0), drop("b", 40*s)}, 6, []core.AccountID{"a", "b"}},
		{"two of seven is less than a third", []core.Event{drop("a", 0), drop("b", 40*s)}, 7, nil},
		{"two of two", []core.Event{drop("a", 0), drop("b", 40*s)}, 2, []core.AccountID{"a", "b"}},
		{"the operator's disconnect is no drop", []core.Event{drop("a", 0), drop("b", 5*s), byOperator}, 20, nil},
		{"Warden's shutdown is no drop", []core.Event{drop("a", 0), drop("b", 5*s), shutdown}, 20, nil},
		{"a change that did not leave Connected is no drop", []core.Event{drop("a", 0), drop("b", 5*s), notFromConnected}, 20, nil},
		{"a conflict is a drop", []core.Event{drop("a", 0), drop("b", 5*s), conflict}, 20, []core.AccountID{"a", "b", "c"}},
		{"the window with the most accounts wins", []core.Event{
			drop("a", 0), drop("b", 10*s), drop("c", 20*s),
			drop("d", 200*s), drop("e", 210*s), drop("f", 220*s), drop("g", 230*s),
		}, 20, []core.AccountID{"d", "e", "f", "g"}},
		{"of equal windows the latest", []core.Event{
			drop("a", 0), drop("b", 10*s), drop("c", 20*s),
			drop("d", 200*s), drop("e", 210*s), drop("f", 220*s),
		}, 20, []core.AccountID{"d", "e", "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fire, got := FleetDrop(tt.drops, tt.total)
			if fire != (tt.want != nil) || !slices.Equal(got, tt.want) {
				t.Errorf("FleetDrop(%d events, %d) = %v, %v; want %v, %v", len(tt.drops), tt.total, fire, got, tt.want != nil, tt.want)
			}
		})
	}
}

func TestFlapping(t *testing.T) {
	now := fleetT0.Add(time.Hour)
	ago := func(mins ...float64) []time.Time {
		var ts []time.Time
		for _, m := range mins {
			ts = append(ts, now.Add(-time.Duration(m*float64(time.Minute))))
		}
		return ts
	}
	tests := []struct {
		name  string
		times []time.Time
		want  bool
	}{
		{"none", nil, false},
		{"five in ten minutes is not yet flapping", ago(1, 2, 3, 4, 5), false},
		{"six in ten minutes", ago(0, 1, 2, 3, 4, 9.9), true},
		{"six, one of them exactly ten minutes ago", ago(0, 1, 2, 3, 4, 10), true},
		{"six, but one eleven minutes ago", ago(0, 1, 2, 3, 4, 11), false},
		{"many long ago", ago(20, 21, 22, 23, 24, 25, 26, 27), false},
		{"disconnects after now do not count", append(ago(1, 2, 3, 4, 5), now.Add(time.Second)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Flapping(tt.times, now); got != tt.want {
				t.Errorf("Flapping(%d times) = %v, want %v", len(tt.times), got, tt.want)
			}
		})
	}
}

func TestRateLimiterOnePerKeyPerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRateLimiter[string](5 * time.Minute)
		start := time.Now()
		allow := func(key string, want bool) {
			t.Helper()
			if got := r.Allow(key); got != want {
				t.Errorf("at +%s: Allow(%q) = %v, want %v", time.Since(start), key, got, want)
			}
		}
		allow("a", true)
		allow("a", false) // at once again
		allow("b", true)  // keys are independent
		time.Sleep(4*time.Minute + 59*time.Second)
		allow("a", false)
		time.Sleep(time.Second) // five minutes after the first
		allow("a", true)
		allow("b", true)
		time.Sleep(time.Minute)
		allow("a", false) // a refusal does not restart the interval, a pass does
		time.Sleep(4 * time.Minute)
		allow("a", true)
	})
}

func TestRateLimiterForgetsOldKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRateLimiter[int](time.Minute)
		for i := range 100 {
			if !r.Allow(i) {
				t.Fatalf("Allow(%d) = false for a new key", i)
			}
		}
		time.Sleep(time.Minute)
		r.Allow(1000)
		if n := len(r.last); n != 1 {
			t.Errorf("after the interval the limiter still keeps %d keys, want 1", n)
		}
		for i := range 100 {
			if !r.Allow(i) {
				t.Errorf("Allow(%d) = false after the interval", i)
			}
		}
	})
}

func ExampleFleetThreshold() {
	for _, n := range []int{2, 5, 7, 100} {
		fmt.Printf("%d accounts: %d drops\n", n, FleetThreshold(n))
	}
	// Output:
	// 2 accounts: 2 drops
	// 5 accounts: 2 drops
	// 7 accounts: 3 drops
	// 100 accounts: 3 drops
}
