package ui

import (
	"slices"
	"testing"

	"warden/core"
)

func TestNameSortCountsNumbers(t *testing.T) {
	var sts []core.Status
	for _, n := range []string{"Desk 12", "Desk 7", "Logistics", "Desk 8"} {
		s := statusOf(t, "idle")
		s.Account.ID = core.AccountID(n)
		s.Account.Name = n
		sts = append(sts, s)
	}
	w, _ := newTestWindow(t, sts...)
	want := []core.AccountID{"Desk 7", "Desk 8", "Desk 12", "Logistics"}
	if !slices.Equal(w.list.rows, want) {
		t.Errorf("default order %v, want %v", w.list.rows, want)
	}
	w.list.sortBy(colName)
	if !slices.Equal(w.list.rows, want) {
		t.Errorf("by the Name column %v, want %v", w.list.rows, want)
	}
}
