package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// When Warden cannot start and there is a display, it says why in a small
// window rather than on a terminal the operator may never see.
func TestRefusalSaysWhyAndQuits(t *testing.T) {
	a := test.NewTempApp(t)
	msg := "another Warden is already running with the data directory /home/operator/.local/share/warden: data directory locked\n" +
		"Switch to that one (it may be in the system tray), or quit it first"
	quits := 0
	r := NewRefusal(a, msg, func() { quits++ })
	w := r.Window()
	t.Cleanup(w.Close)
	w.Resize(fyne.NewSize(620, 260))

	// The terminal's words, as sentences.
	said := "Another Warden is already running with the data directory /home/operator/.local/share/warden: data directory locked.\n" +
		"Switch to that one (it may be in the system tray), or quit it first."
	if !hasText(w.Content(), "Warden did not start") || !hasText(w.Content(), said) {
		t.Error("the window does not say that Warden did not start, and why, in sentences")
	}
	test.AssertRendersToMarkup(t, "refusal.xml", w.Canvas())

	test.Tap(findButton(w.Content(), "Copy"))
	if got := a.Clipboard().Content(); got != said {
		t.Errorf("Copy put %q on the clipboard, want the message", got)
	}
	test.Tap(findButton(w.Content(), "Quit"))
	if quits != 1 {
		t.Fatalf("Quit quit %d times", quits)
	}
	for _, k := range []fyne.KeyName{fyne.KeyReturn, fyne.KeyEscape} {
		w.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: k})
	}
	if quits != 3 {
		t.Errorf("Enter and Escape: %d quits in all, want 3", quits)
	}
}
