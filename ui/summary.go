package ui

import (
	"fmt"
	"image/color"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// summaryGroup is one count of the summary bar.
type summaryGroup struct {
	word  string // "connected"
	color color.NRGBA
	count func(core.Status) bool
}

// summaryGroups are the counts of the summary bar, in the order shown. Every
// account falls in exactly one group.
var summaryGroups = []summaryGroup{
	{"connected", stateColor(core.Connected), func(s core.Status) bool { return s.State == core.Connected }},
	{"connecting", stateColor(core.Connecting), func(s core.Status) bool { return s.State == core.Connecting && !s.NeedsAction() }},
	{"reconnecting", stateColor(core.Waiting), func(s core.Status) bool {
		return (s.State == core.Waiting || s.State == core.Replaced) && !s.NeedsAction()
	}},
	{"pairing", stateColor(core.Pairing), func(s core.Status) bool { return s.State == core.Pairing }},
	{"banned", stateColor(core.Banned), func(s core.Status) bool { return s.State == core.Banned && !s.NeedsAction() }},
	{"unreachable", statusColor(core.Status{State: core.Idle, Problem: core.ProblemNoDNS}), unreachable},
	{"stopped", stateColor(core.Idle), func(s core.Status) bool { return s.State == core.Idle }},
	{"needs action", needsActionColor, func(s core.Status) bool { return s.NeedsAction() }},
}

// summaryCounts counts the accounts of each group, in summaryGroups' order.
func summaryCounts(statuses map[core.AccountID]core.Status) []int {
	counts := make([]int, len(summaryGroups))
	for _, s := range statuses {
		for i, g := range summaryGroups {
			if g.count(s) {
				counts[i]++
				break
			}
		}
	}
	return counts
}

// summaryText is the summary as one line: "12 connected · 2 reconnecting ·
// 1 needs action". Empty groups are left out, except "connected".
func summaryText(counts []int) string {
	var parts []string
	for i, n := range counts {
		if n > 0 || i == 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, summaryGroups[i].word))
		}
	}
	return strings.Join(parts, " · ")
}

// summaryBar is the bar on top of the window: the total and one coloured
// count per non-empty group.
type summaryBar struct {
	total    *widget.Label
	chips    []*summaryChip
	text     string // what the bar says, as summaryText
	row      *fyne.Container
	scroll   *container.Scroll
	rowWidth float32 // the row's width when last laid out
	content  *fyne.Container
	// onGroup is a click on a count: it shows only that group's accounts
	// (the list's showGroup); active is the group shown, -1 for all.
	onGroup func(int)
	active  int
}

func newSummaryBar() *summaryBar {
	b := &summaryBar{total: &widget.Label{TextStyle: fyne.TextStyle{Bold: true}}, active: -1}
	objs := []fyne.CanvasObject{b.total}
	for i, g := range summaryGroups {
		c := newSummaryChip(g.color, func() {
			if b.onGroup != nil {
				b.onGroup(i)
			}
		})
		b.chips = append(b.chips, c)
		objs = append(objs, c.content)
	}
	b.row = container.NewHBox(objs...)
	b.scroll = container.NewHScroll(b.row) // a narrow window scrolls the bar, not the other way round
	b.content = container.NewVBox(b.scroll)
	return b
}

// update shows the counts of statuses.
func (b *summaryBar) update(statuses map[core.AccountID]core.Status) {
	counts := summaryCounts(statuses)
	b.text = summaryText(counts)
	total := fmt.Sprintf("%d connections", len(statuses))
	if len(statuses) == 1 {
		total = "1 connection"
	}
	setText(b.total, total)
	for i, n := range counts {
		c := b.chips[i]
		if n == 0 && i != 0 {
			c.content.Hide()
			continue
		}
		setText(c.label, fmt.Sprintf("%d %s", n, summaryGroups[i].word))
		c.setActive(i == b.active)
		c.content.Show()
	}
	// Place the chips again for their new widths, without redrawing them.
	if w := b.row.MinSize().Width; w != b.rowWidth {
		b.rowWidth = w
		b.scroll.Refresh() // the row needs another width
		return
	}
	b.row.Layout.Layout(b.row.Objects, b.row.Size())
}

// setActive shows which count filters the list.
func (b *summaryBar) setActive(group int) {
	b.active = group
	for i, c := range b.chips {
		c.setActive(i == group)
	}
}

// summaryChip is a coloured dot and a count; a click on it filters the list
// to that count's accounts.
type summaryChip struct {
	widget.BaseWidget
	label   *widget.Label
	bg      *canvas.Rectangle
	box     *fyne.Container
	content fyne.CanvasObject
	onTap   func()
	hovered bool
	active  bool
}

func newSummaryChip(c color.NRGBA, onTap func()) *summaryChip {
	dot := &canvas.Rectangle{FillColor: c, CornerRadius: 5}
	dot.SetMinSize(fyne.NewSquareSize(10))
	label := &widget.Label{}
	chip := &summaryChip{label: label, onTap: onTap, bg: &canvas.Rectangle{CornerRadius: theme.SelectionRadiusSize()}}
	chip.box = container.NewStack(chip.bg, container.NewHBox(container.NewCenter(dot), label))
	chip.ExtendBaseWidget(chip)
	chip.content = chip
	return chip
}

func (c *summaryChip) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(c.box) }

// Tapped filters the list (or shows all again, when it is the active one).
func (c *summaryChip) Tapped(*fyne.PointEvent) {
	if c.onTap != nil {
		c.onTap()
	}
}

// Cursor says the count can be clicked.
func (c *summaryChip) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (c *summaryChip) MouseIn(*desktop.MouseEvent)    { c.hovered = true; c.paint() }
func (c *summaryChip) MouseMoved(*desktop.MouseEvent) {}
func (c *summaryChip) MouseOut()                      { c.hovered = false; c.paint() }

func (c *summaryChip) setActive(on bool) {
	if c.active != on {
		c.active = on
		c.label.TextStyle.Bold = on
		c.label.Refresh()
		c.paint()
	}
}

func (c *summaryChip) paint() {
	var col color.Color = color.Transparent
	switch {
	case c.active:
		col = theme.Color(theme.ColorNameSelection)
	case c.hovered:
		col = theme.Color(theme.ColorNameHover)
	}
	if c.bg.FillColor != col {
		c.bg.FillColor = col
		c.bg.Refresh()
	}
}
