package ui

import (
	"fmt"
	"testing"
	"time"

	"warden/core"
)

// BenchmarkApply measures one redraw batch of the window: 200 status changes
// applied to a list of 1,000 accounts. In "rows", accounts drop and come
// back, so only their rows change; in "resort", four of the 200 also start
// or stop needing action, which moves them in the list.
func BenchmarkApply(b *testing.B) {
	for _, bb := range []struct {
		name      string
		moveEvery int
	}{{"rows", 0}, {"resort", 50}} {
		b.Run(bb.name, func(b *testing.B) { benchmarkApply(b, bb.moveEvery) })
	}
}

func benchmarkApply(b *testing.B, moveEvery int) {
	const accounts, changes = 1000, 200
	var all []core.Status
	for i := range accounts {
		a := core.Account{ID: core.AccountID(fmt.Sprintf("acct-%04d", i)), Name: fmt.Sprintf("Account %04d", i),
			JID: fmt.Sprintf("1555%07d.0:1@s.whatsapp.net", i)}
		all = append(all, core.Status{Account: a, State: core.Connected, Since: t0.Add(-time.Hour)})
	}
	w, _ := newTestWindow(b, all...)
	selectRowB(b, w, all[0].Account.ID)

	// Two batches that undo each other, so every iteration changes 200 rows.
	var batches [2][]core.Status
	for i := range changes {
		s := all[(i*7)%accounts]
		down := s
		down.State, down.Attempt, down.NextAttempt, down.Since = core.Waiting, 1+i%5, t0.Add(time.Duration(i%9)*time.Second), t0
		if moveEvery > 0 && i%moveEvery == 0 {
			down.State, down.Reason = core.LoggedOut, "The phone removed this linked device."
		}
		batches[0] = append(batches[0], down)
		batches[1] = append(batches[1], s)
	}
	b.ResetTimer()
	for i := range b.N {
		w.apply(batches[i%2])
	}
}

func selectRowB(b *testing.B, w *Window, id core.AccountID) {
	w.list.list.Select(w.list.index[id])
	if w.detail.status.Account.ID != id {
		b.Fatalf("could not select %s", id)
	}
}
