package ui

import (
	"fmt"
	"maps"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
	"warden/core/history"
)

// offlineNotice is the window-wide notice that this computer, not the
// accounts, cannot reach WhatsApp: every account that tried lately failed
// the same way (history.Offline). Fyne's thread only.
type offlineNotice struct {
	text   *widget.Label
	banner *fyne.Container // hidden while the dials do not all fail alike

	relayout func() // the notice appeared, went or has other words
}

func newOfflineNotice() *offlineNotice {
	n := &offlineNotice{text: &widget.Label{Wrapping: fyne.TextWrapWord, TextStyle: fyne.TextStyle{Bold: true}}}
	tint := stateColor(core.LoggedOut)
	tint.A = 0x38 // a tint that reads on both themes
	n.banner = container.NewStack(
		&canvas.Rectangle{FillColor: tint, CornerRadius: 6},
		container.NewBorder(nil, nil, container.NewPadded(widget.NewIcon(theme.ErrorIcon())), nil, n.text),
	)
	n.banner.Hide()
	return n
}

// offlineText words the notice for n accounts kept off by problem p.
func offlineText(p core.DialProblem, n int) string {
	minutes := int(history.OfflineWindow / time.Minute)
	if n == 1 {
		return fmt.Sprintf("%s. The account that tried in the last %d minutes failed this way.", capitalize(p.Summary()), minutes)
	}
	return fmt.Sprintf("%s. All %d accounts that tried in the last %d minutes failed this way.", capitalize(p.Summary()), n, minutes)
}

// update shows, changes or hides the notice for the statuses at now.
func (n *offlineNotice) update(statuses map[core.AccountID]core.Status, now time.Time) {
	p, count := history.Offline(maps.Values(statuses), now)
	changed := false
	if count == 0 {
		changed = setShown(n.banner, false)
	} else {
		text := offlineText(p, count)
		changed = n.text.Text != text || !n.banner.Visible()
		setText(n.text, text)
		n.banner.Show()
	}
	if changed && n.relayout != nil {
		n.relayout()
	}
}
