package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// fakeAPI keeps keys in memory, as the app's store would.
type fakeAPI struct {
	mu      sync.Mutex
	state   APIState
	keys    []core.APIKey
	n       int
	revoked []string
	err     error // every method's, when set
}

func (f *fakeAPI) State() APIState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeAPI) Keys(context.Context) ([]core.APIKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys), f.err
}

func (f *fakeAPI) CreateKey(_ context.Context, name string, readOnly bool, accounts []core.AccountID) (core.APIKey, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return core.APIKey{}, "", f.err
	}
	f.n++
	k := core.APIKey{ID: fmt.Sprintf("key%d", f.n), Name: name, ReadOnly: readOnly, Accounts: accounts, Created: t0}
	f.keys = append(f.keys, k)
	return k, fmt.Sprintf("wdn_key%d_s3cr3t", f.n), nil
}

func (f *fakeAPI) RevokeKey(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
	for i := range f.keys {
		if f.keys[i].ID == id {
			f.keys[i].Revoked = t0
		}
	}
	return f.err
}

// fakeHooks keeps webhooks and their failures in memory.
type fakeHooks struct {
	mu       sync.Mutex
	hooks    []Webhook
	failures map[string][]FailedDelivery
	testRes  Delivery
	retryOK  bool // Retry delivers
	calls    []string
}

func (f *fakeHooks) record(call string) {
	f.calls = append(f.calls, call)
}

func (f *fakeHooks) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeHooks) List(context.Context) ([]Webhook, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.hooks)
	for i := range out {
		out[i].Failed = len(f.failures[out[i].ID])
	}
	return out, nil
}

func (f *fakeHooks) Create(_ context.Context, url string, accounts []core.AccountID, types []string) (Webhook, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("Create %s %v %v", url, accounts, types))
	h := Webhook{ID: fmt.Sprintf("wh_%d", len(f.hooks)+1), URL: url, Accounts: accounts, Types: types, Created: t0}
	f.hooks = append(f.hooks, h)
	return h, "whsec_0123456789abcdef", nil
}

func (f *fakeHooks) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Delete " + id)
	f.hooks = slices.DeleteFunc(f.hooks, func(h Webhook) bool { return h.ID == id })
	return nil
}

func (f *fakeHooks) Test(_ context.Context, id string) (Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Test " + id)
	return f.testRes, nil
}

func (f *fakeHooks) Failures(_ context.Context, id string) ([]FailedDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.failures[id]), nil
}

func (f *fakeHooks) Retry(_ context.Context, webhookID, eventID string) (Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("Retry " + webhookID + " " + eventID)
	if !f.retryOK {
		return Delivery{At: t0, EventID: eventID, Status: 503, Error: "the receiver answered 503 Service Unavailable"},
			errors.New("the webhook did not take the event")
	}
	f.failures[webhookID] = slices.DeleteFunc(f.failures[webhookID], func(fd FailedDelivery) bool { return fd.EventID == eventID })
	return Delivery{At: t0, EventID: eventID, Status: 200}, nil
}

func (f *fakeHooks) RetryAll(_ context.Context, webhookID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RetryAll " + webhookID)
	n := len(f.failures[webhookID])
	f.failures[webhookID] = nil
	return n, nil
}

func (f *fakeHooks) Types() []string {
	return []string{"message.received", "message.sent", "message.delivered", "message.read",
		"account.state", "account.paired", "account.logged_out", "account.needs_action"}
}

func sampleKeys() []core.APIKey {
	return []core.APIKey{
		{ID: "a1", Name: "helpdesk", Created: t0.Add(-48 * time.Hour), LastUsed: t0.Add(-3 * time.Minute)},
		{ID: "b2", Name: "shop orders", ReadOnly: true, Accounts: []core.AccountID{"connected"}, Created: t0.Add(-time.Hour)},
	}
}

