package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// actionKind is one thing the operator can do to an account.
type actionKind int

const (
	actConnect actionKind = iota // Connect, Retry now, Take over or Pair again
	actDisconnect
	actLogout
	actDelete
)

// action is a button of the detail header.
type action struct {
	kind  actionKind
	label string
}

// actionsFor lists the actions allowed in s's state, in the order shown.
func actionsFor(s core.Status) []action {
	var acts []action
	switch s.State {
	case core.Waiting:
		acts = append(acts, action{actConnect, "Retry now"})
	case core.Replaced:
		acts = append(acts, action{actConnect, "Take over"})
	case core.LoggedOut:
		acts = append(acts, action{actConnect, "Pair again"})
	case core.Idle:
		if !qrExpired(s) { // the pairing view offers "New code" instead
			acts = append(acts, action{actConnect, "Connect"})
		}
	case core.Failed, core.Outdated, core.Banned:
		acts = append(acts, action{actConnect, "Connect"})
	}
	switch s.State {
	case core.Pairing, core.Connecting, core.Connected, core.Waiting, core.Banned:
		acts = append(acts, action{actDisconnect, "Disconnect"})
	case core.Replaced:
		if !s.NextAttempt.IsZero() { // a takeover is pending: Disconnect cancels it
			acts = append(acts, action{actDisconnect, "Disconnect"})
		}
	}
	if s.State == core.Connected {
		acts = append(acts, action{actLogout, "Log out"})
	}
	return append(acts, action{actDelete, "Delete"})
}

// detailView is the right pane: the selected account's header with its
// actions, and below it the pairing view or the account's facts and recent
// activity.
type detailView struct {
	onAction func(actionKind, core.Status)
	onRename func(id core.AccountID, name string, done func(ok bool))
	// onSend sends a test message; set by the window.
	onSend func(id core.AccountID, to string)

	status  core.Status
	shown   bool      // an account is selected
	laidOut layoutKey // the status the pane was last laid out for

	name      *widget.Label
	nameEntry *escapeEntry
	nameShow  *fyne.Container
	nameEdit  *fyne.Container
	badge     *badge
	flap      *fyne.Container // the flapping badge (fleet.go)
	since     *widget.RichText
	line      *widget.Label
	reason    *widget.RichText
	// details is the last dial's error as it came, behind detailsButton;
	// collapsed by default and for every other account.
	detailsButton *widget.Button
	detailsText   *widget.Label
	details       *fyne.Container
	actions       *fyne.Container
	buttons       map[actionKind]*widget.Button
	pairing       *pairingView
	send          *sendView
	facts         *widget.Form
	factLabels    map[string]*widget.Label
	// onProxy opens the proxy dialog for the shown account.
	onProxy     func(core.Status)
	proxyButton *widget.Button
	// self is this node's name, in a fleet (nodes.go).
	self     string
	events   *widget.Label
	info     *fyne.Container
	body     *fyne.Container
	header   *fyne.Container
	sinceRow *fyne.Container
	top      *fyne.Container
	frame    *fyne.Container
	empty    *fyne.Container
	content  *fyne.Container

	// tabs hold the body under the header: Overview, then the tabs added
	// with addTab (Timeline, Logs).
	tabs     *container.AppTabs
	overview *container.TabItem
	onShown  map[*container.TabItem]func(shown bool)
	timeline *timelineTab // nil until setTimeline
	tickedAt time.Time    // the time of the last tick, for a redraw between ticks
	// quiet reports an account's liveness hint (traffic.go).
	quiet func(core.AccountID) (core.Quiet, bool)
}

