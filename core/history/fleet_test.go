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

// lost is account id losing its connection at offset: no code, so the
// network's or WhatsApp's doing.
func lost(id string, offset time.Duration) core.Event {
	ev := drop(id, offset)
	ev.Reason = "the connection was lost: EOF"
	return ev
}

// closedByServer is WhatsApp closing account id's connection at offset.
func closedByServer(id string, offset time.Duration) core.Event {
	ev := drop(id, offset)
	ev.Reason = "the connection was closed by WhatsApp (stream error 503)"
	return ev
}

// back is account id connected again at offset.
func back(id string, offset time.Duration) core.Event {
	return core.Event{Account: core.AccountID(id), At: fleetT0.Add(offset), From: core.Connecting, To: core.Connected, Cause: "connected"}
}

func TestIsNetworkDrop(t *testing.T) {
	leave := func(to core.State, cause, reason string) core.Event {
		return core.Event{Account: "a", At: fleetT0, From: core.Connected, To: to, Cause: cause, Reason: reason}
	}
	tests := []struct {
		name string
		ev   core.Event
		want bool
	}{
		{"a lost connection", lost("a", 0), true},
		{"WhatsApp closed it", closedByServer("a", 0), true},
		{"keepalives unanswered", leave(core.Waiting, core.CauseZombie, "WhatsApp did not answer keepalives for 3m0s: reconnecting"), true},
		{"a refused login", leave(core.Waiting, "connect failure", "WhatsApp refused the login (503)"), true},
		{"another client took it (440)", leave(core.Replaced, "replaced", "another client took this account at 14:00: taking it back once in 30s"), false},
		{"a ban", leave(core.Banned, "temporary ban", "temporarily banned by WhatsApp (code 101) until 15:00; Warden tries once then"), false},
		{"the phone logged it out", leave(core.LoggedOut, "logged out", "the phone unlinked this device: pair again"), false},
		{"an outdated client", leave(core.Outdated, "outdated", "WhatsApp rejected this client version (405): update Warden"), false},
		{"a permanent failure", leave(core.Failed, core.CauseDialFailed, "could not start a session"), false},
		{"the operator's Disconnect", leave(core.Idle, core.CauseDisconnect, "disconnected by the operator"), false},
		{"the operator's Log out", leave(core.LoggedOut, core.CauseLogout, "logged out by the operator"), false},
		{"the operator's Retry now", leave(core.Connecting, core.CauseConnect, "connecting"), false},
		{"Warden closed", leave(core.Idle, core.CauseShutdown, "Warden was closed"), false},
		{"another node runs it", leave(core.Idle, core.CauseElsewhere, core.ReasonElsewhere), false},
		{"a retry that failed again (not from Connected)", core.Event{Account: "a", From: core.Connecting, To: core.Waiting, Cause: core.CauseDialFailed}, false},
	}
	for _, tt := range tests {
		if got := IsNetworkDrop(tt.ev); got != tt.want {
			t.Errorf("%s: IsNetworkDrop(%v → %v, %q) = %v, want %v", tt.name, tt.ev.From, tt.ev.To, tt.ev.Cause, got, tt.want)
		}
	}
}