func sampleHooks() *fakeHooks {
	return &fakeHooks{
		hooks: []Webhook{
			{ID: "wh_1", URL: "https://crm.example/warden/events", Created: t0.Add(-24 * time.Hour),
				Last: Delivery{At: t0.Add(-2 * time.Minute), EventID: "connected:41", Status: 200}},
			{ID: "wh_2", URL: "http://127.0.0.1:8080/hook", Types: []string{"message.received"}, Accounts: []core.AccountID{"connected", "idle"},
				Created: t0.Add(-time.Hour), Retrying: 1,
				Last: Delivery{At: t0.Add(-time.Minute), EventID: "idle:7", Status: 500, Error: "the receiver answered 500 Internal Server Error"}},
		},
		failures: map[string][]FailedDelivery{"wh_2": {
			{EventID: "connected:3", Type: "message.received", Account: "connected", Time: t0.Add(-26 * time.Hour), Attempts: 41,
				FailedAt: t0.Add(-2 * time.Hour), Last: Delivery{Error: `no answer from the receiver: Post "http://127.0.0.1:8080/hook": dial tcp 127.0.0.1:8080: connect: connection refused`}},
			{EventID: "connected:4", Type: "message.received", Account: "connected", Time: t0.Add(-25 * time.Hour), Attempts: 40,
				FailedAt: t0.Add(-time.Hour), Last: Delivery{Status: 500, Error: "the receiver answered 500 Internal Server Error"}},
		}},
		testRes: Delivery{At: t0, EventID: "test:1", Status: 204},
	}
}

// newAPISettingsWindow opens Settings on its API tab, with keys and
// webhooks; commands run on the test's goroutine.
func newAPISettingsWindow(t *testing.T, size fyne.Size) (*Window, *settingsDialog, *fakeSettingsStore, *fakeAPI, *fakeHooks) {
	t.Helper()
	test.NewTempApp(t)
	st := &fakeSettingsStore{s: defaultSettings()}
	api := &fakeAPI{state: APIState{}, keys: sampleKeys()}
	hooks := sampleHooks()
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...),
		Options{Now: func() time.Time { return t0 }, Size: size, Settings: st, API: api, Webhooks: hooks})
	w.do = func(f func()) { f() }
	w.async = func(work func() func()) {
		if then := work(); then != nil {
			then()
		}
	}
	t.Cleanup(w.Close)
	d := w.showSettings()
	if d == nil {
		t.Fatal("the settings dialog did not open")
	}
	d.tabs.Select(d.apiTab)
	return w, d, st, api, hooks
}

// labelsUnder returns the text of every shown label and rich text under root.
func labelsUnder(root fyne.CanvasObject) []string {
	var out []string
	for _, o := range visible(root) {
		switch x := o.(type) {
		case *widget.Label:
			out = append(out, x.Text)
		case *widget.RichText:
			out = append(out, x.String())
		}
	}
	return out
}

// shows reports whether a shown label under root contains text.
func shows(root fyne.CanvasObject, text string) bool {
	return slices.ContainsFunc(labelsUnder(root), func(s string) bool { return strings.Contains(s, text) })
}

