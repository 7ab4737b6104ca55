package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"warden/core"
)

func TestMessagesText(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.Local)
	day := time.Date(2026, 12, 7, 0, 0, 0, 0, time.Local)
	cases := []struct {
		name  string
		t     core.Traffic
		quiet bool
		want  string
	}{
		{"never", core.Traffic{}, false, "none received yet"},
		{"sent only", core.Traffic{Day: day, Out: 2}, false, "none received yet · today 0 in, 2 out"},
		{"today", core.Traffic{LastIn: now.Add(-190 * time.Second), Day: day, In: 12, Out: 4}, false, "last in at 14:56 (3m 10s ago) · today 12 in, 4 out"},
		{"yesterday's counts", core.Traffic{LastIn: now.Add(-20 * time.Hour), Day: day.AddDate(0, 0, -1), In: 7}, false, "last in at 6 Dec 19:00 (20h 00m ago) · none today"},
		{"quiet", core.Traffic{LastIn: now.Add(-2 * time.Hour), Day: day, In: 1}, true,
			"last in at 13:00 (2h 00m ago) · today 1 in, 0 out\nQuiet: nothing received for 2h 00m while 9 of the 12 other connected accounts received. If it lasts, check Linked devices on the phone."},
	}
	for _, c := range cases {
		s := core.Status{State: core.Connected, Traffic: c.t}
		if got := messagesText(s, core.Quiet{For: 2 * time.Hour, Active: 9, Peers: 12}, c.quiet, now); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// A connected account that receives nothing while its peers do shows the
// hint in its row and on its Overview; it goes once a message comes in.
func TestQuietAccountShowsTheHint(t *testing.T) {
	var sts []core.Status
	for i, name := range []string{"Alpha", "Bravo", "Charlie"} {
		s := core.Status{Account: acct(strings.ToLower(name), name, fmt.Sprintf("1555000%04d.0:3@s.whatsapp.net", i)),
			State: core.Connected, Since: t0.Add(-5 * time.Hour)}
		s.Traffic.LastIn = t0.Add(-time.Duration(i+1) * time.Minute)
		sts = append(sts, s)
	}
	silent := core.Status{Account: acct("silent", "Silent", "15550009999.0:3@s.whatsapp.net"),
		State: core.Connected, Since: t0.Add(-5 * time.Hour), Traffic: core.Traffic{LastIn: t0.Add(-2 * time.Hour)}}
	w, _ := newTestWindow(t, append(sts, silent)...)
	w.tick()

	row := func(id core.AccountID) string {
		v := w.list.bound[id]
		if v == nil {
			t.Fatalf("no row shows %s", id)
		}
		return v.line.Text
	}
	if got := row("silent"); !strings.Contains(got, "quiet for 2h 00m") {
		t.Errorf("the silent account's row says %q, want the quiet hint", got)
	}
	if got := row("alpha"); strings.Contains(got, "quiet") {
		t.Errorf("a receiving account's row says %q", got)
	}
	w.list.list.Select(w.list.index["silent"])
	if got := w.detail.factLabels["Messages"].Text; !strings.Contains(got, "Quiet: nothing received for 2h 00m while 3 of the 3 other connected accounts received") {
		t.Errorf("the Overview's Messages fact says %q, want the quiet hint", got)
	}

	silent.Traffic.LastIn = t0
	w.apply([]core.Status{silent})
	if got := row("silent"); strings.Contains(got, "quiet") {
		t.Errorf("after a message came in the row still says %q", got)
	}
	if got := w.detail.factLabels["Messages"].Text; strings.Contains(got, "Quiet") {
		t.Errorf("after a message came in the Overview still says %q", got)
	}
}
