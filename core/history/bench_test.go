package history

import (
	"testing"
	"time"

	"warden/core"
)

// BenchmarkWindow reads the last 24 h and the last 7 d out of 100,000 events
// (a week of an account that flaps every half minute): the segments and the
// statistics the Timeline tab shows.
func BenchmarkWindow(b *testing.B) {
	const n = 100_000
	now := day0.Add(7 * 24 * time.Hour)
	step := 7 * 24 * time.Hour / n
	cycle := [][2]core.State{{core.Connected, core.Waiting}, {core.Waiting, core.Connecting},
		{core.Connecting, core.Waiting}, {core.Waiting, core.Connecting}, {core.Connecting, core.Connected}}
	causes := []string{"disconnected", core.CauseTimer, core.CauseDialFailed, core.CauseTimer, "connected"}
	evs := make([]core.Event, n)
	for i := range evs {
		c := cycle[i%len(cycle)]
		evs[i] = core.Event{Seq: uint64(i + 1), At: day0.Add(time.Duration(i) * step), From: c[0], To: c[1], Cause: causes[i%len(causes)]}
	}
	for _, span := range []struct {
		name string
		d    time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		b.Run(span.name, func(b *testing.B) {
			from := now.Add(-span.d)
			for range b.N {
				segs := Segments(evs, from, now, now)
				st := StatsOf(evs, from, now, now)
				if len(segs) == 0 || st.Disconnects == 0 {
					b.Fatal("nothing read")
				}
			}
		})
	}
}
