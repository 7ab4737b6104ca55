package ui

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"warden/core"
)

// t0 is the fixed "now" of the tests, so that goldens are stable.
var t0 = time.Date(2026, 3, 3, 14, 30, 0, 0, time.UTC)

// fakeController records the commands it gets and serves fixed statuses.
type fakeController struct {
	mu       sync.Mutex
	calls    []string
	statuses []core.Status
	updates  chan core.Status
	live     []chan core.Event // SubscribeEvents' streams
	errs     map[string]error  // by method name
	code     string            // PairPhone's answer
	events   []core.Event
	added    int
	canceled bool
	sendRes  core.SendResult // SendText's answer
}

func newFakeController(statuses ...core.Status) *fakeController {
	return &fakeController{statuses: statuses, updates: make(chan core.Status, 16), errs: map[string]error{}, code: "ABCD2345"}
}

func (f *fakeController) record(method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := method
	for _, a := range args {
		call += fmt.Sprintf(" %v", a)
	}
	f.calls = append(f.calls, call)
	return f.errs[method]
}

// Calls returns the commands received so far, as "Method arg…".
func (f *fakeController) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeController) Add(_ context.Context, name string, opts ...core.AccountOption) (core.Account, error) {
	var a core.Account
	for _, opt := range opts {
		if err := opt(&a); err != nil {
			return core.Account{}, err
		}
	}
	args := []any{name}
	if a.Proxy != "" {
		args = append(args, a.Proxy)
	}
	if err := f.record("Add", args...); err != nil {
		return core.Account{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added++
	a.ID, a.Name, a.CreatedAt = core.AccountID(fmt.Sprintf("new-%d", f.added)), name, t0
	f.statuses = append(f.statuses, core.Status{Account: a, State: core.Pairing, Since: t0})
	return a, nil
}

// SendText answers with f.sendRes, or errs["SendText"].
func (f *fakeController) SendText(_ context.Context, id core.AccountID, to, text string) (core.SendResult, error) {
	if err := f.record("SendText", id, to); err != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.sendRes, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sendRes, nil
}

func (f *fakeController) Connect(_ context.Context, id core.AccountID) error {
	return f.record("Connect", id)
}

func (f *fakeController) Disconnect(_ context.Context, id core.AccountID) error {
	return f.record("Disconnect", id)
}

func (f *fakeController) Logout(_ context.Context, id core.AccountID) error {
	return f.record("Logout", id)
}

func (f *fakeController) Delete(_ context.Context, id core.AccountID) error {
	return f.record("Delete", id)
}

func (f *fakeController) PairPhone(_ context.Context, id core.AccountID, phone string) (string, error) {
	if err := f.record("PairPhone", id, phone); err != nil {
		return "", err
	}
	return f.code, nil
}

func (f *fakeController) Rename(_ context.Context, id core.AccountID, name string) error {
	return f.record("Rename", id, name)
}

func (f *fakeController) SetProxy(_ context.Context, id core.AccountID, proxy string) error {
	if err := f.record("SetProxy", id, proxy); err != nil {
		return err
	}
	p, err := core.NormalizeProxy(proxy)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.statuses {
		if f.statuses[i].Account.ID == id {
			f.statuses[i].Account.Proxy = p
		}
	}
	return nil
}

func (f *fakeController) Statuses() []core.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.Status(nil), f.statuses...)
}

func (f *fakeController) Subscribe() (<-chan core.Status, func()) {
	return f.updates, func() {
		f.mu.Lock()
		f.canceled = true
		f.mu.Unlock()
	}
}

func (f *fakeController) SubscribeEvents() (<-chan core.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan core.Event, 256)
	f.live = append(f.live, ch)
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, c := range f.live {
			if c == ch {
				f.live = append(f.live[:i], f.live[i+1:]...)
				close(ch)
				return
			}
		}
	}
}

// emit records evs as the engine would: stored, then sent to every
// subscriber of SubscribeEvents.
func (f *fakeController) emit(evs ...core.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, evs...)
	for _, ch := range f.live {
		for _, ev := range evs {
			ch <- ev
		}
	}
}

func (f *fakeController) Events(_ context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["Events"]; err != nil {
		return nil, err
	}
	evs := make([]core.Event, 0, len(f.events))
	for _, e := range f.events {
		if e.Account == id {
			evs = append(evs, e)
		}
	}
	if len(evs) > limit {
		evs = evs[len(evs)-limit:]
	}
	return evs, nil
}

// newTestWindow builds a window over a fake controller holding statuses. Its
// commands and Fyne calls run at once on the test's goroutine.
func newTestWindow(t testing.TB, statuses ...core.Status) (*Window, *fakeController) {
	t.Helper()
	test.NewTempApp(t)
	return newTestWindowOfApp(t, statuses...)
}

