package ui

import (
	"context"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// Options configures the window.
type Options struct {
	// Title is the window's title; "Warden" when empty.
	Title string
	// Now is the clock for countdowns and "since"; time.Now when nil.
	Now func() time.Time
	// Size is the window's first size, as saved by OnResize; a default
	// size when zero.
	Size fyne.Size
	// OnResize is called on Fyne's thread with the window's new size once
	// the operator stopped resizing (the size held for a second), and on
	// Close if it changed since, so that the app can remember the size.
	OnResize func(fyne.Size)
	// OnQuit is called for Ctrl+Q and File › Quit; the app quits when nil.
	OnQuit func()
	// NoNotifications starts with the desktop notifications (accounts that
	// need action, fleet drops) off; SetNotifications changes it later.
	NoNotifications bool
	// Settings loads and saves the settings of File › Settings… (Ctrl+,);
	// without it there is no such item.
	Settings SettingsStore
	// SendHint, when set, replaces the Test message section's explanation
	// (the demo names its recipients there).
	SendHint string
	// About fills in Help › About Warden; without it there is no Help menu.
	About func() About
	// Backup exports and imports accounts (File › Export accounts… and
	// Import accounts…); without it there are no such items.
	Backup Backup
	// Fleet, in a fleet of nodes (--cluster), adds the node of each account,
	// Move…, and the Fleet menu's node list (nodes.go).
	Fleet Fleet
	// API lists, creates and revokes the HTTP API's keys in Settings › API,
	// and says where it is served; without it the tab has no keys.
	API API
	// Webhooks lists, adds, tests and deletes the webhooks in Settings ›
	// API, and retries their failed deliveries; without it (a fleet node,
	// for now) the tab has no webhooks.
	Webhooks Webhooks
}

// How often the window redraws at most for status updates, and how often
// countdowns tick.
const (
	applyEvery = 50 * time.Millisecond // at most 20 redraws a second
	tickEvery  = time.Second
)

// defaultSize is the window's size on first start.
var defaultSize = fyne.NewSize(1120, 720)

// Window is Warden's main window.
type Window struct {
	// nodesTick reloads the open Fleet › Nodes… list; Fyne's thread only.
	nodesTick func()
	// settings is the open Settings dialog, nil when closed; Fyne's
	// thread only.
	settings *settingsDialog

	app  fyne.App
	win  fyne.Window
	ctl  Controller
	opts Options
	now  func() time.Time

	// statuses is the newest status of every account. It is read and
	// written on Fyne's thread only, by apply.
	statuses map[core.AccountID]core.Status
	logs     *windowLogs   // nil until SetLogSource (logs_window.go)
	dialogs  []*dialogKeys // the open dialogs' keys, the top one last (keys.go)
	// quitQuestion is the keys of the Quit question while it may be open.
	quitQuestion *dialogKeys
	fleet        *fleetWatch                   // the fleet-drop banner and flapping badges (fleet.go)
	offline      *offlineNotice                // "this computer cannot reach WhatsApp" (offline.go)
	quiet        map[core.AccountID]core.Quiet // the quiet accounts (traffic.go)
	alerts       *alerts                       // desktop notifications (notify.go)

	summary *summaryBar
	list    *accountList
	bulk    *bulkBar // the bulk actions' bar (bulk.go)
	split   *container.Split
	// bulkShown is what the last bulk dialog listed, for tests.
	bulkShown []string
	// compactItem is View › Compact list, checked in the compact view.
	compactItem *fyne.MenuItem
	detail      *detailView
	pairing     *pairingView

	// do runs f on Fyne's thread (fyne.Do) for the update loop. async runs
	// work in the background, then the function it returns on Fyne's thread.
	// Tests replace both to run everything on the test's goroutine.
	do    func(f func())
	async func(work func() (then func()))

	updates     <-chan core.Status
	unsubscribe func()
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	closed      atomic.Bool
	winClosed   bool // the operator closed the window itself

	// The window's size: now, at the previous tick, and as last reported
	// to OnResize. Fyne's thread only.
	size, sizeAtTick, sizeReported fyne.Size
}

// New builds the window for ctl, shows every account ctl knows and starts
// following its updates. Call Show or ShowAndRun to put it on screen and
// Close to stop it.
func New(a fyne.App, ctl Controller, opts Options) *Window {
	w := newWindow(a, ctl, opts)
	w.start()
	return w
}

// newWindow builds the window without starting its goroutines.
func newWindow(a fyne.App, ctl Controller, opts Options) *Window {
	if opts.Title == "" {
		opts.Title = "Warden"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	w := &Window{
		app:      a,
		ctl:      ctl,
		opts:     opts,
		now:      opts.Now,
		statuses: map[core.AccountID]core.Status{},
		do:       fyne.Do,
	}
	w.async = func(work func() func()) {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			if then := work(); then != nil {
				fyne.Do(then)
			}
		}()
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	// Subscribe before reading the statuses, so no change falls in between.
	w.updates, w.unsubscribe = ctl.Subscribe()

	w.win = a.NewWindow(opts.Title)
	w.summary = newSummaryBar()
	w.alerts = newAlerts(a.SendNotification, !opts.NoNotifications)
	w.fleet = newFleetWatch()
	w.fleet.onShow = w.showOnly
	w.offline = newOfflineNotice()
	w.list = newAccountList(w.statuses, w.now, w.showAddDialog)
	w.list.onSelect = w.selectAccount
	w.list.onDelete = w.confirmDeleteSelected
	w.list.flapping = func(id core.AccountID) bool { return w.fleet.flapping[id] }
	w.list.quiet = w.quietOf
	w.bulk = w.newBulkBar()
	w.list.bottom.Add(w.bulk.content)
	w.list.onMarks = w.marksChanged
	w.list.onGroup = w.summary.setActive
	w.summary.onGroup = w.list.showGroup
	w.list.view.OnTapped = func() { w.setCompact(!w.list.compact) }
	if opts.Fleet != nil {
		w.list.table.setColumns(true)
	}
	w.pairing = newPairingView(w.newCode, w.pairPhone)
	w.detail = newDetailView(w.runAction, w.rename, w.pairing)
	w.detail.quiet = w.quietOf
	w.detail.onSend = w.sendTest
	w.detail.onProxy = func(s core.Status) { w.showProxyDialog(s) }
	if opts.Fleet != nil {
		w.detail.enableFleet(opts.Fleet.Node(), w.showMove)
	}
	if opts.SendHint != "" {
		w.detail.send.hintText = opts.SendHint
	}
	w.detail.setTimeline(newTimelineTab(ctl, w.ctx, w.now,
		func(work func() func()) { w.async(work) }, func() fyne.Window { return w.win }))
	w.detail.timeline.list.onDelete = w.confirmDeleteSelected

	split := container.NewHSplit(container.NewPadded(w.list.content), w.detail.content)
	split.Offset = cardsOffset
	w.split = split
	top := container.NewVBox(container.NewPadded(container.NewVBox(w.summary.content, w.offline.banner, w.fleet.banner)), widget.NewSeparator())
	frame := container.NewBorder(top, nil, nil, nil, split)
	// The banner came, went or has other words: the top bar has another
	// height. Twice, because the wrapped text knows its height only once it
	// was given its width.
	w.fleet.relayout = func() { frame.Refresh(); frame.Refresh() }
	w.offline.relayout = w.fleet.relayout
	w.win.SetContent(container.New(&sizeWatcher{w: w}, frame))
	size := opts.Size
	if size.Width < 200 || size.Height < 150 {
		size = defaultSize
	}
	w.win.Resize(size)
	w.size, w.sizeAtTick, w.sizeReported = size, size, size
	w.setCompact(a.Preferences().Bool(prefCompact))
	w.win.SetOnClosed(func() {
		w.winClosed = true
		w.Close()
	})
	w.installShortcuts()
	// Closing the window quits, and asks as Ctrl+Q does; the app makes it
	// hide the window instead when there is a tray.
	w.win.SetCloseIntercept(w.quit)

	w.apply(ctl.Statuses())
	return w
}

// start runs the goroutine that follows the controller's updates.
func (w *Window) start() {
	// The timeline's live events stop with the update loop: when the window
	// closes or the engine does.
	ctx, stop := context.WithCancel(w.ctx)
	w.wg.Add(1)
	go func() {
		defer stop()
		w.loop()
	}()
	events, cancel := w.ctl.SubscribeEvents()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		w.detail.timeline.follow(ctx, events, func(f func()) { w.do(f) })
	}()
	w.wg.Add(1)
	go w.followEvents(ctx, w.ctl) // the fleet banner and flapping badges
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// Building the window (fonts parsed per text style, every row laid
		// out) leaves a heap peak that Go hands back to the system only
		// slowly; once the window has settled, hand it back at once, so the
		// idle window does not hold its start-up's memory.
		select {
		case <-ctx.Done():
		case <-time.After(releaseAfter):
			debug.FreeOSMemory()
		}
	}()
}

