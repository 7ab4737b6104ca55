package ui

import (
	"cmp"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// accountList is the left pane: a filter box, the "Add connection" button and
// one row per account, those that need action first.
type accountList struct {
	statuses map[core.AccountID]core.Status // owned by Window; read only here
	now      func() time.Time

	filter  *widget.Entry
	add     *widget.Button
	list    *rowList
	empty   *widget.RichText
	content fyne.CanvasObject

	rows  []core.AccountID // the accounts shown, in order
	index map[core.AccountID]int
	keys  []rowKey                    // rebuild's buffer
	views map[*rowView]struct{}       // every row widget the list created
	bound map[core.AccountID]*rowView // the row widget showing each account

	// selected is the account the operator picked; it survives re-sorting
	// and filtering. syncing is set while the list's selection is moved to
	// follow a re-sort, so that the move is not taken for a new pick.
	selected core.AccountID
	syncing  bool

	// The multi-selection (selection.go): marked accounts, the row a
	// Shift-click extends from, and onMarks to tell the window.
	marked  map[core.AccountID]bool
	anchor  core.AccountID
	onMarks func()
	// The held order (selection.go): the pointer is over a row, the order
	// is held until holdUntil, and a re-sort waits.
	pointerIn bool
	pointerAt time.Time // when it last came or moved over a row
	holdUntil time.Time
	stale     bool

	// group, when 0 or more, shows only the accounts of that summary count
	// (summaryGroups); -1 shows all.
	group int
	// sortCol is the compact view's sort column (table.go), -1 for the
	// default order; sortDesc reverses it.
	sortCol  int
	sortDesc bool
	// table is the compact view, compact whether it is shown instead of
	// the rows; views holds both in a stack.
	table   *accountTable
	compact bool
	stack   *fyne.Container
	// top holds the buttons, the filter and the bars above the rows; view
	// switches between the cards and the compact view.
	top    *fyne.Container
	bottom *fyne.Container
	view   *widget.Button

	onSelect func(core.AccountID)
	onGroup  func(int) // the count filter changed (the summary shows which)
	onDelete func()    // the Delete key on the list

	// only, when set, limits the list to these accounts (the accounts of a
	// fleet drop); scope says so, with a way back to all of them.
	only      map[core.AccountID]bool
	scopeText *widget.Label
	scope     *fyne.Container
	// flapping reports whether an account shows the flapping badge.
	flapping func(core.AccountID) bool
	// quiet reports an account's liveness hint (traffic.go).
	quiet func(core.AccountID) (core.Quiet, bool)
}

func newAccountList(statuses map[core.AccountID]core.Status, now func() time.Time, onAdd func()) *accountList {
	l := &accountList{
		statuses: statuses,
		now:      now,
		index:    map[core.AccountID]int{},
		views:    map[*rowView]struct{}{},
		bound:    map[core.AccountID]*rowView{},
		marked:   map[core.AccountID]bool{},
		group:    -1,
		sortCol:  -1,
		filter:   &widget.Entry{PlaceHolder: "Filter by name, phone or state"},
		add:      &widget.Button{Text: "Add connection", Icon: theme.ContentAddIcon(), Importance: widget.HighImportance, OnTapped: onAdd},
	}
	l.empty = newMuted(theme.SizeNameText)
	l.empty.Wrapping = fyne.TextWrapWord
	l.empty.Segments[0].(*widget.TextSegment).Style.Alignment = fyne.TextAlignCenter
	l.filter.ActionItem = widget.NewIcon(theme.SearchIcon())
	l.filter.OnChanged = func(string) { l.rebuild() }
	// Enter in the filter opens the first match, so the keyboard alone can
	// find an account: Ctrl+F, a few letters, Enter.
	l.filter.OnSubmitted = func(string) {
		if len(l.rows) > 0 {
			l.list.Select(0)
		}
	}
	l.list = newRowList(l)
	l.table = newAccountTable(l)
	l.table.content.Hide()
	l.scopeText = &widget.Label{Truncation: fyne.TextTruncateEllipsis, SizeName: theme.SizeNameCaptionText}
	l.scope = container.NewBorder(nil, nil, nil,
		&widget.Button{Text: "Show all", Importance: widget.LowImportance, OnTapped: l.showAll}, l.scopeText)
	l.scope.Hide()
	l.stack = container.NewStack(l.list, l.table.content, container.NewPadded(l.empty))
	l.view = &widget.Button{Importance: widget.LowImportance}
	// The bulk bar goes below the rows: coming and going, it moves none.
	l.bottom = container.NewVBox()
	l.bottom.Hide() // a shown one, even empty, takes a padding
	l.top = container.NewVBox(container.NewBorder(nil, nil, nil, l.view, l.add), l.filter, l.scope)
	l.content = container.NewBorder(
		l.top,
		l.bottom, nil, nil,
		l.stack,
	)
	l.rebuild()
	return l
}

// matches reports whether s passes the filter: the query is part of the
// name or of the state's word ("reconnecting", "needs action"), or, when it
// is a number, part of the phone number.
func matches(s core.Status, query string) bool {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" ||
		strings.Contains(strings.ToLower(s.Account.Name), q) ||
		strings.Contains(strings.ToLower(statusWord(s)), q) ||
		(s.NeedsAction() && strings.Contains("needs action", q)) {
		return true
	}
	digits, err := normalizePhoneQuery(q)
	return err == nil && strings.Contains(s.Account.Phone(), digits)
}

// normalizePhoneQuery returns the digits of a query that looks like (a part
// of) a phone number.
func normalizePhoneQuery(q string) (string, error) {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '+':
			return -1
		}
		return 'x'
	}, q)
	if digits == "" || strings.Contains(digits, "x") {
		return "", errNotANumber
	}
	return digits, nil
}

