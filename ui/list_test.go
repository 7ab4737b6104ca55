package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"warden/core"
)

func TestListSortsNeedsActionFirst(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	// Needs action: Legacy (outdated), Marketing (replaced, parked), Old
	// phone (logged out), Reception (failed); then the others by name.
	want := []core.AccountID{"outdated", "replaced", "loggedout", "failed",
		"takeover", "banned", "idle", "expired", "connected", "waiting", "connecting", "pairing"}
	if !slices.Equal(w.list.rows, want) {
		t.Errorf("rows = %v, want %v", w.list.rows, want)
	}

	// Sales desk 1 gets logged out: it moves up among those needing action.
	s := statusOf(t, "connected")
	s.State, s.Since = core.LoggedOut, t0
	w.apply([]core.Status{s})
	if got := w.list.rows[:5]; !slices.Equal(got, []core.AccountID{"outdated", "replaced", "loggedout", "failed", "connected"}) {
		t.Errorf("after a logout, the first rows are %v; want Sales desk 1 among the four needing action", got)
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		query string
		want  []core.AccountID
	}{
		{"", nil}, // everything
		{"sales", []core.AccountID{"connected", "waiting"}},
		{"SALES desk 2", []core.AccountID{"waiting"}},
		{"4915", []core.AccountID{"connected"}},
		{"+1555000", []core.AccountID{"outdated", "replaced", "loggedout", "failed", "takeover", "banned", "idle", "waiting", "connecting"}},
		{"+1 (555) 000-4444", []core.AccountID{"takeover"}},
		{"desk 2", []core.AccountID{"waiting"}},
		{"reconnecting", []core.AccountID{"waiting"}},
		{"needs action", []core.AccountID{"outdated", "replaced", "loggedout", "failed"}},
		{"stopped", []core.AccountID{"idle", "expired"}},
		{"nobody", []core.AccountID{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w, _ := newTestWindow(t, sampleStatuses()...)
			test.Type(w.list.filter, tt.query)
			want := tt.want
			if want == nil {
				want = w.list.rows[:0:0]
				for _, s := range sampleStatuses() {
					want = append(want, s.Account.ID)
				}
				if len(w.list.rows) != len(want) {
					t.Fatalf("empty filter shows %d rows, want all %d", len(w.list.rows), len(want))
				}
				return
			}
			if !slices.Equal(w.list.rows, want) {
				t.Errorf("filter %q shows %v, want %v", tt.query, w.list.rows, want)
			}
			if len(want) == 0 && !w.list.empty.Visible() {
				t.Errorf("filter %q matches nothing but the list does not say so", tt.query)
			}
		})
	}
}

func TestFilterFollowsUpdates(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	test.Type(w.list.filter, "reconnecting")
	s := statusOf(t, "connected")
	s.State, s.Attempt, s.NextAttempt = core.Waiting, 1, t0.Add(3*time.Second)
	w.apply([]core.Status{s})
	if !slices.Equal(w.list.rows, []core.AccountID{"connected", "waiting"}) {
		t.Errorf("rows = %v: an account that starts reconnecting should appear under the filter", w.list.rows)
	}
}

func TestEmptyListInvitesToAdd(t *testing.T) {
	w, _ := newTestWindow(t)
	if !w.list.empty.Visible() || !strings.Contains(w.list.empty.String(), "Add connection") {
		t.Errorf("an empty list says %q; want an invitation to add a connection", w.list.empty.String())
	}
	if w.summary.text != "0 connected" {
		t.Errorf("summary = %q, want %q", w.summary.text, "0 connected")
	}
}

func TestSummary(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	want := "1 connected · 1 connecting · 2 reconnecting · 1 pairing · 1 banned · 2 stopped · 4 needs action"
	if w.summary.text != want {
		t.Errorf("summary = %q, want %q", w.summary.text, want)
	}
	if !hasText(w.summary.content, "12 connections") {
		t.Error("the summary does not show the total, 12 connections")
	}

	// Deleting the logged-out account and connecting the waiting one.
	s := statusOf(t, "waiting")
	s.State, s.Since = core.Connected, t0
	w.apply([]core.Status{{Account: statusOf(t, "loggedout").Account, Removed: true}, s})
	want = "2 connected · 1 connecting · 1 reconnecting · 1 pairing · 1 banned · 2 stopped · 3 needs action"
	if w.summary.text != want {
		t.Errorf("after a delete and a connect, summary = %q, want %q", w.summary.text, want)
	}
	if !hasText(w.summary.content, "11 connections") {
		t.Error("the summary's total did not follow the delete")
	}
}

// TestRowGoldens renders the row of every state.
func TestRowGoldens(t *testing.T) {
	test.NewTempApp(t)
	test.ApplyTheme(t, theme.LightTheme())
	for _, s := range sampleStatuses() {
		t.Run(string(s.Account.ID), func(t *testing.T) {
			v := newRowView()
			v.set(s, t0)
			win := test.NewTempWindow(t, v)
			win.SetPadded(false)
			win.Resize(fyne.NewSize(340, v.MinSize().Height))
			test.AssertRendersToMarkup(t, "row_"+string(s.Account.ID)+".xml", win.Canvas())
		})
	}
}

func TestRowCountdownTicks(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	now := t0
	w.now = func() time.Time { return now }
	w.list.now = w.now
	selectRow(t, w, "waiting")
	row := rowFor(t, w, "waiting")
	if row.line.Text != "Reconnecting in 7 s · attempt 4" {
		t.Fatalf("row says %q", row.line.Text)
	}
	now = t0.Add(2 * time.Second)
	w.tick()
	if row.line.Text != "Reconnecting in 5 s · attempt 4" {
		t.Errorf("two seconds later the row says %q, want 5 s left", row.line.Text)
	}
	if w.detail.line.Text != "Reconnecting in 5 s · attempt 4" {
		t.Errorf("two seconds later the detail says %q, want 5 s left", w.detail.line.Text)
	}
}

// rowFor returns the row widget currently showing id.
func rowFor(t *testing.T, w *Window, id core.AccountID) *rowView {
	t.Helper()
	for v := range w.list.views {
		if v.id == id && v.Visible() {
			return v
		}
	}
	t.Fatalf("no row shows %s", id)
	return nil
}