func newDetailView(onAction func(actionKind, core.Status), onRename func(core.AccountID, string, func(bool)), pairing *pairingView) *detailView {
	d := &detailView{onAction: onAction, onRename: onRename, pairing: pairing, buttons: map[actionKind]*widget.Button{}}

	d.name = &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText}
	rename := &widget.Button{Icon: theme.DocumentCreateIcon(), Importance: widget.LowImportance, OnTapped: d.startRename}
	d.nameShow = container.NewHBox(d.name, rename)
	d.nameEntry = newEscapeEntry(d.stopRename)
	d.nameEntry.PlaceHolder = "Name"
	d.nameEntry.OnSubmitted = func(string) { d.saveRename() }
	d.nameEdit = container.NewBorder(nil, nil, nil,
		container.NewHBox(
			&widget.Button{Icon: theme.ConfirmIcon(), Importance: widget.HighImportance, OnTapped: d.saveRename},
			&widget.Button{Icon: theme.CancelIcon(), OnTapped: d.stopRename},
		),
		d.nameEntry)
	d.nameEdit.Hide()

	d.badge = newBadge()
	d.since = newMuted(theme.SizeNameText)
	d.line = &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Wrapping: fyne.TextWrapWord}
	d.reason = newMuted(theme.SizeNameText)
	d.reason.Wrapping = fyne.TextWrapWord
	d.detailsText = &widget.Label{Selectable: true, Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText}
	d.detailsText.Hide()
	d.detailsButton = &widget.Button{Text: "Details", Icon: theme.MenuDropDownIcon(), Importance: widget.LowImportance,
		IconPlacement: widget.ButtonIconTrailingText, OnTapped: func() { d.showDetails(!d.detailsText.Visible()) }}
	d.details = container.NewVBox(container.NewHBox(d.detailsButton), d.detailsText)

	for _, k := range []actionKind{actConnect, actDisconnect, actLogout, actDelete} {
		b := &widget.Button{}
		kind := k
		b.OnTapped = func() { d.onAction(kind, d.status) }
		d.buttons[k] = b
	}
	d.buttons[actConnect].Importance = widget.HighImportance
	d.buttons[actConnect].Icon = theme.MediaPlayIcon()
	d.buttons[actDisconnect].Icon = theme.MediaStopIcon()
	d.buttons[actLogout].Icon = theme.LogoutIcon()
	d.buttons[actDelete].Icon = theme.DeleteIcon()
	d.actions = container.New(layout.NewRowWrapLayout())

	d.flap = newFlapBadge(theme.TextSize())
	d.sinceRow = container.NewHBox(d.badge.content, d.flap, d.since)
	d.header = container.NewVBox(
		container.NewStack(d.nameShow, d.nameEdit),
		d.sinceRow,
		d.line,
		d.reason,
		d.details,
		d.actions,
	)

	d.factLabels = map[string]*widget.Label{}
	d.facts = widget.NewForm()
	for _, k := range []string{"Phone", "Proxy", "Messages", "Attempt", "Next try", "Session", "Self-check", "Added", "Account ID"} {
		l := &widget.Label{Selectable: true}
		if k == "Messages" {
			l.Wrapping = fyne.TextWrapWord
		}
		d.factLabels[k] = l
		if k == "Proxy" {
			change := &widget.Button{Text: "Change…", Importance: widget.LowImportance, OnTapped: func() {
				if d.onProxy != nil {
					d.onProxy(d.status)
				}
			}}
			d.proxyButton = change
			d.facts.Append(k, container.NewHBox(l, change))
			continue
		}
		d.facts.Append(k, l)
	}
	d.events = &widget.Label{Wrapping: fyne.TextWrapWord, SizeName: theme.SizeNameCaptionText}
	d.send = newSendView(func(id core.AccountID, to string) {
		if d.onSend != nil {
			d.onSend(id, to)
		}
	})
	d.info = container.NewVBox(
		d.send.content,
		d.facts,
		widget.NewSeparator(),
		&widget.Label{Text: "Recent activity", TextStyle: fyne.TextStyle{Bold: true}},
		d.events,
	)
	d.body = container.NewStack(d.pairing.content, d.info)

	hint := newMuted(theme.SizeNameText)
	setMuted(hint, "Select a connection on the left, or add one with Ctrl+N.")
	d.empty = container.NewCenter(hint)
	d.top = container.NewVBox(d.header, widget.NewSeparator())
	d.overview = container.NewTabItem("Overview", container.NewVScroll(container.NewPadded(d.body)))
	d.tabs = container.NewAppTabs(d.overview)
	d.onShown = map[*container.TabItem]func(bool){}
	d.tabs.OnSelected = d.tabSelected
	d.frame = container.NewBorder(d.top, nil, nil, nil, d.tabs)
	d.content = container.NewStack(container.NewPadded(d.frame), d.empty)
	d.pairing.relayout = d.content.Refresh
	d.pairing.onMode = func() { d.tick(d.tickedAt) }
	d.send.relayout = d.content.Refresh
	d.clear()
	return d
}

