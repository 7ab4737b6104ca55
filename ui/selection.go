package ui

import (
	"slices"
	"time"

	"fyne.io/fyne/v2"

	"warden/core"
)

// The multi-selection and the list's held order.
//
// Selection: a plain click picks one account (it shows in the detail and is
// the only one marked); Ctrl-click (Cmd on a Mac) adds or removes one
// account; Shift-click marks the shown rows from the last clicked one to
// this one; Ctrl+A (Edit › Select all shown) marks every shown row, and only
// those: the filter and the summary's count filter decide what is shown.
// Marked accounts that stop being shown (a filter, a delete) are unmarked
// when the list re-sorts, so a bulk action never reaches an account the
// operator cannot see.
//
// Held order: rows never move under the pointer. While the pointer is over a
// row of the list (for at most holdStill after it last moved there: a
// pointer left resting over the list, or one the window never told it left,
// does not freeze the list), and for holdAfter after it left a row or after
// the last click on one, a change of state does not re-sort the list or filter rows
// out: rows keep their places and only their texts change. A new account is
// added below the others; a deleted one disappears. The re-sort waits and is
// applied by the next tick once the hold is over (at most holdAfter plus a
// second after the pointer left). What the operator asks for — typing in the
// filter, a count filter, a column sort — applies at once.

// holdAfter is how long the order stays held after the pointer left the rows
// or after the last click.
const holdAfter = time.Second

// holdStill is how long a pointer that does not move holds the order.
const holdStill = 20 * time.Second

// held reports whether the list keeps its order now.
func (l *accountList) held() bool {
	now := l.now()
	return (l.pointerIn && now.Before(l.pointerAt.Add(holdStill))) || now.Before(l.holdUntil)
}

// pointerEntered, pointerMoved and pointerLeft follow the pointer over the
// rows.
func (l *accountList) pointerEntered() {
	l.pointerIn = true
	l.pointerAt = l.now()
}

func (l *accountList) pointerMoved() { l.pointerAt = l.now() }

func (l *accountList) pointerLeft() {
	l.pointerIn = false
	l.holdUntil = l.now().Add(holdAfter)
}

// resort is a re-sort asked for by a change of status: it waits while the
// order is held.
func (l *accountList) resort() {
	if l.held() {
		l.stale = true
		l.keepOrder()
		return
	}
	l.rebuild()
}

// releaseHold applies a re-sort that waited, once the hold is over; the
// window's tick calls it.
func (l *accountList) releaseHold() {
	if l.stale && !l.held() {
		l.rebuild()
	}
}

// keepOrder updates the rows without moving any: deleted accounts leave,
// new ones are added at the end, the others stay where they are.
func (l *accountList) keepOrder() {
	rows := l.rows[:0]
	for _, id := range l.rows {
		if _, ok := l.statuses[id]; ok {
			rows = append(rows, id)
		}
	}
	shown := make(map[core.AccountID]bool, len(rows))
	for _, id := range rows {
		shown[id] = true
	}
	var added []rowKey
	for id, s := range l.statuses {
		if !shown[id] && l.shows(s) {
			added = append(added, l.keyOf(s))
		}
	}
	slices.SortFunc(added, l.compare)
	for _, k := range added {
		rows = append(rows, k.id)
	}
	l.rows = rows
	clear(l.index)
	for i, id := range rows {
		l.index[id] = i
	}
	l.pruneMarks()
	l.refreshViews()
	l.syncSelection(false)
}

// click is a click on a shown row with the modifiers held at the time.
func (l *accountList) click(id core.AccountID, mods fyne.KeyModifier) {
	if _, ok := l.index[id]; !ok {
		return
	}
	l.holdUntil = l.now().Add(holdAfter)
	toggle := mods&(fyne.KeyModifierControl|fyne.KeyModifierSuper) != 0
	_, anchorShown := l.index[l.anchor]
	switch {
	case mods&fyne.KeyModifierShift != 0 && anchorShown && l.anchor != "":
		a, b := l.index[l.anchor], l.index[id]
		if a > b {
			a, b = b, a
		}
		if !toggle {
			clear(l.marked)
		}
		for _, rid := range l.rows[a : b+1] {
			l.marked[rid] = true
		}
		if l.selected == "" || !l.marked[l.selected] {
			l.pickPrimary(id)
		}
	case toggle:
		l.anchor = id
		if l.marked[id] {
			delete(l.marked, id)
			if id == l.selected { // another marked one becomes the primary
				l.pickPrimary(l.firstMarked())
			}
		} else {
			if len(l.marked) == 0 && l.selected != "" {
				l.marked[l.selected] = true
			}
			l.marked[id] = true
			if l.selected == "" {
				l.pickPrimary(id)
			}
		}
	default:
		l.pick(id)
		return
	}
	l.marksChanged()
}

// pick selects id alone: it shows in the detail and is the only one marked.
func (l *accountList) pick(id core.AccountID) {
	clear(l.marked)
	l.marked[id] = true
	l.anchor = id
	l.pickPrimary(id)
	l.marksChanged()
}

// pickPrimary makes id the account the detail shows ("" for none).
func (l *accountList) pickPrimary(id core.AccountID) {
	changed := l.selected != id
	l.selected = id
	l.syncSelection(false)
	if changed && id != "" && l.onSelect != nil {
		l.onSelect(id)
	}
}

// firstMarked returns the first marked account in the list's order.
func (l *accountList) firstMarked() core.AccountID {
	for _, id := range l.rows {
		if l.marked[id] {
			return id
		}
	}
	return ""
}

// selectAllShown marks every shown row.
func (l *accountList) selectAllShown() {
	if len(l.rows) == 0 {
		return
	}
	clear(l.marked)
	for _, id := range l.rows {
		l.marked[id] = true
	}
	if !l.marked[l.selected] {
		l.pickPrimary(l.rows[0])
	}
	if l.anchor == "" {
		l.anchor = l.rows[0]
	}
	l.marksChanged()
}

// clearMarks keeps only the primary account selected.
func (l *accountList) clearMarks() {
	clear(l.marked)
	if l.selected != "" {
		l.marked[l.selected] = true
	}
	l.marksChanged()
}

// markedIDs returns the marked accounts in the list's order.
func (l *accountList) markedIDs() []core.AccountID {
	var ids []core.AccountID
	for _, id := range l.rows {
		if l.marked[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// pruneMarks unmarks the accounts that are not shown any more.
func (l *accountList) pruneMarks() {
	n := len(l.marked)
	for id := range l.marked {
		if _, ok := l.index[id]; !ok {
			delete(l.marked, id)
		}
	}
	if len(l.marked) != n && l.onMarks != nil {
		l.onMarks()
	}
}

// marksChanged redraws the marks and tells the window.
func (l *accountList) marksChanged() {
	l.refreshMarks()
	if l.onMarks != nil {
		l.onMarks()
	}
}

// refreshMarks redraws the highlight of the rows on screen.
func (l *accountList) refreshMarks() {
	multi := len(l.marked) > 1
	for v := range l.views {
		v.setMarked(multi && l.marked[v.id])
	}
	if l.table != nil {
		l.table.refreshMarks()
	}
}