func TestFleetAlert(t *testing.T) {
	s := time.Second
	replaced := func(id string, offset time.Duration) core.Event {
		ev := drop(id, offset)
		ev.To, ev.Cause, ev.Reason = core.Replaced, "replaced", "another client took this account"
		return ev
	}
	banned := func(id string, offset time.Duration) core.Event {
		ev := drop(id, offset)
		ev.To, ev.Cause = core.Banned, "temporary ban"
		return ev
	}
	type step struct {
		evs     []core.Event
		changed bool
		want    []core.AccountID // nil: no alert
		cause   DropCause
		back    int
	}
	tests := []struct {
		name  string
		total int
		steps []step
	}{
		{"four conflicts are no fleet drop", 20, []step{
			{evs: []core.Event{replaced("a", 0), replaced("b", s), replaced("c", 2*s), replaced("d", 3*s)}},
		}},
		{"bans are no fleet drop", 20, []step{
			{evs: []core.Event{banned("a", 0), banned("b", s), banned("c", 2*s)}},
		}},
		{"two drops and a conflict are not three drops", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), replaced("c", 2*s)}},
		}},
		{"lost connections name the network", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
		}},
		{"closed by WhatsApp names WhatsApp's servers", 20, []step{
			{evs: []core.Event{closedByServer("a", 0), closedByServer("b", s), closedByServer("c", 2*s)}, changed: true,
				want: []core.AccountID{"a", "b", "c"}, cause: DropServer},
		}},
		{"a mix names both", 20, []step{
			{evs: []core.Event{closedByServer("a", 0), lost("b", s), closedByServer("c", 2*s)}, changed: true,
				want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
		}},
		{"it goes when every account is back, not before", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
			{evs: []core.Event{back("a", 5*s), back("b", 6*s)}, want: []core.AccountID{"a", "b", "c"}, cause: DropLost, back: 2},
			{evs: []core.Event{back("c", 7*s)}, changed: true},
		}},
		{"retries that fail keep it up", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
			{evs: []core.Event{
				{Account: "a", At: fleetT0.Add(5 * s), From: core.Waiting, To: core.Connecting, Cause: core.CauseTimer},
				{Account: "a", At: fleetT0.Add(6 * s), From: core.Connecting, To: core.Waiting, Cause: core.CauseDialFailed},
			}, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
		}},
		{"a banned account is not back, but no longer down", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
			{evs: []core.Event{back("a", 5*s),
				{Account: "b", At: fleetT0.Add(6 * s), From: core.Connecting, To: core.Banned, Cause: "temporary ban"}},
				want: []core.AccountID{"a", "b", "c"}, cause: DropLost, back: 1},
			{evs: []core.Event{back("c", 7*s)}, changed: true},
		}},
		{"an account the operator stops is no longer down", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
			{evs: []core.Event{back("a", 5*s), back("b", 5*s),
				{Account: "c", At: fleetT0.Add(6 * s), From: core.Waiting, To: core.Idle, Cause: core.CauseDisconnect}}, changed: true},
		}},
		{"faults one after another that come straight back are no fleet drop", 6, []step{
			{evs: []core.Event{lost("a", 0), back("a", 3*s), lost("b", 10*s), back("b", 13*s), lost("c", 20*s), back("c", 23*s)}},
		}},
		{"another account joining renames it", 20, []step{
			{evs: []core.Event{lost("a", 0), lost("b", s), lost("c", 2*s)}, changed: true, want: []core.AccountID{"a", "b", "c"}, cause: DropLost},
			{evs: []core.Event{lost("d", 3*s)}, changed: true, want: []core.AccountID{"a", "b", "c", "d"}, cause: DropLost},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Fleet
			for i, st := range tt.steps {
				changed := f.Observe(st.evs, tt.total)
				a, ok := f.Alert()
				if changed != st.changed || ok != (st.want != nil) || !slices.Equal(a.Accounts, st.want) || a.Cause != st.cause || a.Back != st.back {
					t.Errorf("step %d: changed %v, alert %v %v (cause %v, %d back); want changed %v, alert %v (cause %v, %d back)",
						i, changed, ok, a.Accounts, a.Cause, a.Back, st.changed, st.want, st.cause, st.back)
				}
			}
		})
	}
}

func TestFleetAlertWords(t *testing.T) {
	ids := []core.AccountID{"a", "b", "c", "d", "e"}
	lostAlert := FleetAlert{Accounts: ids, Cause: DropLost}
	if got, want := lostAlert.Headline()+": "+lostAlert.Likely(), "5 accounts lost their connection within a minute: likely this computer's network or WhatsApp's servers, not these accounts"; got != want {
		t.Errorf("lost: %q, want %q", got, want)
	}
	server := FleetAlert{Accounts: ids, Cause: DropServer}
	if got, want := server.Headline()+": "+server.Likely(), "WhatsApp's servers closed 5 connections within a minute: a problem on WhatsApp's side, not these accounts"; got != want {
		t.Errorf("server: %q, want %q", got, want)
	}
}
