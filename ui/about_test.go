package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

var sampleAbout = About{
	Warden:     "0.1.0",
	Whatsmeow:  "v0.0.0-20251217143725-11cf47c62d32",
	Fyne:       "v2.8.1",
	WebVersion: "2.3000.1031080782",
	WebSource:  "fetched from WhatsApp at 05:40 today",
	DataDir:    "/home/operator/.local/share/warden",
}

func TestAboutShowsVersionsAndCopiesThem(t *testing.T) {
	test.NewTempApp(t)
	asked := 0
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...), Options{Now: func() time.Time { return t0 },
		About: func() About { asked++; return sampleAbout }})
	t.Cleanup(w.Close)

	if menus := w.win.MainMenu().Items; menus[len(menus)-1].Label != "Help" {
		t.Fatalf("the last menu is %q, want Help", menus[len(menus)-1].Label)
	}
	w.showAbout()
	dlg := topDialog(t, w)
	for _, want := range []string{"0.1.0", "2.3000.1031080782", "fetched from WhatsApp at 05:40 today", "v0.0.0-20251217143725-11cf47c62d32", "v2.8.1"} {
		if !hasText(dlg, want) {
			t.Errorf("About does not show %q", want)
		}
	}
	tapDialogButton(t, w, "Copy")
	got := fyne.CurrentApp().Clipboard().Content()
	for _, want := range []string{"Warden: 0.1.0\n", "WhatsApp Web version: 2.3000.1031080782\n", "(fetched from WhatsApp at 05:40 today)"} {
		if !strings.Contains(got, want) {
			t.Errorf("copied %q, want it to contain %q", got, want)
		}
	}
	tapDialogButton(t, w, "Close")
	if w.win.Canvas().Overlays().Top() != nil {
		t.Error("Close left the dialog open")
	}
	// Each opening asks afresh: the version may have been fetched since.
	w.showAbout()
	if asked != 2 {
		t.Errorf("About was filled in %d times for two openings", asked)
	}
}

func TestNoHelpMenuWithoutAbout(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	for _, m := range w.win.MainMenu().Items {
		if m.Label == "Help" {
			t.Error("a Help menu without an About")
		}
	}
	if w.showAbout() != nil {
		t.Error("showAbout opened something without an About")
	}
}

func TestAboutImage(t *testing.T) {
	test.NewTempApp(t)
	test.ApplyTheme(t, theme.LightTheme())
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...), Options{Now: func() time.Time { return t0 }, Size: fyne.NewSize(1000, 660),
		About: func() About { return sampleAbout }})
	t.Cleanup(w.Close)
	w.showAbout()
	test.AssertImageMatches(t, "about_light.png", w.win.Canvas().Capture())
}
