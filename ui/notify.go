package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"

	"warden/core"
)

// needsActionNotification is the desktop notification for accounts that just
// came to need the operator, one for a whole batch; nil when none did.
func needsActionNotification(became []core.Status, now time.Time) *fyne.Notification {
	switch len(became) {
	case 0:
		return nil
	case 1:
		s := became[0]
		return fyne.NewNotification("Warden: “"+s.Account.Name+"” needs action", statusLine(s, now))
	}
	names := make([]string, 0, 3)
	for _, s := range became[:min(3, len(became))] {
		names = append(names, "“"+s.Account.Name+"”")
	}
	content := strings.Join(names, ", ")
	if more := len(became) - len(names); more > 0 {
		content += fmt.Sprintf(" and %d more", more)
	}
	return fyne.NewNotification(fmt.Sprintf("Warden: %d connections need action", len(became)), content)
}

// dropWindow is how far back the "many dropped" banner looks.
const dropWindow = time.Minute

// dropTracker remembers when connected accounts dropped, to tell a mass drop
// (the network or WhatsApp) from one account's trouble.
type dropTracker struct {
	times []time.Time // oldest first
}

// isDrop reports whether a change from old to s is a connection that dropped
// by itself (not one the operator stopped).
func isDrop(old, s core.Status) bool {
	return old.State == core.Connected && (s.State == core.Waiting || s.State == core.Connecting)
}

func (d *dropTracker) add(t time.Time) { d.times = append(d.times, t) }

// count returns the drops within dropWindow before now.
func (d *dropTracker) count(now time.Time) int {
	i := 0
	for i < len(d.times) && now.Sub(d.times[i]) > dropWindow {
		i++
	}
	d.times = d.times[i:]
	return len(d.times)
}

// manyDropped decides whether drops out of total accounts call for the
// banner: at least 3, and at least a tenth of the accounts.
func manyDropped(drops, total int) bool {
	return drops >= 3 && drops*10 >= total
}