var errNotANumber = errors.New("not a phone number")

// movesRow reports whether a change from old to s can change the row's place
// in the list or whether it is shown at all.
func (l *accountList) movesRow(old, s core.Status) bool {
	return old.NeedsAction() != s.NeedsAction() ||
		old.Account.Name != s.Account.Name ||
		matches(old, l.filter.Text) != matches(s, l.filter.Text) ||
		(l.group >= 0 && summaryGroups[l.group].count(old) != summaryGroups[l.group].count(s)) ||
		(l.compact && l.sortCol >= 0 && l.compare(l.keyOf(old), l.keyOf(s)) != 0)
}

// shows reports whether the list shows s: it passes the fleet drop's
// limit, the count filter and the filter box.
func (l *accountList) shows(s core.Status) bool {
	if l.only != nil && !l.only[s.Account.ID] {
		return false
	}
	if l.group >= 0 && !summaryGroups[l.group].count(s) {
		return false
	}
	return matches(s, l.filter.Text)
}

// keyOf is s's sort key.
func (l *accountList) keyOf(s core.Status) rowKey {
	return rowKey{id: s.Account.ID, needsAction: s.NeedsAction(), name: strings.ToLower(s.Account.Name), s: s}
}

// compare orders two rows: in the compact view by its sort column when one
// is chosen, then in the default order. The cards, which have no column
// headers to say so, keep the default order.
func (l *accountList) compare(a, b rowKey) int {
	if l.compact && l.sortCol >= 0 && l.sortCol < len(tableColumns) {
		if c := tableColumns[l.sortCol].compare(a.s, b.s); c != 0 {
			if l.sortDesc {
				return -c
			}
			return c
		}
	}
	return compareKeys(a, b)
}

// rebuild filters and sorts the rows again and redraws the rows on screen,
// at once: use resort for changes the operator did not ask for.
func (l *accountList) rebuild() {
	l.stale = false
	keys := l.keys[:0]
	for _, s := range l.statuses {
		if l.shows(s) {
			keys = append(keys, l.keyOf(s))
		}
	}
	slices.SortFunc(keys, l.compare)
	l.keys = keys
	l.rows = l.rows[:0]
	clear(l.index)
	for i, k := range keys {
		l.rows = append(l.rows, k.id)
		l.index[k.id] = i
	}

	switch {
	case len(l.statuses) == 0:
		setMuted(l.empty, "No connections yet.\nPress “Add connection” (Ctrl+N) to pair a phone.")
		l.empty.Show()
	case len(l.rows) == 0 && l.only != nil && l.filter.Text == "":
		setMuted(l.empty, "None of these connections are left.")
		l.empty.Show()
	case len(l.rows) == 0 && l.group >= 0 && l.filter.Text == "":
		setMuted(l.empty, fmt.Sprintf("No connection is %s now.", summaryGroups[l.group].word))
		l.empty.Show()
	case len(l.rows) == 0:
		setMuted(l.empty, fmt.Sprintf("No connection matches “%s”.", l.filter.Text))
		l.empty.Show()
	default:
		l.empty.Hide()
	}
	// The compact view's header would run into the message.
	if l.compact && setShown(l.table.content, !l.empty.Visible()) {
		l.stack.Refresh()
	}
	l.pruneMarks()
	l.refreshViews()
	l.syncSelection(false)
}

