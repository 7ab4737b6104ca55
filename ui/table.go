package ui

import (
	"cmp"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// tableColumn is one column of the compact view.
type tableColumn struct {
	title   string
	width   float32
	text    func(s core.Status, now time.Time) string
	compare func(a, b core.Status) int
	fleet   bool // shown only in a fleet
}

// Column numbers, for tests and the state column's dot.
const (
	colName = iota
	colPhone
	colState
	colSince
	colReason
	colNode
	colLastIn
)

// tableColumns are the compact view's columns, in the order shown.
var tableColumns = []tableColumn{
	{title: "Name", width: 130,
		text: func(s core.Status, _ time.Time) string { return s.Account.Name },
		compare: func(a, b core.Status) int {
			return compareNatural(strings.ToLower(a.Account.Name), strings.ToLower(b.Account.Name))
		}},
	{title: "Phone", width: 130,
		text:    func(s core.Status, _ time.Time) string { return phoneText(s) },
		compare: func(a, b core.Status) int { return cmp.Compare(a.Account.Phone(), b.Account.Phone()) }},
	{title: "State", width: 125,
		// An account that needs action has a red dot and a bold state.
		text: func(s core.Status, _ time.Time) string { return stateWord(s.State) },
		compare: func(a, b core.Status) int {
			if a.NeedsAction() != b.NeedsAction() {
				if a.NeedsAction() {
					return -1
				}
				return 1
			}
			return cmp.Compare(stateWord(a.State), stateWord(b.State))
		}},
	{title: "Since", width: 76,
		text:    func(s core.Status, now time.Time) string { return timeOrDash(s.Since, now) },
		compare: func(a, b core.Status) int { return b.Since.Compare(a.Since) }}, // newest first
	{title: "Reason", width: 280,
		text:    func(s core.Status, _ time.Time) string { return orDash(s.Reason) },
		compare: func(a, b core.Status) int { return cmp.Compare(strings.ToLower(a.Reason), strings.ToLower(b.Reason)) }},
	{title: "Node", width: 100, fleet: true,
		text:    func(s core.Status, _ time.Time) string { return orDash(s.Node) },
		compare: func(a, b core.Status) int { return cmp.Compare(a.Node, b.Node) }},
	{title: "Last message in", width: 120,
		text:    func(s core.Status, now time.Time) string { return timeOrDash(s.Traffic.LastIn, now) },
		compare: func(a, b core.Status) int { return b.Traffic.LastIn.Compare(a.Traffic.LastIn) }}, // newest first
}

func phoneText(s core.Status) string {
	if p := s.Account.Phone(); p != "" {
		return "+" + p
	}
	return "—"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func timeOrDash(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return clockTime(t, now)
}

// accountTable is the compact view: one line per account, a column per
// fact, sorted by a click on a column's header (again: the other way round;
// a third time: the default order, needing action first).
type accountTable struct {
	owner   *accountList
	table   *widget.Table
	cols    []int // indexes into tableColumns, as shown
	cells   map[*tableCell]struct{}
	content fyne.CanvasObject
}

func newAccountTable(l *accountList) *accountTable {
	t := &accountTable{owner: l, cells: map[*tableCell]struct{}{}}
	t.setColumns(false)
	t.table = &widget.Table{
		Length: func() (int, int) { return len(l.rows), len(t.cols) },
		CreateCell: func() fyne.CanvasObject {
			c := newTableCell(l)
			t.cells[c] = struct{}{}
			return c
		},
		UpdateCell: func(id widget.TableCellID, o fyne.CanvasObject) {
			c := o.(*tableCell)
			if id.Row < 0 || id.Row >= len(l.rows) || id.Col < 0 || id.Col >= len(t.cols) {
				c.id = ""
				return
			}
			c.col = t.cols[id.Col]
			c.show(l.statuses[l.rows[id.Row]], l.now(), l.marked[l.rows[id.Row]])
		},
		ShowHeaderRow: true,
		CreateHeader: func() fyne.CanvasObject {
			// Trimmed as the cells are: the header's height bounds the lines'.
			return container.New(tightCell{}, &widget.Button{Importance: widget.LowImportance, Alignment: widget.ButtonAlignLeading})
		},
		UpdateHeader: func(id widget.TableCellID, o fyne.CanvasObject) {
			b := o.(*fyne.Container).Objects[0].(*widget.Button)
			if id.Col < 0 || id.Col >= len(t.cols) {
				return
			}
			col := t.cols[id.Col]
			text := tableColumns[col].title
			if l.sortCol == col {
				if l.sortDesc {
					text += " ▼"
				} else {
					text += " ▲"
				}
			}
			b.SetText(text)
			b.OnTapped = func() { l.sortBy(col) }
		},
	}
	// The keyboard's selection picks the account, as a click would.
	t.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(l.rows) {
			l.pick(l.rows[id.Row])
		}
		t.table.UnselectAll()
	}
	t.table.ExtendBaseWidget(t.table)
	t.applyWidths()
	t.content = t.table
	return t
}

// setColumns chooses the columns: the Node column only in a fleet.
func (t *accountTable) setColumns(fleet bool) {
	t.cols = t.cols[:0]
	for i, c := range tableColumns {
		if !c.fleet || fleet {
			t.cols = append(t.cols, i)
		}
	}
	if t.table != nil {
		t.applyWidths()
		t.table.Refresh()
	}
}

func (t *accountTable) applyWidths() {
	for i, col := range t.cols {
		t.table.SetColumnWidth(i, tableColumns[col].width)
	}
}

func (t *accountTable) refresh() { t.table.Refresh() }

// refreshRow redraws the cells showing id.
func (t *accountTable) refreshRow(id core.AccountID) {
	s, ok := t.owner.statuses[id]
	if !ok {
		return
	}
	now := t.owner.now()
	for c := range t.cells {
		if c.id == id {
			c.show(s, now, t.owner.marked[id])
		}
	}
}

// refreshMarks redraws the highlight of the cells on screen: in the compact
// view the selected account is highlighted too (the table has no selection
// of its own).
func (t *accountTable) refreshMarks() {
	for c := range t.cells {
		c.setMarked(c.id != "" && t.owner.marked[c.id])
	}
}

// tick redraws the texts that change with the clock (a new day shows dates).
func (t *accountTable) tick() {}

// sortBy sorts the rows by a column: ascending, then descending, then back
// to the default order.
func (l *accountList) sortBy(col int) {
	switch {
	case l.sortCol != col:
		l.sortCol, l.sortDesc = col, false
	case !l.sortDesc:
		l.sortDesc = true
	default:
		l.sortCol, l.sortDesc = -1, false
	}
	l.rebuild()
}

// setCompact shows the compact view (true) or the cards.
func (l *accountList) setCompact(on bool) {
	if l.compact == on {
		return
	}
	l.compact = on
	l.pointerIn = false // the rows under the pointer are gone
	if on {
		l.list.Hide()
		l.table.content.Show()
	} else {
		l.table.content.Hide()
		l.list.Show()
	}
	l.rebuild()
	l.stack.Refresh()
}

// tableCell is one cell of the compact view. Like a card row it takes the
// clicks itself, to know the modifiers, and holds the order while the
// pointer is over it.
type tableCell struct {
	widget.BaseWidget
	owner  *accountList
	id     core.AccountID
	col    int
	mods   fyne.KeyModifier
	bg     *canvas.Rectangle
	dot    *canvas.Rectangle
	dotBox *fyne.Container
	inner  *fyne.Container // the dot and the label
	label  *widget.Label
	box    *fyne.Container
}

func newTableCell(l *accountList) *tableCell {
	c := &tableCell{
		owner: l,
		bg:    &canvas.Rectangle{},
		dot:   &canvas.Rectangle{CornerRadius: 4},
		label: &widget.Label{Truncation: fyne.TextTruncateEllipsis},
	}
	c.dot.SetMinSize(fyne.NewSquareSize(8))
	// The dot stands clear of the column's edge.
	c.dotBox = container.New(fixedWidth(18), container.NewCenter(c.dot))
	c.inner = container.NewBorder(nil, nil, c.dotBox, nil, c.label)
	c.box = container.New(tightCell{}, c.inner)
	c.ExtendBaseWidget(c)
	return c
}

func (c *tableCell) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(c.bg, c.box))
}

