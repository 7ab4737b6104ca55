package ui

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
	"warden/core/history"
)

// eventSource streams every account's timeline events, as core.Manager's
// SubscribeEvents does; the fleet banner and the flapping badges follow it.
type eventSource interface {
	SubscribeEvents() (events <-chan core.Event, cancel func())
}

// fleetWatch follows the disconnects of every account: it keeps the fleet
// alert (history.Fleet: many accounts dropped together, for a reason the
// network or WhatsApp explains) and which accounts are flapping
// (history.Flapping). Fyne's thread only.
type fleetWatch struct {
	alert       history.Fleet
	disconnects map[core.AccountID][]time.Time           // each account's disconnects within history.FlapWindow
	dismissed   map[core.AccountID]bool                  // the accounts of the banner the operator dismissed
	shown       []core.AccountID                         // the accounts the banner names
	flapping    map[core.AccountID]bool                  // as last shown
	onShow      func(ids []core.AccountID, at time.Time) // "Show these accounts"
	at          time.Time                                // when the banner's last drop happened

	relayout func() // the banner appeared or went

	text                      *widget.Label
	showButton, dismissButton *widget.Button
	banner                    *fyne.Container // hidden while there is no fleet drop to show
}

func newFleetWatch() *fleetWatch {
	f := &fleetWatch{
		disconnects: map[core.AccountID][]time.Time{},
		flapping:    map[core.AccountID]bool{},
		text:        &widget.Label{Wrapping: fyne.TextWrapWord},
	}
	tint := stateColor(core.Waiting)
	tint.A = 0x40 // a tint that reads on both themes
	show := &widget.Button{Text: "Show these accounts", Icon: theme.VisibilityIcon(), Importance: widget.LowImportance, OnTapped: func() {
		if f.onShow != nil {
			f.onShow(slices.Clone(f.shown), f.at)
		}
	}}
	dismiss := &widget.Button{Icon: theme.CancelIcon(), Importance: widget.LowImportance, OnTapped: func() {
		f.dismiss()
		if f.relayout != nil {
			f.relayout()
		}
	}}
	f.showButton, f.dismissButton = show, dismiss
	f.banner = container.NewStack(
		&canvas.Rectangle{FillColor: tint, CornerRadius: 6},
		container.NewBorder(nil, nil,
			container.NewPadded(widget.NewIcon(theme.WarningIcon())),
			container.NewHBox(show, dismiss),
			f.text),
	)
	f.banner.Hide()
	return f
}

// observe takes a batch of timeline events of a fleet of total accounts
// and reports whether the fleet alert came, changed or went.
func (f *fleetWatch) observe(evs []core.Event, total int) bool {
	var newest time.Time
	for _, ev := range evs {
		if !history.IsDisconnect(ev) {
			continue
		}
		f.disconnects[ev.Account] = append(f.disconnects[ev.Account], ev.At)
		if ev.At.After(newest) {
			newest = ev.At
		}
	}
	if !newest.IsZero() {
		f.prune(newest)
	}
	return f.alert.Observe(evs, total)
}

// prune forgets the disconnects older than history.FlapWindow before
// newest.
func (f *fleetWatch) prune(newest time.Time) {
	for id, ts := range f.disconnects {
		ts = slices.DeleteFunc(ts, func(t time.Time) bool { return newest.Sub(t) > history.FlapWindow })
		if len(ts) == 0 {
			delete(f.disconnects, id)
		} else {
			f.disconnects[id] = ts
		}
	}
}

// isFlapping reports whether id had more than history.FlapLimit disconnects
// within history.FlapWindow before now.
func (f *fleetWatch) isFlapping(id core.AccountID, now time.Time) bool {
	return history.Flapping(f.disconnects[id], now)
}

// show puts the banner up for the alert a, unless the operator dismissed a
// banner naming all of its accounts already. It reports whether the banner
// is new or names other accounts. loc is the operator's time zone.
func (f *fleetWatch) show(a history.FleetAlert, loc *time.Location) bool {
	ids := a.Accounts
	if f.dismissed != nil && !slices.ContainsFunc(ids, func(id core.AccountID) bool { return !f.dismissed[id] }) {
		return false
	}
	f.dismissed = nil
	changed := !f.banner.Visible() || !slices.Equal(ids, f.shown)
	f.shown, f.at = ids, a.At.In(loc)
	f.setText(a)
	f.banner.Show()
	return changed
}

// setText words the alert a on the banner: what happened, the likely
// cause, when, and how many of the accounts are back.
func (f *fleetWatch) setText(a history.FleetAlert) {
	text := a.Headline() + " (" + f.at.Format("15:04") + "): " + a.Likely() + "."
	if a.Back > 0 {
		text += fmt.Sprintf(" %d of %d are back.", a.Back, len(a.Accounts))
	}
	setText(f.text, text)
}

// hide takes the banner down: its accounts are back.
func (f *fleetWatch) hide() {
	f.shown = nil
	f.dismissed = nil
	f.banner.Hide()
}