func TestSettingsAPIServer(t *testing.T) {
	w, d, st, _, _ := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
	dlg := topDialog(t, w)
	if !shows(dlg, "The API is off.") {
		t.Errorf("the API tab does not say the API is off: %q", labelsUnder(dlg))
	}
	if !d.entries[fieldAPIAddr].Disabled() || d.entries[fieldAPIAddr].Text != core.DefaultAPIAddr {
		t.Errorf("API off: the address is %q, disabled %v; want the default, disabled", d.entries[fieldAPIAddr].Text, d.entries[fieldAPIAddr].Disabled())
	}
	d.apiOn.SetChecked(true)
	retype(d.entries[fieldAPIAddr], "0.0.0.0:9470")
	if l := d.errLabels[fieldAPIAddr]; !l.Visible() || !strings.Contains(l.Text, "allow remote access") {
		t.Errorf("a non-loopback address: error shown %v, %q", l.Visible(), l.Text)
	}
	if !d.save.Disabled() || d.apiTab.Text != "API (1 to fix)" || d.general.Text != "General" {
		t.Errorf("Save disabled %v, tabs %q %q; want true, API (1 to fix), General", d.save.Disabled(), d.apiTab.Text, d.general.Text)
	}
	d.apiRemote.SetChecked(true)
	if l := d.errLabels[fieldAPITLS]; !l.Visible() || !strings.Contains(l.Text, "plain HTTP") || !d.save.Disabled() {
		t.Errorf("remote without TLS: error shown %v, %q, Save disabled %v", l.Visible(), l.Text, d.save.Disabled())
	}
	retype(d.entries[fieldAPICert], "/etc/warden/cert.pem")
	if l := d.errLabels[fieldAPITLS]; !strings.Contains(l.Text, "go together") {
		t.Errorf("a certificate without its key: %q", l.Text)
	}
	retype(d.entries[fieldAPIKey], "/etc/warden/key.pem")
	if d.errLabels[fieldAPITLS].Visible() || d.save.Disabled() || d.apiTab.Text != "API" {
		t.Fatalf("with TLS: error %q, Save disabled %v, tab %q", d.errLabels[fieldAPITLS].Text, d.save.Disabled(), d.apiTab.Text)
	}
	test.Tap(d.save)
	got := st.saved()
	want := APISettings{On: true, Addr: "0.0.0.0:9470", AllowRemote: true, TLSCert: "/etc/warden/cert.pem", TLSKey: "/etc/warden/key.pem"}
	if len(got) != 1 || got[0].API != want {
		t.Fatalf("saved %+v, want API %+v", got, want)
	}

	// A refusal (the port is taken) shows under the tabs, on the API tab.
	st.saveErr = errors.New("API: serve the API on 127.0.0.1:9470: the port is already in use")
	d = w.showSettings()
	d.tabs.Select(d.apiTab)
	test.Tap(d.save)
	if !d.saveErr.Visible() || !shows(topDialog(t, w), "the port is already in use") {
		t.Errorf("a refused save says %q (shown %v)", d.saveErr.Text, d.saveErr.Visible())
	}
}

func TestSettingsAPIState(t *testing.T) {
	for _, c := range []struct {
		state APIState
		says  string
	}{
		{APIState{Addr: "127.0.0.1:9470"}, "The API is served at http://127.0.0.1:9470."},
		{APIState{Addr: "0.0.0.0:9470", TLS: true}, "The API is served at https://0.0.0.0:9470."},
		{APIState{Addr: "127.0.0.1:9999", FromFlag: true}, "as --api asked: what you save here applies when Warden starts without --api"},
		{APIState{Problem: "the port 9470 is already in use by another program"}, "The API is not served: the port 9470 is already in use"},
	} {
		w, d, _, api, _ := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
		api.state = c.state
		d.dlg.Hide()
		d = w.showSettings()
		d.tabs.Select(d.apiTab)
		if !shows(topDialog(t, w), c.says) {
			t.Errorf("%+v: the tab does not say %q: %q", c.state, c.says, d.apiState.Text)
		}
	}
}