// addTab adds a tab after the others. onShown, if not nil, is told when the
// tab comes on screen (true) and leaves it (false).
func (d *detailView) addTab(title string, content fyne.CanvasObject, onShown func(shown bool)) *container.TabItem {
	item := container.NewTabItem(title, content)
	if onShown != nil {
		d.onShown[item] = onShown
	}
	d.tabs.Append(item)
	return item
}

// selectTab shows the i-th tab (0 Overview, 1 Timeline, 2 Logs) of the
// account on screen; nothing happens without one or without that tab.
func (d *detailView) selectTab(i int) {
	if !d.shown || i < 0 || i >= len(d.tabs.Items) {
		return
	}
	d.tabs.SelectIndex(i)
}

// tabSelected tells the tabs which of them is on screen.
func (d *detailView) tabSelected(selected *container.TabItem) {
	for item, f := range d.onShown {
		f(item == selected && d.shown)
	}
}

// setTimeline adds the Timeline tab.
func (d *detailView) setTimeline(t *timelineTab) {
	d.timeline = t
	d.addTab("Timeline", t.content, t.setShown)
}

// clear shows that no account is selected.
func (d *detailView) clear() {
	d.shown = false
	d.status = core.Status{}
	if d.timeline != nil {
		d.timeline.setAccount(core.Account{})
	}
	d.tabSelected(d.tabs.Selected())
	d.laidOut = layoutKey{}
	d.content.Objects[0].Hide()
	d.pairing.spin(false)
	d.empty.Show()
}

// show displays s; it is called for every update of the selected account.
func (d *detailView) show(s core.Status, now time.Time) {
	if s.Account.ID != d.status.Account.ID {
		d.stopRename()
	}
	wasShown := d.shown
	d.shown = true
	d.status = s
	if d.timeline != nil {
		d.timeline.setAccount(s.Account)
	}
	if !wasShown {
		d.tabSelected(d.tabs.Selected())
	}
	d.empty.Hide()
	d.content.Objects[0].Show()

	setText(d.name, s.Account.Name)
	d.badge.set(s)
	d.tick(now)
	reason := capitalize(s.Reason) // core's reasons are phrases; show them as sentences
	if s.State == core.Replaced && s.NextAttempt.IsZero() && reason == "" {
		reason = "Another client is using this account. Take over when you are sure the other client is gone."
	}
	setMuted(d.reason, reason)
	if reason == "" || strings.Contains(strings.ToLower(statusLine(s, now)), strings.ToLower(reason)) {
		d.reason.Hide()
	} else {
		d.reason.Show()
	}
	if s.Account.ID != d.laidOut.id {
		d.showDetails(false)
	}
	setText(d.detailsText, s.Detail)
	setShown(d.details, s.Detail != "" && s.Detail != s.Reason)

	var objs []fyne.CanvasObject
	for _, a := range actionsFor(s) {
		b := d.buttons[a.kind]
		if b.Text != a.label {
			b.SetText(a.label)
		}
		objs = append(objs, b)
	}
	if !sameObjects(d.actions.Objects, objs) {
		d.actions.Objects = objs
		d.actions.Refresh()
	}

	if s.State == core.Pairing || qrExpired(s) {
		d.pairing.show(s, now)
		d.pairing.content.Show()
		d.pairing.spin(d.pairing.waiting.Visible())
		d.info.Hide()
	} else {
		d.pairing.content.Hide()
		d.pairing.spin(false)
		d.info.Show()
	}
	d.setFacts(s, now)
	d.send.show(s)
	// Lay the pane out again only when its shape may have changed: all of
	// it for another account or body, the header alone for another state.
	// Texts that merely change (countdowns, attempts) need no new layout.
	k := layoutKeyOf(s)
	if k.pairing() && !d.laidOut.pairing() && d.tabs.Selected() != d.overview {
		d.tabs.Select(d.overview) // the QR code is on the Overview
	}
	switch {
	case k.id != d.laidOut.id || k.pairing() != d.laidOut.pairing():
		d.content.Refresh()
	case k != d.laidOut:
		for _, c := range []*fyne.Container{d.sinceRow, d.actions, d.header, d.top, d.frame} {
			c.Layout.Layout(c.Objects, c.Size())
		}
	}
	d.laidOut = k
}