// refreshViews redraws the rows of the view shown.
func (l *accountList) refreshViews() {
	if l.compact {
		l.table.refresh()
	} else {
		l.list.Refresh()
	}
	l.refreshMarks()
}

// rowKey is what the list sorts on, computed once per rebuild.
type rowKey struct {
	id          core.AccountID
	needsAction bool
	name        string // lower case
	s           core.Status
}

// compareKeys orders the list: accounts that need action first, then by name.
func compareKeys(a, b rowKey) int {
	if a.needsAction != b.needsAction {
		if a.needsAction {
			return -1
		}
		return 1
	}
	if c := compareNatural(a.name, b.name); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// refreshRow redraws one account's row, if a row widget shows it. It updates
// that row's texts alone: List.RefreshItem would redraw every visible row.
func (l *accountList) refreshRow(id core.AccountID) {
	if l.compact {
		l.table.refreshRow(id)
		return
	}
	if v, ok := l.bound[id]; ok && v.id == id {
		v.set(l.statuses[id], l.now())
		v.setLine(l.line(l.statuses[id], l.now()))
	}
}

// line is the status line of an account's row, with its quiet hint.
func (l *accountList) line(s core.Status, now time.Time) string {
	line := rowLine(s, now)
	if l.quiet != nil {
		if q, ok := l.quiet(s.Account.ID); ok {
			line += quietLine(q)
		}
	}
	return line
}

// refreshFlapping shows or hides one account's flapping badge, if a row
// widget shows it.
func (l *accountList) refreshFlapping(id core.AccountID) {
	if v, ok := l.bound[id]; ok && v.id == id {
		v.setFlapping(l.flapping != nil && l.flapping(id))
	}
}

// showOnly limits the list to ids, with why in the scope bar, and clears
// the filter.
func (l *accountList) showOnly(ids []core.AccountID, why string) {
	l.group = -1
	if l.onGroup != nil {
		l.onGroup(-1)
	}
	l.only = make(map[core.AccountID]bool, len(ids))
	for _, id := range ids {
		l.only[id] = true
	}
	setText(l.scopeText, why)
	l.scope.Show()
	if l.filter.Text != "" {
		l.filter.SetText("") // rebuilds
	} else {
		l.rebuild()
	}
	l.content.Refresh()
}

// showAll lifts showOnly's limit and the count filter.
func (l *accountList) showAll() {
	l.only = nil
	l.group = -1
	if l.onGroup != nil {
		l.onGroup(-1)
	}
	l.scope.Hide()
	l.rebuild()
	l.content.Refresh()
}

// tick refreshes the status line of the rows on screen whose text changes
// with the clock: countdowns and "connected for".
func (l *accountList) tick() {
	l.releaseHold()
	if l.compact {
		l.table.tick()
		return
	}
	now := l.now()
	for v := range l.views {
		if s, ok := l.statuses[v.id]; ok && v.id != "" && ticks(s) {
			v.setLine(l.line(s, now))
		}
	}
}

// selectAccount selects id in the list (when it is shown) and scrolls to it.
func (l *accountList) selectAccount(id core.AccountID) {
	l.selected = id
	clear(l.marked)
	if id != "" {
		l.marked[id] = true
	}
	l.anchor = id
	l.syncSelection(true)
	l.marksChanged()
}

// showGroup shows only the accounts of summaryGroups[i]; showing the same
// group again, or -1, shows all of them.
func (l *accountList) showGroup(i int) {
	if i < 0 || i == l.group || i >= len(summaryGroups) {
		l.showAll()
		return
	}
	l.only = nil
	l.group = i
	if l.onGroup != nil {
		l.onGroup(i)
	}
	setText(l.scopeText, "Only the connections that are “"+summaryGroups[i].word+"”")
	l.scope.Show()
	l.rebuild()
	l.content.Refresh()
}

// syncSelection makes the list's selected row follow l.selected after the
// rows moved. Unless asked to scroll, the list stays where the operator
// scrolled it.
func (l *accountList) syncSelection(scroll bool) {
	l.syncing = true
	defer func() { l.syncing = false }()
	offset := l.list.GetScrollOffset()
	if i, ok := l.index[l.selected]; ok && l.selected != "" {
		l.list.Select(i) // this scrolls to the row
	} else {
		l.list.UnselectAll()
	}
	if !scroll && l.list.GetScrollOffset() != offset {
		l.list.ScrollToOffset(offset)
	}
}

// rowList is a widget.List that also takes the Delete key, so that Delete
// works on the selected account while the list has the keyboard focus.
type rowList struct {
	widget.List
	owner *accountList
}

func newRowList(l *accountList) *rowList {
	rl := &rowList{owner: l}
	rl.Length = func() int { return len(l.rows) }
	rl.CreateItem = func() fyne.CanvasObject {
		v := newRowView()
		v.owner = l
		l.views[v] = struct{}{}
		return v
	}
	rl.UpdateItem = func(i widget.ListItemID, o fyne.CanvasObject) {
		if i < 0 || i >= len(l.rows) {
			return
		}
		v := o.(*rowView)
		if l.bound[v.id] == v {
			delete(l.bound, v.id)
		}
		v.set(l.statuses[l.rows[i]], l.now())
		v.setLine(l.line(l.statuses[l.rows[i]], l.now()))
		v.setFlapping(l.flapping != nil && l.flapping(v.id))
		l.bound[v.id] = v
		v.setMarked(len(l.marked) > 1 && l.marked[v.id])
	}
	rl.OnSelected = func(i widget.ListItemID) {
		if l.syncing || i < 0 || i >= len(l.rows) {
			return
		}
		// The keyboard moved the selection (a click goes through click).
		clear(l.marked)
		l.marked[l.rows[i]] = true
		l.anchor = l.rows[i]
		l.selected = l.rows[i]
		if l.onSelect != nil {
			l.onSelect(l.selected)
		}
		l.marksChanged()
	}
	rl.ExtendBaseWidget(rl)
	return rl
}

// TypedKey handles Delete and leaves the other keys to the list.
func (rl *rowList) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyDelete && rl.owner.onDelete != nil {
		rl.owner.onDelete()
		return
	}
	rl.List.TypedKey(ev)
}

