package ui

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// entries returns the shown entries of the top dialog, top to bottom.
func entries(t *testing.T, w *Window) []*widget.Entry {
	t.Helper()
	var out []*widget.Entry
	for _, o := range visible(topDialog(t, w)) {
		switch e := o.(type) {
		case *widget.Entry:
			out = append(out, e)
		case *escapeEntry:
			out = append(out, &e.Entry)
		}
	}
	return out
}

func TestAddWithAProxy(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	menuItem(t, w, shortcutNew).Action()
	es := entries(t, w)
	if len(es) != 2 {
		t.Fatalf("the Add dialog has %d fields, want name and proxy", len(es))
	}
	test.Type(es[0], "Night shift")
	test.Type(es[1], "socks5://127.0.0.1")
	if err := es[1].Validate(); err == nil || !strings.Contains(err.Error(), "no port") {
		t.Errorf("a proxy without a port validates: %v", err)
	}
	if b := findButton(topDialog(t, w), "Add and pair"); b == nil || !b.Disabled() {
		t.Fatal("Add and pair is offered with a bad proxy")
	}
	tapDialogButton(t, w, "Add and pair")
	if got := ctl.Calls(); len(got) != 0 {
		t.Fatalf("a bad proxy still added: %v", got)
	}
	tapDialogButton(t, w, "Cancel")
	menuItem(t, w, shortcutNew).Action()
	es = entries(t, w)
	test.Type(es[0], "Night shift")
	test.Type(es[1], "SOCKS5://u:pw@127.0.0.1:1080")
	tapDialogButton(t, w, "Add and pair")
	if got := ctl.Calls(); !slices.Equal(got, []string{"Add Night shift socks5://u:pw@127.0.0.1:1080"}) {
		t.Fatalf("adding called %v", got)
	}
	if got := w.detail.factLabels["Proxy"].Text; got != "socks5://u:•••@127.0.0.1:1080" {
		t.Errorf("the Proxy fact shows %q, want the password hidden", got)
	}
}

func TestProxyDialogKeepsTheHiddenPassword(t *testing.T) {
	s := statusOf(t, "connected")
	s.Account.Proxy = "socks5://u:hunter2@10.0.0.1:1080"
	w, ctl := newTestWindow(t, s)
	selectRow(t, w, "connected")
	if got := w.detail.factLabels["Proxy"].Text; strings.Contains(got, "hunter2") {
		t.Fatalf("the Proxy fact shows the password: %q", got)
	}
	test.Tap(w.detail.proxyButton)
	es := entries(t, w)
	if len(es) != 1 || es[0].Text != "socks5://u:•••@10.0.0.1:1080" {
		t.Fatalf("the proxy field shows %q", es[0].Text)
	}
	// Saved as it is, the password stays; the connected account reconnects
	// when asked to.
	tapDialogButton(t, w, "Save and reconnect")
	want := []string{"SetProxy connected socks5://u:hunter2@10.0.0.1:1080", "Disconnect connected", "Connect connected"}
	if got := ctl.Calls(); !slices.Equal(got, want) {
		t.Fatalf("saving called %v, want %v", got, want)
	}

	// A new one replaces it; "Save" alone leaves the session as it is.
	test.Tap(w.detail.proxyButton)
	es = entries(t, w)
	es[0].SetText("")
	test.Type(es[0], "direct")
	tapDialogButton(t, w, "Save")
	if got := ctl.Calls(); got[len(got)-1] != "SetProxy connected direct" || len(got) != 4 {
		t.Errorf("saving direct called %v", got)
	}

	// A bad one cannot be saved.
	test.Tap(w.detail.proxyButton)
	es = entries(t, w)
	es[0].SetText("")
	test.Type(es[0], "ftp://x:21")
	if save := findButton(topDialog(t, w), "Save"); save == nil || !save.Disabled() {
		t.Error("Save is enabled for an ftp proxy")
	}
	if got := ctl.Calls(); len(got) != 4 {
		t.Errorf("a bad proxy called %v", got)
	}
}

func TestProxyText(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "default (see Settings)",
		core.ProxyDirect:                "none (direct, even with a default proxy)",
		"http://a:b@proxy.example:3128": "http://a:•••@proxy.example:3128",
	} {
		if got := proxyText(in); got != want {
			t.Errorf("proxyText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProxyDialogImage(t *testing.T) {
	s := statusOf(t, "connected")
	s.Account.Proxy = "socks5://warden:hunter2@10.0.0.1:1080"
	w, _ := newTestWindow(t, s)
	test.ApplyTheme(t, theme.LightTheme())
	selectRow(t, w, "connected")
	test.Tap(w.detail.proxyButton)
	test.AssertImageMatches(t, "proxy_light.png", w.win.Canvas().Capture())
}

// confirmShown reports whether the top dialog shows a field's green ✓.
func confirmShown(t *testing.T, w *Window) bool {
	for _, o := range visible(topDialog(t, w)) {
		if img, ok := o.(*canvas.Image); ok && img.Resource != nil && strings.Contains(img.Resource.Name(), "check") {
			return true
		}
	}
	return false
}

func TestProxyDialogJudgesEveryKeystroke(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "connected")
	test.Tap(w.detail.proxyButton)
	entry := entries(t, w)[0]
	typed := ""
	for _, r := range "ftp://bad host:99999" {
		test.Type(entry, string(r))
		typed += string(r)
		err := entry.Validator(typed)
		save := findButton(topDialog(t, w), "Save and reconnect")
		if save.Disabled() != (err != nil) {
			t.Fatalf("after %q Save is disabled=%v, the check says %v", typed, save.Disabled(), err)
		}
		if confirmShown(t, w) != (err == nil) {
			t.Fatalf("after %q the ✓ shows=%v, the check says %v", typed, confirmShown(t, w), err)
		}
		if err != nil && !hasText(topDialog(t, w), err.Error()) {
			t.Fatalf("after %q the dialog does not say %q", typed, err)
		}
	}
	// Corrected in place, it is accepted with a ✓ and no stale error.
	entry.SetText("socks5://good-host:1080")
	if findButton(topDialog(t, w), "Save and reconnect").Disabled() || !confirmShown(t, w) {
		t.Error("a good proxy is not accepted")
	}
	if hasText(topDialog(t, w), "Unsupported") || hasText(topDialog(t, w), "port") {
		t.Error("an error about the earlier value is still shown")
	}
}
