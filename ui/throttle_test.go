package ui

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestUpdatesAreCoalescedAndThrottled runs the update loop in virtual time: a
// burst of updates to one account becomes one redraw showing the newest, and
// redraws come at most once per applyEvery.
func TestUpdatesAreCoalescedAndThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, ctl := newTestWindow(t, sampleStatuses()...)
		calls := pump(w)
		w.start()
		start := time.Now()

		s := statusOf(t, "waiting")
		for i := 1; i <= 100; i++ {
			s.Attempt = i
			ctl.updates <- s
		}
		(<-calls)() // the first Fyne call: one batch
		if got := w.statuses["waiting"].Attempt; got != 100 {
			t.Errorf("after one redraw the account shows attempt %d, want the newest, 100", got)
		}
		if got := time.Since(start); got != applyEvery {
			t.Errorf("the burst was drawn after %v, want %v", got, applyEvery)
		}

		// The next update, right after a redraw, waits for the next slot.
		s.Attempt = 101
		ctl.updates <- s
		(<-calls)()
		if got := w.statuses["waiting"].Attempt; got != 101 {
			t.Errorf("the second redraw shows attempt %d, want 101", got)
		}
		if got := time.Since(start); got != 2*applyEvery {
			t.Errorf("the second redraw came at %v, want %v", got, 2*applyEvery)
		}

		// With nothing to apply, only the countdowns tick, once a second.
		(<-calls)()
		if got := time.Since(start); got != tickEvery {
			t.Errorf("the first tick came at %v, want %v", got, tickEvery)
		}
		w.Close()
	})
}
