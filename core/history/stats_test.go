package history

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"warden/core"
)

func TestStats(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name          string
		evs           []core.Event
		from, to, now string
		want          Stats
	}{
		{
			name: "no events: nothing ran",
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{},
		},
		{
			name: "connected half of the hour",
			evs: []core.Event{
				ev("10:00", core.Idle, core.Connecting, core.CauseConnect),
				ev("10:30", core.Connecting, core.Connected, "connected"),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: time.Hour, Connected: 30 * time.Minute, Uptime: 0.5},
		},
		{
			name: "a drop, Warden stopped, started next day: the night is neither downtime nor recovery time",
			evs:  nightWithStop(),
			from: "20:00", to: "+1 09:00", now: "+1 09:00",
			want: Stats{
				// 20:00-22:01 and 08:00-09:00.
				Running:   3*time.Hour + time.Minute,
				Connected: 2*time.Hour - time.Second + time.Hour - 3*time.Second,
				Uptime:    float64(3*time.Hour-4*time.Second) / float64(3*time.Hour+time.Minute),
				// 22:00-22:01, then 08:00-08:00:03.
				Disconnects: 1, DisconnectsPer24h: float64(day) / float64(3*time.Hour+time.Minute),
				Recoveries: 1, RecoverMedian: time.Minute + 3*time.Second, RecoverWorst: time.Minute + 3*time.Second,
				Attempts: 2,
			},
		},
		{
			name: "Warden ended without closing: the unknown time is a gap",
			evs: []core.Event{
				ev("20:00", core.Connecting, core.Connected, "connected"),
				ev("+1 08:00", core.Idle, core.Waiting, core.CauseStartup),
				ev("+1 08:00:02", core.Waiting, core.Connecting, core.CauseTimer),
				ev("+1 08:00:03", core.Connecting, core.Connected, "connected"),
			},
			from: "20:00", to: "+1 09:00", now: "+1 09:00",
			want: Stats{Running: time.Hour, Connected: time.Hour - 3*time.Second,
				Uptime: float64(time.Hour-3*time.Second) / float64(time.Hour), Attempts: 1},
		},
		{
			name: "the operator's Disconnect is no drop and ends no recovery",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:10", core.Connected, core.Idle, core.CauseDisconnect),
				ev("10:20", core.Idle, core.Connecting, core.CauseConnect),
				ev("10:20:01", core.Connecting, core.Connected, "connected"),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: time.Hour, Connected: 50*time.Minute - time.Second,
				Uptime: float64(50*time.Minute-time.Second) / float64(time.Hour)},
		},
		{
			name: "a drop the operator gave up on is not a recovery",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:10", core.Connected, core.Waiting, "disconnected", 1),
				ev("10:11", core.Waiting, core.Idle, core.CauseDisconnect),
				ev("10:20", core.Idle, core.Connecting, core.CauseConnect),
				ev("10:20:01", core.Connecting, core.Connected, "connected"),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: time.Hour, Connected: 50*time.Minute - time.Second,
				Uptime: float64(50*time.Minute-time.Second) / float64(time.Hour), Disconnects: 1, DisconnectsPer24h: 24},
		},
		{
			name: "median and worst of three recoveries; a conflict with its takeover",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:10", core.Connected, core.Waiting, "disconnected", 1), // 10 s
				ev("10:10:03", core.Waiting, core.Connecting, core.CauseTimer, 1),
				ev("10:10:10", core.Connecting, core.Connected, "connected", 1),
				ev("10:20", core.Connected, core.Replaced, "replaced"), // 40 s
				ev("10:20:30", core.Replaced, core.Connecting, core.CauseTimer),
				ev("10:20:40", core.Connecting, core.Connected, "connected"),
				ev("10:30", core.Connected, core.Waiting, core.CauseZombie, 1), // 4 s
				ev("10:30:03", core.Waiting, core.Connecting, core.CauseTimer, 1),
				ev("10:30:04", core.Connecting, core.Connected, "connected", 1),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: time.Hour, Connected: time.Hour - 54*time.Second,
				Uptime:      float64(time.Hour-54*time.Second) / float64(time.Hour),
				Disconnects: 3, DisconnectsPer24h: 72, Conflicts: 1, Attempts: 3,
				Recoveries: 3, RecoverMedian: 10 * time.Second, RecoverWorst: 40 * time.Second},
		},
		{
			name: "the median of an even number of recoveries is the mean of the middle two",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:10", core.Connected, core.Waiting, "disconnected", 1), // 10 s
				ev("10:10:10", core.Waiting, core.Connected, "connected", 1),
				ev("10:20", core.Connected, core.Waiting, "disconnected", 1), // 20 s
				ev("10:20:20", core.Waiting, core.Connected, "connected", 1),
			},
			from: "10:00", to: "10:30", now: "10:30",
			want: Stats{Running: 30 * time.Minute, Connected: 30*time.Minute - 30*time.Second,
				Uptime:      float64(30*time.Minute-30*time.Second) / float64(30*time.Minute),
				Disconnects: 2, DisconnectsPer24h: 96,
				Recoveries: 2, RecoverMedian: 15 * time.Second, RecoverWorst: 20 * time.Second},
		},
		{
			name: "the guard at work: skipped and stale notes are counted",
			evs: []core.Event{
				ev("10:00", core.Connected, core.Waiting, "disconnected", 1),
				ev("10:00:01", core.Waiting, core.Waiting, core.CauseSkipped, 1),
				ev("10:00:02", core.Waiting, core.Waiting, core.CauseStale, 1),
				ev("10:00:02", core.Waiting, core.Waiting, core.CauseStale, 1),
				ev("10:00:03", core.Waiting, core.Connecting, core.CauseTimer, 1),
				ev("10:00:04", core.Connecting, core.Waiting, core.CauseDialFailed, 2),
			},
			from: "10:00", to: "10:10", now: "10:10",
			want: Stats{Running: 10 * time.Minute, Disconnects: 1, DisconnectsPer24h: 144,
				Skipped: 1, Stale: 2, Attempts: 1, Down: 10 * time.Minute, CurrentAttempt: 2},
		},
		{
			name: "a drop before the window that recovers inside it counts in neither",
			evs: []core.Event{
				ev("09:00", core.Connecting, core.Connected, "connected"),
				ev("09:59", core.Connected, core.Waiting, "disconnected", 1),
				ev("10:01", core.Waiting, core.Connected, "connected", 1),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: time.Hour, Connected: 59 * time.Minute, Uptime: 59.0 / 60},
		},
		{
			name: "not yet recovered: Down is the running time since the drop, gaps excluded",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("10:10", core.Connected, core.LoggedOut, "logged out"),
				ev("10:20", core.LoggedOut, core.LoggedOut, core.CauseShutdown),
				ev("10:40", core.LoggedOut, core.Pairing, core.CauseConnect),
			},
			from: "10:00", to: "11:00", now: "11:00",
			want: Stats{Running: 40 * time.Minute, Connected: 10 * time.Minute, Uptime: 0.25,
				Disconnects: 1, DisconnectsPer24h: 36, Down: 30 * time.Minute},
		},
		{
			name: "events after the window are ignored",
			evs: []core.Event{
				ev("10:00", core.Connecting, core.Connected, "connected"),
				ev("11:30", core.Connected, core.Waiting, "disconnected", 1),
			},
			from: "10:00", to: "11:00", now: "12:00",
			want: Stats{Running: time.Hour, Connected: time.Hour, Uptime: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := StatsOf(tt.evs, at(tt.from), at(tt.to), at(tt.now))
			if !near(got.Uptime, tt.want.Uptime) || !near(got.DisconnectsPer24h, tt.want.DisconnectsPer24h) {
				t.Errorf("StatsOf() uptime %.6f, %.4f disconnects/24h; want %.6f, %.4f",
					got.Uptime, got.DisconnectsPer24h, tt.want.Uptime, tt.want.DisconnectsPer24h)
			}
			got.Uptime, got.DisconnectsPer24h = tt.want.Uptime, tt.want.DisconnectsPer24h
			if got != tt.want {
				t.Errorf("StatsOf(%s..%s) =\n  %+v\nwant\n  %+v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestShortcutsChangeNothing checks that starting the walk near the window,
// as Segments and StatsOf do, gives what walking every event gives, over
// random timelines and windows.
func TestShortcutsChangeNothing(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	causes := []string{"disconnected", "replaced", core.CauseTimer, core.CauseDialFailed, core.CauseSkipped,
		core.CauseStale, core.CauseShutdown, core.CauseStartup, core.CauseDisconnect, core.CauseConnect, "connected"}
	for run := range 300 {
		var evs []core.Event
		at := day0
		state := core.Idle
		for range 1 + rnd.IntN(60) {
			at = at.Add(time.Duration(rnd.IntN(3600)) * time.Second)
			to := core.States[rnd.IntN(len(core.States))]
			cause := causes[rnd.IntN(len(causes))]
			if rnd.IntN(4) == 0 {
				to = state // a note
			}
			evs = append(evs, core.Event{At: at, From: state, To: to, Cause: cause, Attempt: rnd.IntN(4)})
			state = to
		}
		from := day0.Add(time.Duration(rnd.IntN(40*3600)) * time.Second)
		to := from.Add(time.Duration(1+rnd.IntN(20*3600)) * time.Second)
		now := to.Add(time.Duration(rnd.IntN(7200)-3600) * time.Second)

		if got, want := Segments(evs, from, to, now), segments(evs, from, to, now, 0); !slices.Equal(got, want) {
			t.Fatalf("run %d: Segments from the window differ from a full walk:\n%v\n%v", run, got, want)
		}
		if got, want := StatsOf(evs, from, to, now), statsOf(evs, from, to, now, 0); got != want {
			t.Fatalf("run %d: StatsOf from the window differs from a full walk:\n%+v\n%+v", run, got, want)
		}
	}
}