// rowView is one row of the list: a status dot, the name, the phone and the
// one-line status.
type rowView struct {
	widget.BaseWidget
	owner *accountList // nil in tests of the row alone
	mods  fyne.KeyModifier
	bg    *canvas.Rectangle // the multi-selection's highlight, or the hover's
	// marked and hovered choose bg's colour.
	marked, hovered bool
	id              core.AccountID
	dot             *canvas.Rectangle
	name            *widget.Label
	phone           *widget.RichText
	line            *widget.Label
	flap            *fyne.Container // the flapping badge
	box             *fyne.Container
}

const (
	dotSize    = 12
	phoneWidth = 112 // "+123456789012345" in caption text, with padding
)

func newRowView() *rowView {
	v := &rowView{
		dot:   &canvas.Rectangle{CornerRadius: dotSize / 2},
		name:  &widget.Label{TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis},
		phone: newMuted(theme.SizeNameCaptionText),
		line:  &widget.Label{Truncation: fyne.TextTruncateEllipsis, SizeName: theme.SizeNameCaptionText},
		flap:  newFlapBadge(theme.CaptionTextSize()),
	}
	v.dot.SetMinSize(fyne.NewSquareSize(dotSize))
	v.phone.Segments[0].(*widget.TextSegment).Style.Alignment = fyne.TextAlignTrailing
	// The phone column has a fixed width, so that rows line up and a new
	// number never needs a new layout.
	text := container.New(tightVBox{},
		container.NewBorder(nil, nil, nil, container.New(fixedWidth(phoneWidth), v.phone), v.name),
		container.NewBorder(nil, nil, nil, v.flap, v.line),
	)
	v.bg = &canvas.Rectangle{CornerRadius: theme.SelectionRadiusSize()}
	v.box = container.NewBorder(nil, nil, container.NewCenter(v.dot), nil, text)
	v.ExtendBaseWidget(v)
	return v
}

