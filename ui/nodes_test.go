package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// fakeFleet is a fleet of three nodes; it records the moves asked of it.
type fakeFleet struct {
	mu    sync.Mutex
	moves []string
	reads int // Nodes calls
}

func (f *fakeFleet) Node() string { return "node-a" }

func (f *fakeFleet) Nodes(context.Context) ([]FleetNode, error) {
	f.mu.Lock()
	f.reads++
	f.mu.Unlock()
	return []FleetNode{
		{Name: "node-a", Accounts: 21, LeaseLeft: 4 * time.Second, Since: t0.Add(-3 * time.Hour), Self: true},
		{Name: "node-b", Accounts: 20, LeaseLeft: 5 * time.Second, Since: t0.Add(-3 * time.Hour)},
		{Name: "node-c", Accounts: 19, LeaseLeft: 3 * time.Second, Since: t0.Add(-12 * time.Minute)},
	}, nil
}

func (f *fakeFleet) Move(_ context.Context, id core.AccountID, node string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moves = append(f.moves, string(id)+" → "+node)
	return nil
}

func newFleetWindow(t *testing.T) (*Window, *fakeFleet) {
	t.Helper()
	test.NewTempApp(t)
	statuses := sampleStatuses()
	for i := range statuses {
		switch statuses[i].Account.ID {
		case "connected":
			statuses[i].Node = "node-a"
		case "waiting", "connecting":
			statuses[i].Node = "node-b"
		}
	}
	fleet := &fakeFleet{}
	ctl := newFakeController(statuses...)
	w := newWindow(fyne.CurrentApp(), ctl, Options{Now: func() time.Time { return t0 }, Size: fyne.NewSize(1000, 660), Fleet: fleet})
	w.do = func(f func()) { f() }
	w.async = func(work func() func()) {
		if then := work(); then != nil {
			then()
		}
	}
	t.Cleanup(w.Close)
	return w, fleet
}

// In a fleet, each row says where the account runs, the Overview names the
// node, and Move… hands the account to the node the operator picks.
func TestFleetWindowShowsNodesAndMoves(t *testing.T) {
	w, fleet := newFleetWindow(t)
	if got := w.list.rowOf(t, "waiting"); !strings.HasSuffix(got, " · on node-b") {
		t.Errorf("the row of an account on node-b says %q", got)
	}
	if got := w.list.rowOf(t, "idle"); strings.Contains(got, " · on ") {
		t.Errorf("the row of an account no node runs says %q", got)
	}
	selectRow(t, w, "connected")
	if got := w.detail.factLabels["Node"].Text; got != "node-a (this node)" {
		t.Errorf("the Node fact says %q", got)
	}
	selectRow(t, w, "idle")
	if got := w.detail.factLabels["Node"].Text; !strings.HasPrefix(got, "none") {
		t.Errorf("the Node fact of an account no node runs says %q", got)
	}

	selectRow(t, w, "waiting")
	moveItem := fleetMenuItem(t, w, "Move connection to node…")
	moveItem.Action()
	dlg := topDialog(t, w)
	var pick *widget.Select
	for _, o := range visible(dlg) {
		if s, ok := o.(*widget.Select); ok {
			pick = s
		}
	}
	if pick == nil {
		t.Fatal("the Move dialog has no node to pick")
	}
	if strings.Join(pick.Options, ",") != "node-a,node-c" {
		t.Errorf("the Move dialog offers %v, want the other nodes", pick.Options)
	}
	pick.SetSelected("node-c")
	test.ApplyTheme(t, theme.LightTheme())
	test.AssertImageMatches(t, "move_light.png", w.win.Canvas().Capture())
	tapDialogButton(t, w, "Move")
	if strings.Join(fleet.moves, ";") != "waiting → node-c" {
		t.Errorf("moves: %v", fleet.moves)
	}
}

func TestWithoutAFleetNoNodeAppears(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	if _, ok := w.detail.factLabels["Node"]; ok {
		t.Error("a window outside a fleet has a Node fact")
	}
	for _, m := range w.win.MainMenu().Items {
		if m.Label == "Fleet" {
			t.Error("a window outside a fleet has a Fleet menu")
		}
	}
}

func TestNodesDialogImage(t *testing.T) {
	w, fleet := newFleetWindow(t)
	test.ApplyTheme(t, theme.LightTheme())
	selectRow(t, w, "waiting")
	fleetMenuItem(t, w, "Nodes…").Action()
	dlg := topDialog(t, w)
	for _, want := range []string{"node-a (this node)", "node-c", "healthy · 4 s left", "3 nodes run 60 accounts."} {
		found := false
		for _, o := range visible(dlg) {
			if l, ok := o.(*widget.Label); ok && strings.HasPrefix(l.Text, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("the node list lacks %q", want)
		}
	}
	test.AssertImageMatches(t, "nodes_light.png", w.win.Canvas().Capture())

	// Open, the list is read again every other second; closed, no more.
	reads := func() int { fleet.mu.Lock(); defer fleet.mu.Unlock(); return fleet.reads }
	before := reads()
	w.tick()
	w.tick()
	if reads() != before+1 {
		t.Errorf("two seconds with the list open read it %d times, want 1", reads()-before)
	}
	tapDialogButton(t, w, "Close")
	w.tick()
	w.tick()
	if reads() != before+1 {
		t.Error("the closed list is still read")
	}
}

func fleetMenuItem(t *testing.T, w *Window, label string) *fyne.MenuItem {
	t.Helper()
	for _, m := range w.win.MainMenu().Items {
		if m.Label != "Fleet" {
			continue
		}
		for _, it := range m.Items {
			if it.Label == label {
				return it
			}
		}
	}
	t.Fatalf("no Fleet › %s", label)
	return nil
}

// rowOf returns the second line a list row shows for id.
func (l *accountList) rowOf(t *testing.T, id core.AccountID) string {
	t.Helper()
	s, ok := l.statuses[id]
	if !ok {
		t.Fatalf("%s is not listed", id)
	}
	v := newRowView()
	v.set(s, t0)
	return v.line.Text
}

// A row counts a connection's first minute in seconds, then in whole
// minutes, so that a list of connected accounts redraws once a minute; a
// failing keep-alive keeps its seconds.
func TestRowLineCountsMinutesAfterTheFirst(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{
		{45 * time.Second, "Connected for 45 s"},
		{2*time.Minute + 13*time.Second, "Connected for 2m"},
		{2*time.Hour + 14*time.Minute + 5*time.Second, "Connected for 2h 14m"},
	} {
		s := core.Status{State: core.Connected, Since: now.Add(-c.ago)}
		if got := rowLine(s, now); got != c.want {
			t.Errorf("connected %v ago: row says %q, want %q", c.ago, got, c.want)
		}
	}
	s := core.Status{State: core.Connected, Since: now.Add(-time.Hour), KeepAliveFailingSince: now.Add(-75 * time.Second)}
	if got := rowLine(s, now); !strings.Contains(got, "1m 15s") {
		t.Errorf("failing keep-alive: row says %q, want its seconds", got)
	}
}
