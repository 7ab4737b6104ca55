package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// visible returns o and every object under it that is shown.
func visible(o fyne.CanvasObject) []fyne.CanvasObject {
	if o == nil || !o.Visible() {
		return nil
	}
	out := []fyne.CanvasObject{o}
	var children []fyne.CanvasObject
	switch x := o.(type) {
	case *fyne.Container:
		children = x.Objects
	case fyne.Widget:
		children = test.WidgetRenderer(x).Objects()
	}
	for _, c := range children {
		out = append(out, visible(c)...)
	}
	return out
}

// findButton returns the shown button labelled text under root, or nil.
func findButton(root fyne.CanvasObject, text string) *widget.Button {
	for _, o := range visible(root) {
		if b, ok := o.(*widget.Button); ok && b.Text == text {
			return b
		}
		if b, ok := o.(*keyButton); ok && b.Text == text {
			return &b.Button
		}
	}
	return nil
}

// hasText reports whether a shown label or text under root says text.
func hasText(root fyne.CanvasObject, text string) bool {
	for _, o := range visible(root) {
		switch x := o.(type) {
		case *widget.Label:
			if x.Text == text {
				return true
			}
		case *widget.RichText:
			if x.String() == text {
				return true
			}
		case *canvas.Text:
			if x.Text == text {
				return true
			}
		}
	}
	return false
}

// topDialog returns the dialog on top of the window, failing the test when
// there is none.
func topDialog(t *testing.T, w *Window) fyne.CanvasObject {
	t.Helper()
	top := w.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog is shown")
	}
	return top
}

// tapDialogButton taps the button labelled text of the top dialog.
func tapDialogButton(t *testing.T, w *Window, text string) {
	t.Helper()
	b := findButton(topDialog(t, w), text)
	if b == nil {
		t.Fatalf("the dialog has no %q button", text)
	}
	test.Tap(b)
}

// selectRow selects id in the list as a click would.
func selectRow(t *testing.T, w *Window, id core.AccountID) {
	t.Helper()
	i, ok := w.list.index[id]
	if !ok {
		t.Fatalf("%s is not in the list", id)
	}
	w.list.list.Select(i)
	if w.detail.status.Account.ID != id {
		t.Fatalf("selecting %s shows %q in the detail", id, w.detail.status.Account.ID)
	}
}

// statusOf returns the sample status with that ID.
func statusOf(t testing.TB, id core.AccountID) core.Status {
	for _, s := range sampleStatuses() {
		if s.Account.ID == id {
			return s
		}
	}
	t.Fatalf("no sample status %s", id)
	return core.Status{}
}
