package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// bulkKind is an action on many accounts at once.
type bulkKind int

const (
	bulkConnect bulkKind = iota
	bulkDisconnect
	bulkTakeOver
	bulkLogout
	bulkDelete
)

// bulkInfo says what a bulk action is called and does.
var bulkInfo = []struct {
	verb    string // "Connect", on the button
	doing   string // what happens to each account, in the list
	failed  string // "connect", in "Could not connect 2 of 5"
	explain string
	danger  bool
}{
	bulkConnect: {"Connect", "connects now", "connect",
		"Warden connects each of them now; one waiting to reconnect tries at once.", false},
	bulkDisconnect: {"Disconnect", "disconnects and stays stopped", "disconnect",
		"Warden closes their sessions and keeps them stopped until you connect them again. Messages to them wait on the phones.", false},
	bulkTakeOver: {"Take over", "takes the account back", "take over",
		"Each of them takes its account back from the other client that uses it now; that client is disconnected.", false},
	bulkLogout: {"Log out", "is unlinked from its phone", "log out",
		"Each device is unlinked on its phone. To use one again you pair it with a new QR code. This cannot be undone.", true},
	bulkDelete: {"Delete", "is deleted", "delete",
		"Warden forgets these connections: their pairing with the phones, their device keys, their history and their logs. " +
			"Warden logs each device out first; where WhatsApp cannot be reached, remove the linked device on that phone yourself.\n\n" +
			"This cannot be undone.", true},
}

// bulkKinds are the bulk actions, in the order of the menus.
var bulkKinds = []bulkKind{bulkConnect, bulkDisconnect, bulkTakeOver, bulkLogout, bulkDelete}

// bulkSkip returns why a bulk action does not apply to s, or "" when it
// does. The rules follow the detail's buttons (actionsFor), with the
// actions that need the operator at the phone left to one account at a
// time.
func bulkSkip(kind bulkKind, s core.Status) string {
	switch kind {
	case bulkConnect:
		switch s.State {
		case core.Idle, core.Failed, core.Outdated, core.Waiting:
			if s.Account.JID == "" {
				return "not paired yet: pair it on its own"
			}
			return ""
		case core.Connected:
			return "already connected"
		case core.Connecting:
			return "already connecting"
		case core.Pairing:
			return "pairing: scan its QR code"
		case core.Replaced:
			return "another client uses it: use Take over"
		case core.LoggedOut:
			return "logged out: pair it again on its own"
		case core.Banned:
			return "banned by WhatsApp: connecting would not help"
		}
	case bulkDisconnect:
		switch s.State {
		case core.Pairing, core.Connecting, core.Connected, core.Waiting, core.Banned:
			return ""
		case core.Replaced:
			if !s.NextAttempt.IsZero() {
				return ""
			}
		}
		return "not connected: nothing to disconnect"
	case bulkTakeOver:
		if s.State == core.Replaced {
			return ""
		}
		return "no other client uses it"
	case bulkLogout:
		if s.State == core.Connected {
			return ""
		}
		return "not connected: WhatsApp cannot be asked to unlink it"
	case bulkDelete:
		return ""
	}
	return "not possible now"
}

// bulkPlan splits the accounts into those the action applies to and those
// it skips, keeping their order.
func bulkPlan(kind bulkKind, sts []core.Status) (apply, skip []core.Status) {
	for _, s := range sts {
		if bulkSkip(kind, s) == "" {
			apply = append(apply, s)
		} else {
			skip = append(skip, s)
		}
	}
	return apply, skip
}

// bulkCommand is the controller's command for kind.
func (w *Window) bulkCommand(kind bulkKind) func(context.Context, core.AccountID) error {
	switch kind {
	case bulkDisconnect:
		return w.ctl.Disconnect
	case bulkLogout:
		return w.ctl.Logout
	case bulkDelete:
		return w.ctl.Delete
	}
	return w.ctl.Connect // Connect, Retry now and Take over are the same command
}

// markedStatuses returns the marked accounts' statuses in the list's order.
func (w *Window) markedStatuses() []core.Status {
	var sts []core.Status
	for _, id := range w.list.markedIDs() {
		if s, ok := w.statuses[id]; ok {
			sts = append(sts, s)
		}
	}
	return sts
}