// tightCell lays a label out with less padding above and below than a
// label has, so that a line of the compact view is about 30 px high.
type tightCell struct{}

// cellTrim is what tightCell takes off the label's height.
const cellTrim = 8

func (tightCell) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, -cellTrim/2))
		o.Resize(fyne.NewSize(size.Width, size.Height+cellTrim))
	}
}

func (tightCell) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	s.Height -= cellTrim
	return s
}

func (c *tableCell) show(s core.Status, now time.Time, marked bool) {
	c.id = s.Account.ID
	setText(c.label, tableColumns[c.col].text(s, now))
	if bold := c.col == colName || (c.col == colState && s.NeedsAction()); c.label.TextStyle.Bold != bold {
		c.label.TextStyle.Bold = bold
		c.label.Refresh()
	}
	if c.col == colState {
		c.dot.FillColor = stateColor(s.State)
		if s.NeedsAction() {
			c.dot.FillColor = needsActionColor
		}
		c.dot.Refresh()
	}
	if setShown(c.dotBox, c.col == colState) {
		c.inner.Refresh() // lay the label out again, with or without the dot
	}
	c.setMarked(marked)
}

func (c *tableCell) setMarked(on bool) {
	col := markColor(on)
	if c.bg.FillColor != col {
		c.bg.FillColor = col
		c.bg.Refresh()
	}
}

func (c *tableCell) MouseDown(ev *desktop.MouseEvent) { c.mods = ev.Modifier }
func (c *tableCell) MouseUp(*desktop.MouseEvent)      {}

func (c *tableCell) Tapped(*fyne.PointEvent) {
	mods := c.mods
	c.mods = 0
	if c.id != "" {
		c.owner.click(c.id, mods)
	}
}

func (c *tableCell) MouseIn(*desktop.MouseEvent)    { c.owner.pointerEntered() }
func (c *tableCell) MouseMoved(*desktop.MouseEvent) { c.owner.pointerMoved() }
func (c *tableCell) MouseOut()                      { c.owner.pointerLeft() }