// releaseAfter is how long after start the window returns its start-up
// memory to the system.
const releaseAfter = 15 * time.Second

// SetNotifications turns the desktop notifications on or off, at once.
func (w *Window) SetNotifications(on bool) { w.alerts.on.Store(on) }

// Show puts the window on screen.
func (w *Window) Show() { w.win.Show() }

// ShowAndRun shows the window and runs the app until it quits. Call Close
// afterwards, before closing the engine: it stops following updates and
// reports the window's size.
func (w *Window) ShowAndRun() {
	w.win.ShowAndRun()
	w.winClosed = true // the app stopped: its windows are gone
}

// Window returns the Fyne window, for the app's own additions (menus, close
// intercept).
func (w *Window) Window() fyne.Window { return w.win }

// Close stops following updates, reports the window's size if it changed
// and closes the window (unless the app already stopped). It is safe to call
// twice. Commands still in flight are cancelled and waited for.
func (w *Window) Close() {
	if w.closed.Swap(true) {
		return
	}
	w.cancel()
	w.unsubscribe()
	w.wg.Wait()
	if w.opts.OnResize != nil && w.size != w.sizeReported && w.size != (fyne.Size{}) {
		w.opts.OnResize(w.size)
	}
	if !w.winClosed {
		w.win.Close()
	}
}