func TestSettingsAPIKeys(t *testing.T) {
	w, d, _, api, _ := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
	dlg := topDialog(t, w)
	for _, want := range []string{"helpdesk", "May operate · every account · created 1 Mar 14:30 · last used 14:27",
		"shop orders", "Read-only · Sales desk 1 · created 13:30 · never used"} {
		if !shows(dlg, want) {
			t.Errorf("the key list does not show %q: %q", want, labelsUnder(d.panel.keysBox))
		}
	}

	// Create: a name is needed, then a read-only key for one account.
	test.Tap(findButton(dlg, "Create key…"))
	k := topDialog(t, w)
	test.Tap(findButton(k, "Create"))
	if !shows(k, "Give the key a name") || len(api.keys) != 2 {
		t.Fatalf("a key without a name: %q, %d keys", labelsUnder(k), len(api.keys))
	}
	test.Type(entryWithPlaceholder(t, k, "who uses it, e.g. helpdesk"), "reports")
	var readOnly *widget.Check
	var group *widget.CheckGroup
	var mode *widget.RadioGroup
	for _, o := range visible(k) {
		switch x := o.(type) {
		case *widget.Check:
			if strings.HasPrefix(x.Text, "Read-only") {
				readOnly = x
			}
		case *widget.CheckGroup:
			group = x
		case *widget.RadioGroup:
			mode = x
		}
	}
	if readOnly == nil || group == nil || mode == nil {
		t.Fatal("the Create key dialog has no read-only check or account choice")
	}
	if !slices.Contains(group.Options, "Sales desk 1 · +4915112345678") || !group.Disabled() {
		t.Errorf("accounts offered %q (disabled %v)", group.Options, group.Disabled())
	}
	readOnly.SetChecked(true)
	mode.SetSelected(pickSome)
	test.Tap(findButton(k, "Create"))
	if !shows(k, "Tick at least one account") {
		t.Errorf("no account ticked: %q", labelsUnder(k))
	}
	group.SetSelected([]string{"Sales desk 1 · +4915112345678"})
	test.Tap(findButton(k, "Create"))
	if n := len(api.keys); n != 3 || api.keys[2].Name != "reports" || !api.keys[2].ReadOnly || !slices.Equal(api.keys[2].Accounts, []core.AccountID{"connected"}) {
		t.Fatalf("created %+v", api.keys)
	}

	// The token, once, with Copy.
	once := topDialog(t, w)
	if !shows(once, "wdn_key1_s3cr3t") || !shows(once, "you will not see it again") || !shows(once, "Authorization: Bearer") {
		t.Errorf("the token dialog says %q", labelsUnder(once))
	}
	test.Tap(findButton(once, "Copy"))
	if got := fyne.CurrentApp().Clipboard().Content(); got != "wdn_key1_s3cr3t" {
		t.Errorf("Copy put %q on the clipboard", got)
	}
	test.Tap(findButton(once, "Done"))
	if top := topDialog(t, w); !shows(top, "reports") || shows(top, "wdn_key1_s3cr3t") {
		t.Errorf("after Done: the list %q", labelsUnder(d.panel.keysBox))
	}

	// Revoke asks first.
	revokes := 0
	var revoke *widget.Button
	for _, o := range visible(d.panel.keysBox) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Revoke" {
			revokes++
			if revoke == nil {
				revoke = b
			}
		}
	}
	if revokes != 3 {
		t.Fatalf("%d Revoke buttons for 3 valid keys", revokes)
	}
	test.Tap(revoke)
	confirm := topDialog(t, w)
	if !shows(confirm, "Revoke “helpdesk”?") {
		t.Fatalf("the confirmation says %q", labelsUnder(confirm))
	}
	tapDialogButton(t, w, "Cancel")
	if len(api.revoked) != 0 {
		t.Fatal("Cancel revoked the key")
	}
	test.Tap(revoke)
	tapDialogButton(t, w, "Revoke")
	if !slices.Equal(api.revoked, []string{"a1"}) || !shows(d.panel.keysBox, "Revoked 14:30") {
		t.Errorf("revoked %v; the list %q", api.revoked, labelsUnder(d.panel.keysBox))
	}
}

// entryWithPlaceholder returns the shown entry under root with that
// placeholder.
func entryWithPlaceholder(t *testing.T, root fyne.CanvasObject, ph string) *widget.Entry {
	t.Helper()
	for _, o := range visible(root) {
		if e, ok := o.(*widget.Entry); ok && e.PlaceHolder == ph {
			return e
		}
	}
	t.Fatalf("no entry %q", ph)
	return nil
}

func TestSettingsAPIKeysUnreadable(t *testing.T) {
	test.NewTempApp(t)
	api := &fakeAPI{err: errors.New("the store is closed")}
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...),
		Options{Now: func() time.Time { return t0 }, Size: fyne.NewSize(1000, 800), Settings: &fakeSettingsStore{s: defaultSettings()}, API: api})
	w.async = func(work func() func()) { work()() }
	t.Cleanup(w.Close)
	d := w.showSettings()
	d.tabs.Select(d.apiTab)
	dlg := topDialog(t, w)
	if !shows(dlg, "The keys could not be read: the store is closed") {
		t.Errorf("the API tab says %q", labelsUnder(dlg))
	}
}

