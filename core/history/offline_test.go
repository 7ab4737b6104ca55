package history

import (
	"slices"
	"testing"
	"time"

	"warden/core"
)

func TestOffline(t *testing.T) {
	now := fleetT0
	failed := func(p core.DialProblem, ago time.Duration) core.Status {
		return core.Status{State: core.Waiting, Since: now.Add(-ago), Problem: p, Refusals: 1}
	}
	unpaired := func(p core.DialProblem, ago time.Duration) core.Status {
		return core.Status{State: core.Idle, Since: now.Add(-ago), Problem: p, Refusals: 1}
	}
	connected := core.Status{State: core.Connected, Since: now.Add(-time.Hour)}
	stopped := core.Status{State: core.Idle, Since: now.Add(-time.Hour)}
	dialling := core.Status{State: core.Connecting, Since: now}
	tests := []struct {
		name     string
		statuses []core.Status
		want     core.DialProblem
		n        int
	}{
		{"nothing", nil, core.ProblemNone, 0},
		{"the first account, never paired, with no DNS", []core.Status{unpaired(core.ProblemNoDNS, time.Second)}, core.ProblemNoDNS, 1},
		{"every account that tried: no DNS", []core.Status{
			failed(core.ProblemNoDNS, time.Second), failed(core.ProblemNoDNS, time.Minute), unpaired(core.ProblemNoDNS, 4*time.Minute),
			stopped, dialling}, core.ProblemNoDNS, 3},
		{"one account connected: the network works", []core.Status{failed(core.ProblemNoDNS, time.Second), connected}, core.ProblemNone, 0},
		{"two different problems", []core.Status{failed(core.ProblemNoDNS, time.Second), failed(core.ProblemTimeout, time.Second)}, core.ProblemNone, 0},
		{"a proxy's refusal is the proxy's", []core.Status{failed(core.ProblemProxyAuth, time.Second), failed(core.ProblemProxyAuth, time.Second)}, core.ProblemNone, 0},
		{"a proxy beside no DNS: not all alike", []core.Status{failed(core.ProblemNoDNS, time.Second), failed(core.ProblemProxyDown, time.Second)}, core.ProblemNone, 0},
		{"an old failure does not count", []core.Status{unpaired(core.ProblemNoDNS, 6*time.Minute)}, core.ProblemNone, 0},
		{"refused everywhere", []core.Status{failed(core.ProblemRefused, time.Second), failed(core.ProblemRefused, 2*time.Second)}, core.ProblemRefused, 2},
	}
	for _, tt := range tests {
		if got, n := Offline(slices.Values(tt.statuses), now); got != tt.want || n != tt.n {
			t.Errorf("%s: Offline = %v, %d; want %v, %d", tt.name, got, n, tt.want, tt.n)
		}
	}
}