func (v *rowView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(v.bg, v.box))
}

// setMarked shows or hides the multi-selection's highlight.
func (v *rowView) setMarked(on bool) {
	v.marked = on
	v.paint()
}

// paint colours the row's background: marked, hovered (the list's own hover
// highlight does not reach a row that takes the pointer itself) or neither.
func (v *rowView) paint() {
	c := markColor(v.marked)
	if !v.marked && v.hovered {
		c = theme.Color(theme.ColorNameHover)
	}
	if v.bg.FillColor != c {
		v.bg.FillColor = c
		v.bg.Refresh()
	}
}

// markColor is the highlight of a marked row: the theme's selection colour.
func markColor(on bool) color.Color {
	if !on {
		return color.Transparent
	}
	return theme.Color(theme.ColorNameSelection)
}

// A row takes the clicks itself, to know the modifiers held (the list's
// own tap does not say), and follows the pointer for the held order.

// MouseDown notes the modifiers of the click to come.
func (v *rowView) MouseDown(ev *desktop.MouseEvent) { v.mods = ev.Modifier }

// MouseUp is part of desktop.Mouseable.
func (v *rowView) MouseUp(*desktop.MouseEvent) {}

// Tapped selects the row, adds it (Ctrl) or a range (Shift).
func (v *rowView) Tapped(*fyne.PointEvent) {
	mods := v.mods
	v.mods = 0
	if v.owner != nil && v.id != "" {
		v.owner.click(v.id, mods)
	}
}

// MouseIn, MouseMoved and MouseOut hold the list's order while the pointer
// is over a row.
func (v *rowView) MouseIn(*desktop.MouseEvent) {
	v.hovered = true
	v.paint()
	if v.owner != nil {
		v.owner.pointerEntered()
	}
}

func (v *rowView) MouseMoved(*desktop.MouseEvent) {
	if v.owner != nil {
		v.owner.pointerMoved()
	}
}

func (v *rowView) MouseOut() {
	v.hovered = false
	v.paint()
	if v.owner != nil {
		v.owner.pointerLeft()
	}
}

// set shows s in the row.
func (v *rowView) set(s core.Status, now time.Time) {
	v.id = s.Account.ID
	c := statusColor(s)
	if v.dot.FillColor != c {
		v.dot.FillColor = c
		v.dot.Refresh()
	}
	setText(v.name, s.Account.Name)
	phone := s.Account.Phone()
	if phone != "" {
		phone = "+" + phone
	}
	setMuted(v.phone, phone)
	v.setLine(rowLine(s, now))
}

func (v *rowView) setLine(text string) { setText(v.line, text) }

// setFlapping shows or hides the row's flapping badge.
func (v *rowView) setFlapping(on bool) {
	if setShown(v.flap, on) {
		v.box.Refresh()
	}
}

// setText changes a label only when its text changes, to spare a redraw.
func setText(l *widget.Label, text string) {
	if l.Text != text {
		l.SetText(text)
	}
}

// newMuted returns secondary text: in the theme's placeholder colour, which
// reads on both themes and stays quieter than the main text.
func newMuted(size fyne.ThemeSizeName) *widget.RichText {
	return widget.NewRichText(&widget.TextSegment{Style: widget.RichTextStyle{
		ColorName: theme.ColorNamePlaceHolder,
		Inline:    true,
		SizeName:  size,
	}})
}

// setMuted changes the text of a newMuted and reports whether it changed.
func setMuted(r *widget.RichText, text string) bool {
	seg := r.Segments[0].(*widget.TextSegment)
	if seg.Text == text {
		return false
	}
	seg.Text = text
	r.Refresh()
	return true
}

// tightVBox stacks objects vertically without padding between them: the
// labels bring their own.
type tightVBox struct{}

func (tightVBox) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h
	}
}

func (tightVBox) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height
	}
	return s
}

// fixedWidth lays its objects out at a fixed width and their own height.
type fixedWidth float32

func (f fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (f fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(float32(f), 0)
	for _, o := range objs {
		s.Height = max(s.Height, o.MinSize().Height)
	}
	return s
}

// compareNatural compares names with their numbers as numbers: "Desk 9"
// before "Desk 10".
func compareNatural(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := cmp.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

// digitRun returns how many ASCII digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
