package ui

import (
	"fmt"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"warden/core"
)

// The window's keyboard shortcuts. Ctrl+N, Ctrl+F and Ctrl+Q live in the main
// menu, which the driver consults before the focused widget, so they work
// even while typing in the filter. Delete works on the selected account when
// no text field has the focus.
var (
	shortcutNew    = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutFilter = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutQuit   = &desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}
	// shortcutTabs switch the detail's tabs: Alt+1 Overview, Alt+2 Timeline,
	// Alt+3 Logs.
	shortcutTabs = []*desktop.CustomShortcut{
		{KeyName: fyne.Key1, Modifier: fyne.KeyModifierAlt},
		{KeyName: fyne.Key2, Modifier: fyne.KeyModifierAlt},
		{KeyName: fyne.Key3, Modifier: fyne.KeyModifierAlt},
	}
	// shortcutSend puts the cursor in the selected account's Test message
	// number, on the Overview; Enter then sends (to its own number when
	// left empty).
	shortcutSend = &desktop.CustomShortcut{KeyName: fyne.KeyT, Modifier: fyne.KeyModifierShortcutDefault}
	// shortcutSettings opens File › Settings… (settings.go).
	shortcutSettings = &desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: fyne.KeyModifierShortcutDefault}
)

func (w *Window) installShortcuts() {
	newItem := &fyne.MenuItem{Label: "New connection…", Shortcut: shortcutNew, Action: w.showAddDialog}
	quitItem := &fyne.MenuItem{Label: "Quit", Shortcut: shortcutQuit, IsQuit: true, Action: w.quit}
	findItem := &fyne.MenuItem{Label: "Find", Shortcut: shortcutFilter, Action: w.focusFilter}
	deleteItem := &fyne.MenuItem{Label: "Delete connection…  (Delete)", Action: w.confirmDeleteSelected}
	sendItem := &fyne.MenuItem{Label: "Send test message", Shortcut: shortcutSend, Action: w.focusSend}
	file := fyne.NewMenu("File", newItem, fyne.NewMenuItemSeparator(), quitItem)
	if w.opts.Settings != nil {
		settingsItem := &fyne.MenuItem{Label: "Settings…", Shortcut: shortcutSettings, Action: func() { w.showSettings() }}
		file.Items = slices.Insert(file.Items, 2, settingsItem, fyne.NewMenuItemSeparator())
		w.win.Canvas().AddShortcut(shortcutSettings, func(fyne.Shortcut) { w.showSettings() })
	}
	if w.opts.Backup != nil {
		file.Items = slices.Insert(file.Items, len(file.Items)-1,
			&fyne.MenuItem{Label: "Export accounts…", Action: func() { w.confirmExport() }},
			&fyne.MenuItem{Label: "Import accounts…", Action: w.chooseImport},
			fyne.NewMenuItemSeparator())
	}
	view := fyne.NewMenu("View")
	for i, title := range []string{"Overview", "Timeline", "Logs"} {
		view.Items = append(view.Items, &fyne.MenuItem{Label: title, Shortcut: shortcutTabs[i], Action: func() { w.detail.selectTab(i) }})
	}
	w.compactItem = &fyne.MenuItem{Label: "Compact list", Checked: w.list.compact, Action: func() { w.setCompact(!w.list.compact) }}
	view.Items = append(view.Items, fyne.NewMenuItemSeparator(), w.compactItem)
	// Ctrl+A is not a menu shortcut: the menu's would take it from the
	// filter box, where it selects the text.
	selectAll := &fyne.MenuItem{Label: "Select all shown  (Ctrl+A)", Action: w.list.selectAllShown}
	bulk := &fyne.MenuItem{Label: "Selected connections", ChildMenu: fyne.NewMenu("")}
	for _, k := range bulkKinds {
		bulk.ChildMenu.Items = append(bulk.ChildMenu.Items, &fyne.MenuItem{Label: bulkInfo[k].verb + "…", Action: func() { w.confirmBulk(k) }})
	}
	edit := fyne.NewMenu("Edit", findItem, sendItem, deleteItem, fyne.NewMenuItemSeparator(), selectAll, bulk,
		&fyne.MenuItem{Label: "Clear selection", Action: w.list.clearMarks})
	menus := []*fyne.Menu{file, edit, view}
	if w.opts.Fleet != nil {
		menus = append(menus, fyne.NewMenu("Fleet",
			&fyne.MenuItem{Label: "Nodes…", Action: w.showNodes},
			&fyne.MenuItem{Label: "Move connection to node…", Action: w.moveSelected}))
	}
	if w.opts.About != nil {
		menus = append(menus, fyne.NewMenu("Help", &fyne.MenuItem{Label: "About Warden", Action: func() { w.showAbout() }}))
	}
	w.win.SetMainMenu(fyne.NewMainMenu(menus...))

	c := w.win.Canvas()
	c.AddShortcut(shortcutNew, func(fyne.Shortcut) { w.showAddDialog() })
	c.AddShortcut(shortcutFilter, func(fyne.Shortcut) { w.focusFilter() })
	c.AddShortcut(shortcutQuit, func(fyne.Shortcut) { w.quit() })
	c.AddShortcut(shortcutSend, func(fyne.Shortcut) { w.focusSend() })
	c.AddShortcut(&fyne.ShortcutSelectAll{}, func(fyne.Shortcut) { w.list.selectAllShown() })
	for i, sc := range shortcutTabs {
		c.AddShortcut(sc, func(fyne.Shortcut) { w.detail.selectTab(i) })
	}
	c.SetOnTypedKey(w.typedKey)
}

func (w *Window) focusFilter() {
	w.win.Canvas().Focus(w.list.filter)
}

// focusSend shows the selected account's Overview and focuses its Test
// message number; nothing happens unless it is Connected.
func (w *Window) focusSend() {
	if !w.detail.shown || w.detail.status.State != core.Connected {
		return
	}
	w.detail.selectTab(0)
	w.win.Canvas().Focus(w.detail.send.to)
}

// quit is Ctrl+Q, File › Quit and closing the window (where closing does
// not just hide it, with a tray: the app sets that). Quitting a node of a
// fleet, or a Warden with connected accounts, drops their sessions, so it
// asks first, as Delete does; with nothing connected it quits at once.
func (w *Window) quit() {
	if w.quitQuestion != nil && slices.Contains(w.dialogs, w.quitQuestion) {
		return // the question is already on screen
	}
	connected := 0
	self := ""
	if w.opts.Fleet != nil {
		self = w.opts.Fleet.Node()
	}
	for _, s := range w.statuses {
		if s.State == core.Connected && (s.Node == "" || s.Node == self) {
			connected++
		}
	}
	if connected == 0 && w.opts.Fleet == nil {
		w.quitNow()
		return
	}
	msg := fmt.Sprintf("%d accounts are connected. Quitting disconnects them until Warden runs again.", connected)
	if connected == 1 {
		msg = "1 account is connected. Quitting disconnects it until Warden runs again."
	}
	if w.opts.Fleet != nil {
		msg = fmt.Sprintf("This is node %s of a fleet, with %s connected here. Quitting drops them here; "+
			"the other nodes take them over once this node's lease runs out.", self, plural(connected, "account"))
	}
	w.confirm("Quit Warden", "Quit", msg, w.quitNow)
	w.quitQuestion = w.dialogs[len(w.dialogs)-1]
}

// quitNow quits without asking.
func (w *Window) quitNow() {
	if w.opts.OnQuit != nil {
		w.opts.OnQuit()
		return
	}
	w.app.Quit()
}
