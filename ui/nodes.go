package ui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// A window on a fleet of Warden nodes (warden --cluster) lists every
// account of the fleet with the node that runs it: the row says "· on
// NODE", the Overview has a Node fact with Move…, and the Fleet menu shows
// the node list. Outside a fleet none of this appears.

// Fleet is what the window needs of a fleet (core/cluster's Console, through
// the app).
type Fleet interface {
	// Node is this node's name.
	Node() string
	// Nodes lists the fleet's nodes.
	Nodes(ctx context.Context) ([]FleetNode, error)
	// Move hands the account over to node cleanly: its node closes the
	// session and releases it, then node takes it.
	Move(ctx context.Context, id core.AccountID, node string) error
}

// FleetNode is one node of the node list.
type FleetNode struct {
	Name      string
	Accounts  int           // the accounts it owns
	LeaseLeft time.Duration // what is left of its lease now
	Since     time.Time     // when it joined
	Self      bool
}

// nodeText is the Overview's Node fact.
func nodeText(s core.Status, self string) string {
	switch {
	case s.Node == "" && s.Account.AutoStart && s.Account.JID != "":
		return "none at the moment: another node takes it over"
	case s.Node == "":
		return "none (it runs nowhere until someone connects it)"
	case s.Node == self:
		return s.Node + " (this node)"
	}
	return s.Node
}

// rowLine is a list row's second line: the status, and in a fleet the node.
func rowLine(s core.Status, now time.Time) string {
	line := statusLine(s, now)
	if s.State == core.Connected && s.KeepAliveFailingSince.IsZero() {
		// A row's "Connected for" counts whole minutes after the first one
		// (the detail header keeps the seconds): a list of connected
		// accounts then redraws once a minute, not every second.
		if d := now.Sub(s.Since); d >= time.Minute {
			line = "Connected for " + formatDuration(d.Truncate(time.Minute))
			line = strings.TrimSuffix(line, " 00s")
		}
	}
	if s.Node != "" {
		line += " · on " + s.Node
	}
	return line
}

// enableFleet adds the Node fact, with Move…, to the Overview.
func (d *detailView) enableFleet(self string, onMove func(core.Status)) {
	l := &widget.Label{Selectable: true}
	d.factLabels["Node"] = l
	d.self = self
	move := &widget.Button{Text: "Move…", Importance: widget.LowImportance, OnTapped: func() { onMove(d.status) }}
	d.facts.Items = slices.Insert(d.facts.Items, 1, &widget.FormItem{Text: "Node", Widget: container.NewHBox(l, move)})
	d.facts.Refresh()
}

// showNodes opens the node list: each node, its accounts and its lease,
// refreshed every two seconds while open.
func (w *Window) showNodes() {
	f := w.opts.Fleet
	if f == nil {
		return
	}
	grid := container.New(layout.NewGridLayoutWithColumns(4))
	status := &widget.Label{Text: "Reading the fleet…", SizeName: theme.SizeNameCaptionText, Wrapping: fyne.TextWrapWord}
	header := func(text string) fyne.CanvasObject {
		return &widget.Label{Text: text, TextStyle: fyne.TextStyle{Bold: true}}
	}
	show := func(nodes []FleetNode, err error) {
		objs := []fyne.CanvasObject{header("Node"), header("Accounts"), header("Lease"), header("Joined")}
		if err != nil {
			status.SetText("Could not read the fleet: " + plainError(err))
		} else {
			total := 0
			for _, n := range nodes {
				name := n.Name
				if n.Self {
					name += " (this node)"
				}
				lease := "renewing"
				if n.LeaseLeft > 0 {
					lease = fmt.Sprintf("healthy · %s left", formatDuration(n.LeaseLeft))
				}
				objs = append(objs, widget.NewLabel(name), widget.NewLabel(fmt.Sprint(n.Accounts)),
					widget.NewLabel(lease), widget.NewLabel(clockTime(n.Since, w.now())))
				total += n.Accounts
			}
			status.SetText(fmt.Sprintf("%s run %s. A node renews its lease every third of its time; one that stops renewing leaves the list, and the others take its accounts over.", plural(len(nodes), "node"), plural(total, "account")))
		}
		grid.Objects = objs
		grid.Refresh()
	}
	load := func() {
		w.async(func() func() {
			ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
			defer cancel()
			nodes, err := f.Nodes(ctx)
			return func() { show(nodes, err) }
		})
	}
	show(nil, nil)
	load()
	// The window's tick (Fyne's thread, every second) reloads it every
	// other second while it is open.
	ticks := 0
	w.nodesTick = func() {
		if ticks++; ticks%2 == 0 {
			load()
		}
	}
	content := container.NewVBox(grid, widget.NewSeparator(), status)
	dlg := dialog.NewCustom("Fleet nodes", "Close", content, w.win)
	dlg.SetOnClosed(func() { w.nodesTick = nil })
	dlg.Resize(fyne.NewSize(680, dlg.MinSize().Height+40))
	dlg.Show()
}

// showMove asks which node should run the account, then moves it.
func (w *Window) showMove(s core.Status) {
	f := w.opts.Fleet
	if f == nil || s.Account.ID == "" {
		return
	}
	id, name := s.Account.ID, s.Account.Name
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
		defer cancel()
		nodes, err := f.Nodes(ctx)
		return func() {
			if err != nil {
				w.showMessage("Could not read the fleet", plainError(err))
				return
			}
			var names []string
			for _, n := range nodes {
				if n.Name != s.Node {
					names = append(names, n.Name)
				}
			}
			if len(names) == 0 {
				w.showMessage("No other node", fmt.Sprintf("“%s” runs on %s, the only node of the fleet. Start another node to move it there.", name, s.Node))
				return
			}
			pick := widget.NewSelect(names, nil)
			pick.SetSelectedIndex(0)
			msg := fmt.Sprintf("“%s” runs on %s. Its node closes the session, stores its timeline and releases it; the node you pick takes it at once and connects it. It is offline for a few seconds.", name, s.Node)
			if s.Node == "" {
				msg = fmt.Sprintf("No node runs “%s” now. The node you pick takes it at once, and connects it if it should run.", name)
			}
			text := &widget.Label{Wrapping: fyne.TextWrapWord, Text: msg}
			form := widget.NewForm(&widget.FormItem{Text: "Move to", Widget: pick})
			dlg := dialog.NewCustomConfirm("Move “"+name+"” to another node", "Move", "Cancel", container.NewVBox(text, form), func(ok bool) {
				if !ok || pick.Selected == "" {
					return
				}
				to := pick.Selected
				w.call(fmt.Sprintf("Could not move “%s” to %s", name, to), func(ctx context.Context) error { return f.Move(ctx, id, to) }, nil)
			}, w.win)
			dlg.Resize(fyne.NewSize(520, dlg.MinSize().Height))
			dlg.Show()
		}
	})
}

// moveSelected is Fleet › Move to node… for the selected account.
func (w *Window) moveSelected() {
	if s, ok := w.statuses[w.list.selected]; ok && w.list.selected != "" {
		w.showMove(s)
	}
}