func TestSettingsWebhooks(t *testing.T) {
	w, d, _, _, hooks := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
	box := d.panel.hooksBox
	for _, want := range []string{
		"https://crm.example/warden/events", "Every account · every event · added 2 Mar 14:30", "Last delivery 14:28: delivered (200 OK).",
		"http://127.0.0.1:8080/hook", "Sales desk 1, Front desk · message.received · added 13:30",
		"Last delivery 14:29 failed: the receiver answered 500 Internal Server Error. Retrying for 1 account. 2 events failed for good.",
	} {
		if !shows(box, want) {
			t.Errorf("the webhooks do not show %q: %q", want, labelsUnder(box))
		}
	}

	// Test.
	test.Tap(findButton(box, "Test"))
	if msg := topDialog(t, w); !shows(msg, "Delivered: https://crm.example/warden/events answered 204 No Content.") {
		t.Errorf("the test says %q", labelsUnder(msg))
	}
	tapDialogButton(t, w, "OK")
	hooks.testRes = Delivery{At: t0, Error: "no answer within 10s"}
	test.Tap(findButton(box, "Test"))
	if msg := topDialog(t, w); !shows(msg, "did not take the test event: no answer within 10s.") {
		t.Errorf("a failed test says %q", labelsUnder(msg))
	}
	tapDialogButton(t, w, "OK")

	// Add: a bad address is refused; then some events for every account.
	test.Tap(findButton(topDialog(t, w), "Add webhook…"))
	add := topDialog(t, w)
	url := entryWithPlaceholder(t, add, "https://helpdesk.example/warden")
	test.Type(url, "helpdesk.example/warden")
	test.Tap(findButton(add, "Add"))
	if !shows(add, "Enter an http:// or https:// address") {
		t.Errorf("a URL without a scheme: %q", labelsUnder(add))
	}
	url.SetText("https://helpdesk.example/warden")
	var events *widget.RadioGroup
	var types *widget.CheckGroup
	for _, o := range visible(add) {
		if r, ok := o.(*widget.RadioGroup); ok && slices.Contains(r.Options, someEvents) {
			events = r
		}
		if g, ok := o.(*widget.CheckGroup); ok && slices.Contains(g.Options, "account.needs_action — an account needs you") {
			types = g
		}
	}
	if events == nil || types == nil {
		t.Fatal("the Add webhook dialog offers no choice of events")
	}
	events.SetSelected(someEvents)
	types.SetSelected([]string{"message.received — a message came in", "account.needs_action — an account needs you"})
	test.Tap(findButton(add, "Add"))
	if c := hooks.Calls(); !slices.Contains(c, "Create https://helpdesk.example/warden [] [message.received account.needs_action]") {
		t.Fatalf("calls %q", c)
	}
	once := topDialog(t, w)
	if !shows(once, "whsec_0123456789abcdef") || !shows(once, "you will not see it again") {
		t.Errorf("the secret dialog says %q", labelsUnder(once))
	}
	tapDialogButton(t, w, "Done")
	if !shows(box, "https://helpdesk.example/warden") {
		t.Errorf("the new webhook is not listed: %q", labelsUnder(box))
	}

	// Failed deliveries: Retry one (refused, then taken), then Retry all.
	test.Tap(findButton(box, "Failed deliveries (2)…"))
	fd := topDialog(t, w)
	if !shows(fd, "message.received · Sales desk 1 · 2 Mar 12:30") || !shows(fd, "Failed 12:30 after 41 attempts: nothing answers at that address (connection refused): is the receiver running?") {
		t.Errorf("the failed deliveries say %q", labelsUnder(fd))
	}
	test.Tap(findButton(fd, "Retry"))
	if !shows(fd, "Still not taken: the receiver answered 503 Service Unavailable.") {
		t.Errorf("a refused retry says %q", labelsUnder(fd))
	}
	hooks.retryOK = true
	test.Tap(findButton(fd, "Retry"))
	if !shows(fd, "Delivered message.received (200 OK).") || shows(fd, "41 attempts") || !shows(fd, "40 attempts") {
		t.Errorf("after a retry: %q", labelsUnder(fd))
	}
	test.Tap(findButton(fd, "Retry all"))
	if !shows(fd, "1 event delivered.") || !shows(fd, "None: every event was delivered.") || !findButton(fd, "Retry all").Disabled() {
		t.Errorf("after Retry all: %q", labelsUnder(fd))
	}
	tapDialogButton(t, w, "Close")
	if findButton(box, "Failed deliveries (2)…") != nil || !shows(box, "Retrying for 1 account.") || shows(box, "failed for good") {
		t.Errorf("after retrying every failure, the list says %q", labelsUnder(box))
	}

	// Delete asks first.
	var del *widget.Button
	for _, o := range visible(box) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Delete" && del == nil {
			del = b
		}
	}
	test.Tap(del)
	if c := topDialog(t, w); !shows(c, "Delete the webhook to https://crm.example/warden/events?") {
		t.Fatalf("the confirmation says %q", labelsUnder(c))
	}
	tapDialogButton(t, w, "Delete")
	if !slices.Contains(hooks.Calls(), "Delete wh_1") || shows(box, "https://crm.example/warden/events") {
		t.Errorf("after Delete: calls %q, list %q", hooks.Calls(), labelsUnder(box))
	}
}

