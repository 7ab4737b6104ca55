package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"github.com/godbus/dbus/v5"

	"warden/assets"
	"warden/core"
)

// trayEvery is how often the tray's menu and icon follow the accounts at
// most.
const trayEvery = time.Second

// trayWatcher is the D-Bus name of the desktop's tray host (the
// StatusNotifierItem protocol, which Fyne's tray speaks).
const trayWatcher = "org.kde.StatusNotifierWatcher"

// trayAvailable reports whether the desktop shows a system tray: a D-Bus
// session bus is reachable (without one Fyne must not be asked to set a tray,
// see FYNE.md) and a tray host is on it. Without a host the icon would show
// nowhere, and a window hidden to it could not come back. The connection is
// shared and stays open.
func trayAvailable() bool {
	conn, err := dbus.SessionBus()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var has bool
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, trayWatcher).Store(&has)
	return err == nil && has
}

// tray is Warden's system tray icon and menu: the counts by state, "Show
// Warden" and "Quit"; the icon carries a red dot while an account needs the
// operator.
type tray struct {
	app  desktop.App
	menu *fyne.Menu
	show *fyne.MenuItem
	quit *fyne.MenuItem

	needsAction bool // the icon shows the red dot; Fyne's thread only

	// do runs f on Fyne's thread: fyne.Do; tests replace it.
	do func(f func())

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// startTray sets up the tray when the app and the desktop support one and
// follows m's updates until stop; it returns nil when there is no tray.
// "Show Warden" and a click on the icon bring win back; quit quits.
// statusSource is what the tray follows: the Manager, or in a fleet the
// Console (every account of the fleet).
type statusSource interface {
	Statuses() []core.Status
	Subscribe() (<-chan core.Status, func())
}

func startTray(a fyne.App, m statusSource, win fyne.Window, quit func()) *tray {
	da, ok := a.(desktop.App)
	if !ok || !trayAvailable() {
		return nil
	}
	t := &tray{
		app: da,
		show: fyne.NewMenuItem("Show Warden", func() {
			win.Show()
			win.RequestFocus()
		}),
		quit: &fyne.MenuItem{Label: "Quit", IsQuit: true, Action: quit},
		do:   fyne.Do,
	}
	statuses := map[core.AccountID]core.Status{}
	for _, s := range m.Statuses() {
		statuses[s.Account.ID] = s
	}
	t.menu = fyne.NewMenu("Warden", t.items(statuses)...)
	da.SetSystemTrayMenu(t.menu)
	t.needsAction = countsOf(statuses).needsAction > 0
	da.SetSystemTrayIcon(trayIcon(t.needsAction))
	da.SetSystemTrayWindow(win)

	updates, unsubscribe := m.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		defer unsubscribe()
		t.follow(ctx, updates, statuses)
	}()
	return t
}

// stop ends following the updates. It is safe on a nil tray and twice.
func (t *tray) stop() {
	if t == nil {
		return
	}
	t.cancel()
	t.done.Wait()
}

// follow keeps statuses up to date and shows them at most every trayEvery.
func (t *tray) follow(ctx context.Context, updates <-chan core.Status, statuses map[core.AccountID]core.Status) {
	ticker := time.NewTicker(trayEvery)
	defer ticker.Stop()
	dirty := false
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-updates:
			if !ok {
				return
			}
			if s.Removed {
				delete(statuses, s.Account.ID)
			} else {
				statuses[s.Account.ID] = s
			}
			dirty = true
		case <-ticker.C:
			if !dirty {
				continue
			}
			dirty = false
			items := t.items(statuses)
			needs := countsOf(statuses).needsAction > 0
			t.do(func() { t.apply(items, needs) })
		}
	}
}

// apply shows new menu items and the icon; on Fyne's thread.
func (t *tray) apply(items []*fyne.MenuItem, needsAction bool) {
	t.menu.Items = items
	t.menu.Refresh()
	if needsAction != t.needsAction {
		t.needsAction = needsAction
		t.app.SetSystemTrayIcon(trayIcon(needsAction))
	}
}

// items are the menu: the counts (disabled, they only inform), then Show
// Warden and Quit.
func (t *tray) items(statuses map[core.AccountID]core.Status) []*fyne.MenuItem {
	var items []*fyne.MenuItem
	for _, line := range countsOf(statuses).lines() {
		items = append(items, &fyne.MenuItem{Label: line, Disabled: true})
	}
	return append(items, fyne.NewMenuItemSeparator(), t.show, fyne.NewMenuItemSeparator(), t.quit)
}

// trayCounts are the accounts by state, and how many need the operator.
type trayCounts struct {
	total       int
	byState     map[core.State]int
	needsAction int
}

func countsOf(statuses map[core.AccountID]core.Status) trayCounts {
	c := trayCounts{total: len(statuses), byState: map[core.State]int{}}
	for _, s := range statuses {
		c.byState[s.State]++
		if s.NeedsAction() {
			c.needsAction++
		}
	}
	return c
}

// stateWords are the states as the tray's menu names them.
var stateWords = map[core.State]string{
	core.Idle: "stopped", core.Pairing: "pairing", core.Connecting: "connecting", core.Connected: "connected",
	core.Waiting: "reconnecting", core.Replaced: "replaced", core.LoggedOut: "logged out", core.Banned: "banned",
	core.Outdated: "outdated", core.Failed: "failed",
}

// lines are the menu's counts: "3 need action" first when any do, then
// one line per state that has accounts, in the states' order.
func (c trayCounts) lines() []string {
	if c.total == 0 {
		return []string{"No connections"}
	}
	var lines []string
	switch c.needsAction {
	case 0:
	case 1:
		lines = append(lines, "1 needs action")
	default:
		lines = append(lines, fmt.Sprintf("%d need action", c.needsAction))
	}
	for _, st := range core.States {
		if n := c.byState[st]; n > 0 {
			lines = append(lines, fmt.Sprintf("%d %s", n, stateWords[st]))
		}
	}
	return lines
}

var (
	attentionOnce sync.Once
	attentionIcon fyne.Resource
)

// trayIcon is Warden's icon, with a red dot when an account needs action.
func trayIcon(needsAction bool) fyne.Resource {
	if !needsAction {
		return assets.Icon
	}
	attentionOnce.Do(func() {
		icon, err := withRedDot(assets.Icon.Content())
		if err != nil { // the embedded icon is a valid PNG; should it not be, no dot
			attentionIcon = assets.Icon
			return
		}
		attentionIcon = fyne.NewStaticResource("warden-attention.png", icon)
	})
	return attentionIcon
}

// withRedDot draws a red dot with a white ring in the bottom right quarter
// of a PNG image.
func withRedDot(pngData []byte) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return nil, fmt.Errorf("decode the icon: %w", err)
	}
	b := src.Bounds()
	img := image.NewNRGBA(b)
	draw.Draw(img, b, src, b.Min, draw.Src)
	size := min(b.Dx(), b.Dy())
	r := float64(size) * 0.22
	cx, cy := float64(b.Max.X)-r-float64(size)*0.02, float64(b.Max.Y)-r-float64(size)*0.02
	ring := r + float64(size)*0.04
	red := color.NRGBA{R: 0xe0, G: 0x31, B: 0x31, A: 0xff}
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			switch d := dx*dx + dy*dy; {
			case d <= r*r:
				img.SetNRGBA(x, y, red)
			case d <= ring*ring:
				img.SetNRGBA(x, y, white)
			}
		}
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode the icon: %w", err)
	}
	return out.Bytes(), nil
}