// loop reads the subscription, coalesces the updates newest-per-account and
// hands them to apply at most every applyEvery, one batch at a time; and it
// ticks the countdowns every second.
func (w *Window) loop() {
	defer w.wg.Done()
	pending := map[core.AccountID]core.Status{}
	applied := make(chan struct{}, 1)
	busy := false // a batch is queued on Fyne's thread
	var flush <-chan time.Time
	arm := func() {
		if flush == nil && !busy && len(pending) > 0 {
			flush = time.After(applyEvery)
		}
	}
	ticker := time.NewTicker(tickEvery)
	defer ticker.Stop()
	updates := w.updates
	for {
		select {
		case <-w.ctx.Done():
			return
		case s, ok := <-updates:
			if !ok { // the engine closed: Warden is shutting down
				return
			}
			pending[s.Account.ID] = s
			arm()
		case <-flush:
			flush = nil
			batch := make([]core.Status, 0, len(pending))
			for _, s := range pending {
				batch = append(batch, s)
			}
			clear(pending)
			busy = true
			w.do(func() {
				w.apply(batch)
				applied <- struct{}{}
			})
		case <-applied:
			busy = false
			arm()
		case <-ticker.C:
			if !busy { // Fyne's thread is behind: skip this tick
				w.do(w.tick)
			}
		}
	}
}