// who names an account in a list: its name and its phone.
func who(s core.Status) string {
	name := "“" + s.Account.Name + "”"
	if p := s.Account.Phone(); p != "" {
		name += " (+" + p + ")"
	}
	return name
}

// confirmBulk asks once before running kind on the marked accounts: it lists
// each of them with what will happen to it, or why it is skipped.
func (w *Window) confirmBulk(kind bulkKind) {
	sts := w.markedStatuses()
	if len(sts) == 0 {
		return
	}
	info := bulkInfo[kind]
	apply, skip := bulkPlan(kind, sts)
	lines := make([]string, 0, len(sts))
	for _, s := range apply {
		lines = append(lines, who(s)+" — "+info.doing)
	}
	for _, s := range skip {
		lines = append(lines, who(s)+" — skipped: "+bulkSkip(kind, s))
	}
	list := bulkList(lines)
	if len(apply) == 0 {
		head := &widget.Label{Wrapping: fyne.TextWrapWord,
			Text: fmt.Sprintf("%s applies to none of the %s selected.", info.verb, connections(len(sts)))}
		d := dialog.NewCustom(info.verb, "OK", container.NewBorder(head, nil, nil, nil, list), w.win)
		d.Resize(fyne.NewSize(600, 0))
		d.Show()
		return
	}
	title := fmt.Sprintf("%s %s?", info.verb, connections(len(apply)))
	text := info.explain
	if len(skip) > 0 {
		text += fmt.Sprintf("\n\n%d of the %d selected %s skipped: they are listed last, each with the reason.", len(skip), len(sts), isAre(len(skip)))
	}
	head := &widget.Label{Text: text, Wrapping: fyne.TextWrapWord}
	d := dialog.NewCustomConfirm(title, fmt.Sprintf("%s %d", info.verb, len(apply)), "Cancel",
		container.NewBorder(head, nil, nil, nil, list), func(ok bool) {
			if ok {
				w.runBulk(kind, apply)
			}
		}, w.win)
	if info.danger {
		d.SetConfirmImportance(widget.DangerImportance)
	} else {
		d.SetConfirmImportance(widget.HighImportance)
	}
	d.Resize(fyne.NewSize(600, 0))
	d.Show()
	w.bulkShown = lines
}

// bulkList shows lines in a list that scrolls when there are many.
func bulkList(lines []string) fyne.CanvasObject {
	box := container.NewVBox()
	for _, l := range lines {
		box.Add(&widget.Label{Text: l, Wrapping: fyne.TextWrapWord})
	}
	scroll := container.NewVScroll(box)
	// The lines' height before they wrap: a line or two more may need
	// the scroll bar.
	h := box.MinSize().Height
	scroll.SetMinSize(fyne.NewSize(540, min(h, 280)))
	return scroll
}

func connections(n int) string {
	if n == 1 {
		return "1 connection"
	}
	return fmt.Sprintf("%d connections", n)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// bulkParallel is how many commands of a bulk action run at once.
const bulkParallel = 4

// runBulk sends the command to each account, a few at a time, off Fyne's
// thread; then it says which ones failed, if any. The controller routes each
// command to the node that runs the account.
func (w *Window) runBulk(kind bulkKind, sts []core.Status) {
	cmd := w.bulkCommand(kind)
	w.async(func() func() {
		errs := make([]error, len(sts))
		var wg sync.WaitGroup
		sem := make(chan struct{}, bulkParallel)
		for i, s := range sts {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(w.ctx, actionTimeout)
				errs[i] = cmd(ctx, s.Account.ID)
				cancel()
			}()
		}
		wg.Wait()
		var failed, linked []string
		var removed []core.Status
		for i, err := range errs {
			switch {
			case kind == bulkDelete && errors.Is(err, core.ErrStillLinked):
				linked = append(linked, who(sts[i]))
				removed = append(removed, core.Status{Account: sts[i].Account, Removed: true})
			case err != nil:
				failed = append(failed, who(sts[i])+": "+plainError(err))
			case kind == bulkDelete:
				removed = append(removed, core.Status{Account: sts[i].Account, Removed: true})
			}
		}
		return func() {
			if len(removed) > 0 { // as the single Delete: gone from the list at once
				w.apply(removed)
			}
			if len(failed) > 0 {
				w.showBulkFailures(kind, len(sts), failed)
			}
			if len(linked) > 0 {
				w.showStillLinked(linked)
			}
		}
	})
}