func TestSettingsAPIImage(t *testing.T) {
	w, d, _, _, _ := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
	test.ApplyTheme(t, theme.LightTheme())
	d.apiOn.SetChecked(true)
	retype(d.entries[fieldAPIAddr], "0.0.0.0:9470")
	test.AssertImageMatches(t, "settings_api.png", w.win.Canvas().Capture())
	y := fyne.CurrentApp().Driver().AbsolutePositionForObject(d.panel.hooksBox).Y
	d.apiScroll.ScrollToOffset(fyne.NewPos(0, d.apiScroll.Offset.Y+y-300))
	test.AssertImageMatches(t, "settings_api_webhooks.png", w.win.Canvas().Capture())
}

// The open API tab reads the webhooks again by itself, unless a dialog is
// over it; Ctrl+, again does not open a second Settings.
func TestSettingsAPITabRefreshes(t *testing.T) {
	w, d, _, _, hooks := newAPISettingsWindow(t, fyne.NewSize(1000, 800))
	if again := w.showSettings(); again != d || len(w.win.Canvas().Overlays().List()) != 1 {
		t.Fatalf("Settings opened twice: %d overlays", len(w.win.Canvas().Overlays().List()))
	}
	hooks.mu.Lock()
	hooks.hooks[0].Last = Delivery{At: t0, EventID: "connected:42", Status: 503, Error: "the receiver answered 503 Service Unavailable"}
	hooks.mu.Unlock()
	test.Tap(findButton(d.panel.hooksBox, "Test")) // a dialog over the tab: no refresh under it
	for range hooksEvery {
		w.tick()
	}
	if shows(d.panel.hooksBox, "503") {
		t.Error("the webhooks were rebuilt under an open dialog")
	}
	tapDialogButton(t, w, "OK")
	for range hooksEvery {
		w.tick()
	}
	if !shows(d.panel.hooksBox, "Last delivery 14:30 failed: the receiver answered 503 Service Unavailable.") {
		t.Errorf("after %d ticks the webhooks say %q", hooksEvery, labelsUnder(d.panel.hooksBox))
	}
	d.dlg.Hide()
	if w.settings != nil {
		t.Error("the closed dialog is still the open one")
	}
}

// The key's dialogs and the failed deliveries, as an operator sees them at
// the smallest window Warden is made for.
func TestSettingsAPIDialogsImage(t *testing.T) {
	w, d, _, _, _ := newAPISettingsWindow(t, fyne.NewSize(1024, 600))
	test.ApplyTheme(t, theme.LightTheme())
	k := d.panel.showCreateKey()
	test.Type(k.name, "helpdesk")
	k.accounts.mode.SetSelected(pickSome)
	k.accounts.list.SetSelected([]string{"Sales desk 1 · +4915112345678"})
	test.AssertImageMatches(t, "settings_api_create_key.png", w.win.Canvas().Capture())
	test.Tap(k.ok)
	test.AssertImageMatches(t, "settings_api_key_once.png", w.win.Canvas().Capture())
	tapDialogButton(t, w, "Done")
	var hook Webhook
	for _, h := range sampleHooks().hooks {
		if h.ID == "wh_2" {
			hook = h
		}
	}
	d.panel.showFailures(hook)
	test.AssertImageMatches(t, "settings_api_failures.png", w.win.Canvas().Capture())
}