// apply shows a batch of status updates. It is the only place where the
// window's picture of the accounts changes, and it runs on Fyne's thread.
func (w *Window) apply(batch []core.Status) {
	if w.ctx.Err() != nil { // closed
		return
	}
	now := w.now()
	resort := false
	changed := make(map[core.AccountID]bool, len(batch))
	selected := w.list.selected
	var selectedStatus *core.Status
	selectedRemoved := false
	var needAction, checkFailed []core.Status
	for _, s := range batch {
		id := s.Account.ID
		old, had := w.statuses[id]
		if s.Removed {
			w.detail.send.forget(id)
			w.fleet.alert.Forget(id)
			if had {
				delete(w.statuses, id)
				resort = true
			}
			if id == selected {
				selectedRemoved = true
			}
			continue
		}
		w.statuses[id] = s
		changed[id] = true
		if had && entersNeedsOperator(old, s) {
			needAction = append(needAction, s)
		}
		if had && s.LastCheck != old.LastCheck && s.LastCheck.Err != "" {
			checkFailed = append(checkFailed, s)
		}
		if !had || w.list.movesRow(old, s) {
			resort = true
		}
		if id == selected {
			st := s
			selectedStatus = &st
			selectedRemoved = false
		}
		if id == selected && (!had || old.State != s.State || old.Since != s.Since || old.Reason != s.Reason) {
			defer w.loadEvents(id)
		}
	}
	if selectedRemoved {
		w.list.selected = ""
		w.detail.clear()
	}
	w.refreshQuiet(now)
	if resort {
		w.list.resort() // held while the pointer is over the rows (selection.go)
	} else {
		for id := range changed {
			w.list.refreshRow(id)
		}
	}
	if selectedStatus != nil {
		w.detail.show(*selectedStatus, now)
	}
	w.summary.update(w.statuses)
	w.offline.update(w.statuses, now)
	w.alerts.accountsNeedAction(needAction, now)
	w.alerts.selfChecksFailed(checkFailed)
}

// tick refreshes what changes with the clock: visible countdown rows and the
// selected account's header and QR countdown.
func (w *Window) tick() {
	now := w.now()
	w.refreshQuiet(now)
	w.list.tick()
	w.detail.tick(now)
	w.refreshFlapping(now)
	w.offline.update(w.statuses, now) // failures age out of its window
	if w.nodesTick != nil {
		w.nodesTick() // the open node list (nodes.go)
	}
	if w.settings != nil {
		w.settings.tick() // the webhooks' deliveries (apisettings.go)
	}
	// Report a new size once it held for a tick, not on every step of a drag.
	if w.size == w.sizeAtTick && w.size != w.sizeReported && w.opts.OnResize != nil {
		w.sizeReported = w.size
		w.opts.OnResize(w.size)
	}
	w.sizeAtTick = w.size
}

// selectAccount shows id in the detail pane.
func (w *Window) selectAccount(id core.AccountID) {
	s, ok := w.statuses[id]
	if !ok {
		return
	}
	w.detail.show(s, w.now())
	w.refreshFlapping(w.now())
	w.loadEvents(id)
}

// The split between the list and the detail, for the cards and for the
// wider compact view; prefCompact remembers the view.
const (
	cardsOffset = 0.34
	prefCompact = "list.compact"
	// detailRoom is the width the detail keeps beside the compact view.
	detailRoom = 560
)

// compactOffset gives the compact view what the detail can spare of a
// window width wide: from the cards' share up to 60 %.
func compactOffset(width float32) float64 {
	if width <= 0 {
		width = defaultSize.Width
	}
	return min(max(float64((width-detailRoom)/width), cardsOffset), 0.6)
}

// setCompact switches the list between the cards and the compact view, and
// remembers the choice.
func (w *Window) setCompact(on bool) {
	w.list.setCompact(on)
	if on {
		w.list.view.SetText("Cards")
		w.list.view.SetIcon(theme.GridIcon())
		w.split.Offset = compactOffset(w.size.Width)
	} else {
		w.list.view.SetText("Compact")
		w.list.view.SetIcon(theme.ListIcon())
		w.split.Offset = cardsOffset
	}
	w.split.Refresh()
	if w.app.Preferences().Bool(prefCompact) != on {
		w.app.Preferences().SetBool(prefCompact, on)
	}
	if w.compactItem != nil {
		w.compactItem.Checked = on
		if m := w.win.MainMenu(); m != nil {
			m.Refresh()
		}
	}
}

// loadEvents fetches the account's recent activity for the detail pane.
func (w *Window) loadEvents(id core.AccountID) {
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
		evs, err := w.ctl.Events(ctx, id, 12)
		cancel()
		if err != nil {
			return nil // the list stays as it was; this is a convenience view
		}
		return func() { w.detail.setEvents(id, evs, w.now()) }
	})
}

// sizeWatcher lays out the window's content and reports size changes.
type sizeWatcher struct{ w *Window }

func (l *sizeWatcher) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
	l.w.size = l.w.win.Canvas().Size()
}

func (l *sizeWatcher) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}