// dismiss hides the banner until a drop of another account.
func (f *fleetWatch) dismiss() {
	f.dismissed = map[core.AccountID]bool{}
	for _, id := range f.shown {
		f.dismissed[id] = true
	}
	f.shown = nil
	f.banner.Hide()
}

// followEvents reads the controller's timeline events until ctx ends and
// hands them to applyEvents on Fyne's thread, in batches at most every
// applyEvery, one batch at a time.
func (w *Window) followEvents(ctx context.Context, src eventSource) {
	defer w.wg.Done()
	events, cancel := src.SubscribeEvents()
	defer cancel()
	batchFeed(ctx, events, applyEvery, 0, func(batch []core.Event, done func()) {
		w.do(func() {
			w.applyEvents(batch)
			done()
		})
	})
}

// applyEvents takes timeline events into the fleet banner and the flapping
// badges; on Fyne's thread.
func (w *Window) applyEvents(evs []core.Event) {
	if w.ctx.Err() != nil {
		return
	}
	w.detail.send.observe(evs)
	changed := w.fleet.observe(evs, len(w.statuses))
	a, up := w.fleet.alert.Alert()
	switch {
	case changed && up:
		if w.fleet.show(a, w.now().Location()) {
			w.fleet.relayout()
			names := make([]string, 0, len(a.Accounts))
			for _, id := range a.Accounts {
				if s, ok := w.statuses[id]; ok {
					names = append(names, s.Account.Name)
				}
			}
			w.alerts.fleetDropped(a, names)
		}
	case changed && w.fleet.banner.Visible():
		w.fleet.hide()
		w.fleet.relayout()
	case up && w.fleet.banner.Visible():
		w.fleet.setText(a) // how many are back
	}
	w.refreshFlapping(w.now())
}

// refreshFlapping shows the flapping badge on the rows and the detail
// header of the accounts that flap at now, and takes it off the others.
func (w *Window) refreshFlapping(now time.Time) {
	next := map[core.AccountID]bool{}
	for id := range w.fleet.disconnects {
		if w.fleet.isFlapping(id, now) {
			next[id] = true
		}
	}
	prev := w.fleet.flapping
	w.fleet.flapping = next
	for id := range next {
		if !prev[id] {
			w.list.refreshFlapping(id)
		}
	}
	for id := range prev {
		if !next[id] {
			w.list.refreshFlapping(id)
		}
	}
	if w.detail.shown {
		w.detail.setFlapping(next[w.detail.status.Account.ID])
	}
}

// showOnly filters the list to the accounts of a fleet drop.
func (w *Window) showOnly(ids []core.AccountID, at time.Time) {
	w.list.showOnly(ids, fmt.Sprintf("The %d accounts that disconnected at %s", len(ids), at.Format("15:04")))
}

// newFlapBadge returns the "flapping" badge, hidden: the word in the
// theme's text colour, framed and tinted in the reconnecting colour, so that
// it reads on both themes and is not taken for a state's badge.
func newFlapBadge(size float32) *fyne.Container {
	b := &flapBadge{size: size}
	b.ExtendBaseWidget(b)
	c := container.NewCenter(b)
	c.Hide()
	return c
}

// flapBadge is the word "flapping" in a rounded frame.
type flapBadge struct {
	widget.BaseWidget
	size float32
}

func (b *flapBadge) CreateRenderer() fyne.WidgetRenderer {
	c := stateColor(core.Waiting)
	tint := c
	tint.A = 0x38
	r := &flapRenderer{
		bg:   &canvas.Rectangle{FillColor: tint, StrokeColor: c, StrokeWidth: 1.5, CornerRadius: 4},
		text: &canvas.Text{Text: "flapping", TextStyle: fyne.TextStyle{Bold: true}, TextSize: b.size},
	}
	r.Refresh()
	return r
}

type flapRenderer struct {
	bg   *canvas.Rectangle
	text *canvas.Text
}

// The space around the word.
const flapPadX, flapPadY = 6, 1

func (r *flapRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	ts := r.text.MinSize()
	r.text.Resize(ts)
	r.text.Move(fyne.NewPos((size.Width-ts.Width)/2, (size.Height-ts.Height)/2))
}

func (r *flapRenderer) MinSize() fyne.Size {
	return r.text.MinSize().Add(fyne.NewSize(2*flapPadX, 2*flapPadY))
}

func (r *flapRenderer) Refresh() {
	r.text.Color = theme.Color(theme.ColorNameForeground)
	r.text.Refresh()
	r.bg.Refresh()
}

func (r *flapRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.bg, r.text} }
func (r *flapRenderer) Destroy()                     {}

// setFlapping shows or hides the detail header's flapping badge.
func (d *detailView) setFlapping(on bool) {
	if setShown(d.flap, on) {
		d.sinceRow.Refresh()
	}
}

// setShown shows or hides o and reports whether that changed anything.
func setShown(o fyne.CanvasObject, on bool) bool {
	if o.Visible() == on {
		return false
	}
	if on {
		o.Show()
	} else {
		o.Hide()
	}
	return true
}