// showStillLinked names the deleted accounts whose devices could not be
// unlinked, as the single Delete does for one.
func (w *Window) showStillLinked(names []string) {
	head := &widget.Label{Wrapping: fyne.TextWrapWord,
		Text: fmt.Sprintf("%s deleted from Warden, but WhatsApp could not be reached to unlink the devices. "+
			"Remove the linked device on each of these phones: WhatsApp › Settings › Linked devices.", capitalize(connections(len(names)))+" "+areWere(len(names)))}
	d := dialog.NewCustom("Connections deleted", "OK", container.NewBorder(head, nil, nil, nil, bulkList(names)), w.win)
	d.Resize(fyne.NewSize(600, 0))
	d.Show()
	w.bulkShown = names
}

func areWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// showBulkFailures says which accounts a bulk action failed on, and why.
func (w *Window) showBulkFailures(kind bulkKind, total int, failed []string) {
	info := bulkInfo[kind]
	head := &widget.Label{Wrapping: fyne.TextWrapWord,
		Text: fmt.Sprintf("Warden could not %s %d of the %s; the others are done.", info.failed, len(failed), connections(total))}
	if len(failed) == total {
		head.Text = fmt.Sprintf("Warden could not %s any of the %s.", info.failed, connections(total))
	}
	d := dialog.NewCustom(fmt.Sprintf("Could not %s %d", info.failed, len(failed)), "OK",
		container.NewBorder(head, nil, nil, nil, bulkList(failed)), w.win)
	d.Resize(fyne.NewSize(600, 0))
	d.Show()
	w.bulkShown = failed
}

// bulkBar is the bar above the list while several accounts are selected:
// how many, the bulk actions and a way to select one again.
type bulkBar struct {
	count   *widget.Label
	actions *widget.Button
	content *fyne.Container
}

func (w *Window) newBulkBar() *bulkBar {
	b := &bulkBar{count: &widget.Label{TextStyle: fyne.TextStyle{Bold: true}}}
	b.actions = &widget.Button{Text: "Act on selected", Icon: theme.MenuDropDownIcon(), IconPlacement: widget.ButtonIconTrailingText,
		Importance: widget.HighImportance}
	b.actions.OnTapped = func() {
		c := w.win.Canvas()
		pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(b.actions)
		widget.ShowPopUpMenuAtPosition(w.bulkMenu(), c, pos.AddXY(0, b.actions.Size().Height))
	}
	clearBtn := &widget.Button{Text: "Clear", Importance: widget.LowImportance, OnTapped: w.list.clearMarks}
	b.content = container.NewBorder(nil, nil, nil, container.NewHBox(b.actions, clearBtn), b.count)
	return b
}

// bulkMenu lists the bulk actions with how many of the selected each
// applies to.
func (w *Window) bulkMenu() *fyne.Menu {
	sts := w.markedStatuses()
	m := fyne.NewMenu("")
	for _, k := range bulkKinds {
		if k == bulkDelete {
			m.Items = append(m.Items, fyne.NewMenuItemSeparator())
		}
		apply, _ := bulkPlan(k, sts)
		label := fmt.Sprintf("%s… (%d of %d)", bulkInfo[k].verb, len(apply), len(sts))
		m.Items = append(m.Items, &fyne.MenuItem{Label: label, Disabled: len(apply) == 0, Action: func() { w.confirmBulk(k) }})
	}
	m.Items = append(m.Items, fyne.NewMenuItemSeparator(),
		&fyne.MenuItem{Label: "Select all shown  (Ctrl+A)", Action: w.list.selectAllShown},
		&fyne.MenuItem{Label: "Clear selection", Action: w.list.clearMarks})
	return m
}

// marksChanged shows the bulk bar while several accounts are selected.
func (w *Window) marksChanged() {
	n := len(w.list.marked)
	if n >= 2 {
		setText(w.bulk.count, fmt.Sprintf("%d selected", n))
	}
	if setShown(w.list.bottom, n >= 2) {
		w.list.content.Refresh()
	}
}

// bulkLines is what the last bulk dialog listed, for tests.
func (w *Window) bulkLines() []string { return w.bulkShown }