// pairing reports whether the body shows the pairing view.
func (k layoutKey) pairing() bool { return k.state == core.Pairing || k.expired }

// layoutKey is what decides the detail pane's layout.
type layoutKey struct {
	id            core.AccountID
	state         core.State
	name, reason  string
	phone         string
	pending, hasQ bool
	expired       bool
	details       bool // the error's details can be shown
}

func layoutKeyOf(s core.Status) layoutKey {
	return layoutKey{
		id: s.Account.ID, state: s.State, name: s.Account.Name, reason: s.Reason, phone: s.Account.Phone(),
		pending: !s.NextAttempt.IsZero(), hasQ: s.QRCode != "", expired: qrExpired(s),
		details: s.Detail != "" && s.Detail != s.Reason,
	}
}

// showDetails opens or closes the error's details.
func (d *detailView) showDetails(open bool) {
	if !setShown(d.detailsText, open) {
		return
	}
	if open {
		d.detailsButton.SetText("Hide details")
		d.detailsButton.SetIcon(theme.MenuDropUpIcon())
	} else {
		d.detailsButton.SetText("Details")
		d.detailsButton.SetIcon(theme.MenuDropDownIcon())
	}
	d.content.Refresh()
}

// tick refreshes the clock-dependent texts.
func (d *detailView) tick(now time.Time) {
	// Fyne restarts the bar's animation when it makes its renderer again
	// (after dropping an unused one), on screen or not.
	if p := d.pairing; p.spinner.Running() && !(d.shown && p.content.Visible() && p.waiting.Visible()) {
		p.spinner.Stop()
	}
	if !d.shown {
		return
	}
	d.tickedAt = now
	s := d.status
	setMuted(d.since, sinceLine(s, now))
	line := statusLine(s, now)
	if s.State == core.Pairing {
		d.pairing.tick(now)
		if l := d.pairing.line(); l != "" {
			line = l // by phone number: the QR code is hidden
		}
	}
	setText(d.line, line)
	d.setNextTry(s, now)
	d.setMessages(s, now)
	if d.timeline != nil {
		d.timeline.tick(now)
	}
}

func (d *detailView) setFacts(s core.Status, now time.Time) {
	phone := "not paired yet"
	if p := s.Account.Phone(); p != "" {
		phone = "+" + p
	}
	setText(d.factLabels["Phone"], phone)
	setText(d.factLabels["Proxy"], proxyText(s.Account.Proxy))
	if l, ok := d.factLabels["Node"]; ok {
		setText(l, nodeText(s, d.self))
	}
	attempt := "—"
	if s.Attempt > 0 {
		attempt = strconv.Itoa(s.Attempt)
	}
	setText(d.factLabels["Attempt"], attempt)
	session := "—"
	if s.Epoch > 0 {
		session = fmt.Sprintf("#%d", s.Epoch)
	}
	setText(d.factLabels["Session"], session)
	check := selfCheckLine(s.LastCheck, now)
	if check == "" {
		check = "—"
	}
	setText(d.factLabels["Self-check"], check)
	added := "—"
	if !s.Account.CreatedAt.IsZero() {
		added = s.Account.CreatedAt.In(now.Location()).Format("2 Jan 2006 15:04")
	}
	setText(d.factLabels["Added"], added)
	setText(d.factLabels["Account ID"], string(s.Account.ID))
	d.setNextTry(s, now)
	d.setMessages(s, now)
}

// setMessages shows the Messages fact.
func (d *detailView) setMessages(s core.Status, now time.Time) {
	var q core.Quiet
	var quiet bool
	if d.quiet != nil {
		q, quiet = d.quiet(s.Account.ID)
	}
	setText(d.factLabels["Messages"], messagesText(s, q, quiet, now))
}