// newLightTestWindow is newTestWindow in the light theme, applied before
// the window exists: a theme applied after would redraw it while a golden
// image is taken.
func newLightTestWindow(t *testing.T, statuses ...core.Status) (*Window, *fakeController) {
	t.Helper()
	test.NewTempApp(t)
	test.ApplyTheme(t, theme.LightTheme())
	return newTestWindowOfApp(t, statuses...)
}

// newTestWindowOfApp is newTestWindow in the current app.
func newTestWindowOfApp(t testing.TB, statuses ...core.Status) (*Window, *fakeController) {
	t.Helper()
	ctl := newFakeController(statuses...)
	w := newWindow(fyne.CurrentApp(), ctl, Options{Now: func() time.Time { return t0 }, Size: fyne.NewSize(1000, 660)})
	w.do = func(f func()) { f() }
	w.async = func(work func() func()) {
		if then := work(); then != nil {
			then()
		}
	}
	t.Cleanup(w.Close)
	return w, ctl
}

func acct(id, name, jid string) core.Account {
	return core.Account{ID: core.AccountID(id), Name: name, JID: jid, CreatedAt: t0.Add(-72 * time.Hour)}
}

// A realistic WhatsApp pairing QR payload: ref, noise key, identity key, adv secret.
const sampleQR = "2@Xk3mB9qWvYt7nP2sLr5cZa8dFh1jKg4eUo6iTy0wRb,Qm9xV2nL7pK4sJ8hG3fD6aZ1cB5vN0mX2qW8eR7tY4u=,Hj6kL9pO2iU5yT8rE1wQ4aS7dF0gH3jK6lZ9xC2vB5n=,Pq8rS1tU4vW7xY0zA3bC6dE9fG2hJ5kL8mN1oP4qR7s="

// sampleStatuses is one account in every state the UI tells apart.
func sampleStatuses() []core.Status {
	return []core.Status{
		{Account: acct("idle", "Front desk", "15550001111.0:3@s.whatsapp.net"), State: core.Idle, Since: t0.Add(-20 * time.Minute)},
		{Account: acct("expired", "New shop", ""), State: core.Idle, Since: t0.Add(-time.Minute), Reason: "QR code expired"},
		{Account: acct("pairing", "Warehouse", ""), State: core.Pairing, Since: t0.Add(-40 * time.Second),
			QRCode: sampleQR, QRIndex: 2, QRTotal: 6, QRExpires: t0.Add(17 * time.Second)},
		{Account: acct("connecting", "Support 2", "15550002222.0:7@s.whatsapp.net"), State: core.Connecting, Since: t0.Add(-2 * time.Second), Attempt: 1, Epoch: 4},
		{Account: acct("connected", "Sales desk 1", "4915112345678.0:12@s.whatsapp.net"), State: core.Connected, Since: t0.Add(-(2*time.Hour + 14*time.Minute)), Epoch: 9},
		{Account: acct("waiting", "Sales desk 2", "15550003333.0:2@s.whatsapp.net"), State: core.Waiting, Since: t0.Add(-12 * time.Second),
			Attempt: 4, NextAttempt: t0.Add(7 * time.Second), Reason: "The connection dropped (stream error 515).", Epoch: 12},
		{Account: acct("takeover", "Billing", "15550004444.0:5@s.whatsapp.net"), State: core.Replaced, Since: t0.Add(-6 * time.Second),
			NextAttempt: t0.Add(24 * time.Second), Reason: "Another client connected to this account; Warden takes it back once in 30 s.", Epoch: 3},
		{Account: acct("replaced", "Marketing", "15550005555.0:9@s.whatsapp.net"), State: core.Replaced, Since: time.Date(2026, 3, 3, 14, 2, 0, 0, time.UTC),
			Reason: "Another client is using this account since 14:02.", Epoch: 6},
		{Account: acct("loggedout", "Old phone", "15550006666.0:1@s.whatsapp.net"), State: core.LoggedOut, Since: t0.Add(-3 * time.Hour), Reason: "The phone removed this linked device."},
		{Account: acct("banned", "Bulk sender", "15550007777.0:4@s.whatsapp.net"), State: core.Banned, Since: t0.Add(-time.Hour),
			NextAttempt: t0.Add(3*time.Hour + 10*time.Minute), Reason: "WhatsApp banned this account temporarily."},
		{Account: acct("outdated", "Legacy", "15550008888.0:6@s.whatsapp.net"), State: core.Outdated, Since: t0.Add(-5 * time.Minute), Reason: "WhatsApp says this client version is too old (405)."},
		{Account: acct("failed", "Reception", "15550009999.0:8@s.whatsapp.net"), State: core.Failed, Since: t0.Add(-9 * time.Minute), Reason: "the device keys could not be read"},
	}
}
