package ui

import (
	"maps"
	"slices"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"

	"warden/core"
)

// shortcutLogs opens the all-logs window.
var shortcutLogs = &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}

// windowLogs are the logs views of a Window.
type windowLogs struct {
	w   *Window
	src LogSource

	// Fyne's thread only:
	account *logsPane   // the selected account's Logs tab
	allWin  fyne.Window // the all-logs window while it is open
	allPane *logsPane

	mu sync.Mutex
	// mu guards the following
	panes  map[*logsPane]bool // open panes, closed with the Window
	closed bool
}

// SetLogSource gives the window its logs: a Logs tab for the selected account
// and View › All logs… (Ctrl+L), a window with every account's lines and
// Warden's own. Call it once, before Show.
func (w *Window) SetLogSource(src LogSource) {
	wl := &windowLogs{w: w, src: src, panes: map[*logsPane]bool{}}
	w.logs = wl
	item := &fyne.MenuItem{Label: "All logs…", Shortcut: shortcutLogs, Action: wl.showAll}
	menu := w.win.MainMenu()
	if menu == nil {
		menu = fyne.NewMainMenu()
	}
	view := (*fyne.Menu)(nil)
	for _, m := range menu.Items {
		if m.Label == "View" {
			view = m
		}
	}
	if view == nil {
		view = fyne.NewMenu("View")
		menu.Items = append(menu.Items, view)
	}
	view.Items = append(view.Items, item)
	w.win.SetMainMenu(menu)
	w.win.Canvas().AddShortcut(shortcutLogs, func(fyne.Shortcut) { wl.showAll() })

	wl.account = wl.newPane(src, w.list.selected, false, w.win)
	wl.account.onScreen = false
	wl.account.list.onDelete = w.confirmDeleteSelected
	wl.account.start()
	wl.track(wl.account)
	w.detail.setLogs(wl.account)
	onSelect := w.list.onSelect
	w.list.onSelect = func(id core.AccountID) {
		onSelect(id)
		wl.account.setAccount(id)
	}

	// The panes stop with the Window: Close cancels w.ctx and waits for w.wg.
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		<-w.ctx.Done()
		wl.mu.Lock()
		wl.closed = true
		panes := slices.Collect(maps.Keys(wl.panes))
		wl.mu.Unlock()
		for _, p := range panes {
			p.close()
		}
	}()
}

// newPane builds a logs pane that runs its work as the Window does.
func (wl *windowLogs) newPane(src LogSource, id core.AccountID, all bool, win fyne.Window) *logsPane {
	p := newLogsPane(src, id, all, win, wl.w.accountName)
	p.do, p.async = wl.w.do, wl.w.async
	return p
}

// track registers p to be closed with the Window; false when it already
// closed (p is closed then).
func (wl *windowLogs) track(p *logsPane) bool {
	wl.mu.Lock()
	closed := wl.closed
	if !closed {
		wl.panes[p] = true
	}
	wl.mu.Unlock()
	if closed {
		p.close()
	}
	return !closed
}

func (wl *windowLogs) untrack(p *logsPane) {
	wl.mu.Lock()
	delete(wl.panes, p)
	wl.mu.Unlock()
	p.close()
}

// showAll opens the all-logs window, or brings it to the front.
func (wl *windowLogs) showAll() {
	if wl.allWin != nil {
		wl.allWin.RequestFocus()
		return
	}
	w := wl.w
	win := w.app.NewWindow(w.opts.Title + " · All logs")
	p := wl.newPane(wl.src, "", true, win)
	p.start()
	if !wl.track(p) { // the Window closed
		win.Close()
		return
	}
	wl.allWin, wl.allPane = win, p
	win.SetContent(container.NewPadded(p.content))
	win.Resize(fyne.NewSize(1100, 680))
	// Escape and Ctrl+W close it, from the search field too.
	closeWin := func(fyne.Shortcut) { win.Close() }
	win.Canvas().AddShortcut(shortcutClose, closeWin)
	win.Canvas().SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyEscape {
			win.Close()
		}
	})
	p.query.onClose = win.Close
	focusSearch := func(fyne.Shortcut) { win.Canvas().Focus(p.query) }
	win.Canvas().AddShortcut(shortcutLogs, focusSearch)
	win.Canvas().AddShortcut(shortcutFilter, focusSearch)
	win.SetOnClosed(func() {
		wl.allWin, wl.allPane = nil, nil
		wl.untrack(p)
	})
	p.setShown(true)
	win.Show()
	win.Canvas().Focus(p.query)
}

// accountName is the name the logs show for an account: its current name, or
// its ID once it is gone.
func (w *Window) accountName(id core.AccountID) string {
	if s, ok := w.statuses[id]; ok && s.Account.Name != "" {
		return s.Account.Name
	}
	return string(id)
}

// setLogs adds the Logs tab. It loads the selected account's lines when it
// comes on screen.
func (d *detailView) setLogs(p *logsPane) {
	item := d.addTab("Logs", p.content, func(shown bool) {
		if shown {
			p.setAccount(d.status.Account.ID)
		}
		p.setShown(shown)
	})
	p.setShown(d.shown && d.tabs.Selected() == item)
}