func (d *detailView) setNextTry(s core.Status, now time.Time) {
	next := "—"
	if !s.NextAttempt.IsZero() {
		next = s.NextAttempt.In(now.Location()).Format("15:04:05")
		if s.NextAttempt.Sub(now) > 12*time.Hour {
			next = clockTime(s.NextAttempt, now)
		}
		if s.NextAttempt.After(now) {
			next += " · in " + formatCountdown(s.NextAttempt, now)
		}
	}
	setText(d.factLabels["Next try"], next)
}

// setEvents shows the account's newest events, newest first.
func (d *detailView) setEvents(id core.AccountID, evs []core.Event, now time.Time) {
	if id != d.status.Account.ID {
		return
	}
	if len(evs) == 0 {
		setText(d.events, "Nothing yet.")
		return
	}
	var b strings.Builder
	for i := len(evs) - 1; i >= 0; i-- {
		b.WriteString(eventLine(evs[i], now))
		if i > 0 {
			b.WriteByte('\n')
		}
	}
	setText(d.events, b.String())
}

// eventLine writes one timeline entry: "14:02:11  Connected ⟶ Reconnecting ·
// disconnected · stream error 515 · next try in 3 s".
func eventLine(e core.Event, now time.Time) string {
	at := e.At.In(now.Location())
	when := at.Format("15:04:05")
	if y, m, dd := at.Date(); y != now.Year() || m != now.Month() || dd != now.Day() {
		when = at.Format("2 Jan 15:04:05")
	}
	parts := []string{}
	if e.From != e.To {
		parts = append(parts, stateWord(e.From)+" ⟶ "+eventWord(e))
	}
	if e.Cause != "" {
		parts = append(parts, e.Cause)
	}
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if e.Attempt > 0 {
		parts = append(parts, fmt.Sprintf("attempt %d", e.Attempt))
	}
	if e.Delay > 0 {
		parts = append(parts, "next try in "+formatDuration(e.Delay))
	}
	return when + "   " + strings.Join(parts, " · ")
}

func (d *detailView) startRename() {
	if !d.shown {
		return
	}
	d.nameEntry.SetText(d.status.Account.Name)
	d.nameShow.Hide()
	d.nameEdit.Show()
	if c := fyne.CurrentApp().Driver().CanvasForObject(d.nameEntry); c != nil {
		c.Focus(d.nameEntry)
	}
}

func (d *detailView) stopRename() {
	d.nameEdit.Hide()
	d.nameShow.Show()
}

func (d *detailView) saveRename() {
	name := strings.TrimSpace(d.nameEntry.Text)
	if name == "" || name == d.status.Account.Name {
		d.stopRename()
		return
	}
	id := d.status.Account.ID
	d.onRename(id, name, func(ok bool) {
		if ok && d.status.Account.ID == id {
			setText(d.name, name)
			d.stopRename()
		}
	})
}

func sameObjects(a, b []fyne.CanvasObject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// badge is the state's word on the state's colour.
type badge struct {
	bg      *canvas.Rectangle
	text    *canvas.Text
	content *fyne.Container
}

func newBadge() *badge {
	b := &badge{
		bg:   &canvas.Rectangle{CornerRadius: 6},
		text: &canvas.Text{TextStyle: fyne.TextStyle{Bold: true}, TextSize: theme.TextSize()},
	}
	b.content = container.NewCenter(container.NewStack(b.bg, container.New(layout.NewCustomPaddedLayout(3, 3, 10, 10), b.text)))
	return b
}

func (b *badge) set(s core.Status) {
	c := statusColor(s)
	b.bg.FillColor = c
	b.text.Text = statusWord(s)
	b.text.Color = textOn(c)
	b.content.Refresh()
}

// escapeEntry is an Entry that Escape leaves: Enter saves, Escape cancels.
type escapeEntry struct {
	widget.Entry
	onEscape func()
}

func newEscapeEntry(onEscape func()) *escapeEntry {
	e := &escapeEntry{onEscape: onEscape}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey cancels on Escape and leaves the other keys to the Entry.
func (e *escapeEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyEscape && e.onEscape != nil {
		e.onEscape()
		return
	}
	e.Entry.TypedKey(ev)
}
