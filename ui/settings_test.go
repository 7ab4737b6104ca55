package ui

import (
	"errors"
	"maps"
	"reflect"
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

func defaultSettings() Settings {
	return Settings{
		Policy: core.DefaultPolicy(), Notifications: true, LogLevel: "info", Theme: "system",
		MaxEvents: 100_000, MaxAge: 90 * 24 * time.Hour,
	}
}

func TestValidateSettings(t *testing.T) {
	base := defaultSettings()
	tests := []struct {
		name string
		edit func(*settingsForm)
		want []string // the fields with an error
	}{
		{"the defaults", func(*settingsForm) {}, nil},
		{"negative jitter", func(f *settingsForm) { f.jitter = "-1" }, []string{fieldJitter}},
		{"zero jitter is fine", func(f *settingsForm) { f.jitter = "0" }, nil},
		{"jitter above 100 %", func(f *settingsForm) { f.jitter = "101" }, []string{fieldJitter}},
		{"a delay of zero", func(f *settingsForm) { f.schedule[0].delay = "0" }, []string{rowField(0, fieldDelay)}},
		{"a negative delay", func(f *settingsForm) { f.schedule[2].delay = "-10" }, []string{rowField(2, fieldDelay)}},
		{"attempts are not a number", func(f *settingsForm) { f.schedule[1].upTo = "five" }, []string{rowField(1, fieldUpTo)}},
		{"attempts are not whole", func(f *settingsForm) { f.schedule[1].upTo = "4.5" }, []string{rowField(1, fieldUpTo)}},
		{"attempts of zero", func(f *settingsForm) { f.schedule[0].upTo = "0" }, []string{rowField(0, fieldUpTo)}},
		{"attempts that do not increase", func(f *settingsForm) { f.schedule[2].upTo = "5" }, []string{rowField(2, fieldUpTo)}},
		{"attempts that go down", func(f *settingsForm) { f.schedule[2].upTo = "3" }, []string{rowField(2, fieldUpTo)}},
		{"a delay shorter than the row above", func(f *settingsForm) { f.schedule[3].delay = "9" }, []string{rowField(3, fieldDelay)}},
		{"an equal delay is fine", func(f *settingsForm) { f.schedule[3].delay = "10" }, nil},
		{"no rows", func(f *settingsForm) { f.schedule = nil }, []string{fieldSchedule}},
		{"empty", func(f *settingsForm) { f.zombie = " " }, []string{fieldZombie}},
		{"zero conflicts", func(f *settingsForm) { f.conflicts = "0" }, []string{fieldConflicts}},
		{"a conflict window that is not a number", func(f *settingsForm) { f.window = "10m" }, []string{fieldWindow}},
		{"a negative takeover delay", func(f *settingsForm) { f.takeover = "-30" }, []string{fieldTakeover}},
		{"a zero zombie threshold", func(f *settingsForm) { f.zombie = "0" }, []string{fieldZombie}},
		{"NaN", func(f *settingsForm) { f.zombie = "NaN" }, []string{fieldZombie}},
		{"self-check off", func(f *settingsForm) { f.selfCheck = "0" }, nil},
		{"self-check every 10 minutes", func(f *settingsForm) { f.selfCheck = "10" }, nil},
		{"self-check more often than every 10 minutes", func(f *settingsForm) { f.selfCheck = "9.5" }, []string{fieldSelfCheck}},
		{"self-check negative", func(f *settingsForm) { f.selfCheck = "-10" }, []string{fieldSelfCheck}},
		{"self-check empty", func(f *settingsForm) { f.selfCheck = "" }, []string{fieldSelfCheck}},
		{"zero events", func(f *settingsForm) { f.maxEvents = "0" }, []string{fieldMaxEvents}},
		{"too many days", func(f *settingsForm) { f.maxDays = "100000" }, []string{fieldMaxDays}},
		{"fractional days", func(f *settingsForm) { f.maxDays = "1.5" }, []string{fieldMaxDays}},
		{"several at once, each on its own", func(f *settingsForm) {
			f.jitter, f.conflicts, f.schedule[1].upTo, f.schedule[1].delay = "x", "-2", "1", "0"
		}, []string{fieldConflicts, fieldJitter, rowField(1, fieldDelay), rowField(1, fieldUpTo)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := formOf(base)
			tt.edit(&f)
			s, errs := validateSettings(base, f)
			got := slices.Sorted(maps.Keys(errs))
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("validateSettings: errors in %q (%v), want in %q", got, errs, want)
			}
			for k, msg := range errs {
				if msg == "" {
					t.Errorf("the error of %s has no words", k)
				}
			}
			if len(errs) == 0 {
				if err := s.Policy.Validate(); err != nil {
					t.Errorf("settings the dialog accepts are refused by the engine: %v", err)
				}
			}
		})
	}
}

func TestValidateSettingsReadsEveryField(t *testing.T) {
	base := defaultSettings()
	base.Policy.StableAfter = 90 * time.Second // not in the dialog: kept
	f := settingsForm{
		schedule:    []scheduleText{{"2", "1.5"}, {"10", "20"}},
		jitter:      "25",
		conflicts:   "3",
		window:      "15",
		takeover:    "45",
		takeoverOff: true,
		zombie:      "120",
		selfCheck:   "15",
		maxEvents:   "5000",
		maxDays:     "30",
		logLevel:    "debug",
		theme:       "dark",
		apiAddr:     core.DefaultAPIAddr,
	}
	s, errs := validateSettings(base, f)
	if len(errs) > 0 {
		t.Fatalf("validateSettings: %v", errs)
	}
	want := base
	want.Policy.Schedule = []core.Backoff{{UpTo: 2, Delay: 1500 * time.Millisecond}, {UpTo: 10, Delay: 20 * time.Second}}
	want.Policy.Jitter = 0.25
	want.Policy.ConflictLimit, want.Policy.ConflictWindow, want.Policy.TakeoverDelay, want.Policy.TakeoverOff = 3, 15*time.Minute, 45*time.Second, true
	want.Policy.ZombieAfter = 2 * time.Minute
	want.Policy.SelfCheckEvery = 15 * time.Minute
	want.MaxEvents, want.MaxAge = 5000, 30*24*time.Hour
	want.Notifications, want.LogLevel, want.Theme = false, "debug", "dark"
	if !reflect.DeepEqual(s, want) {
		t.Errorf("validateSettings =\n%+v\nwant\n%+v", s, want)
	}
	// And back: the form of the result says what was typed.
	if got := formOf(s); !reflect.DeepEqual(got, f) {
		t.Errorf("formOf(validateSettings(f)) =\n%+v\nwant\n%+v", got, f)
	}
}

// fakeSettingsStore keeps settings in memory and records saves.
type fakeSettingsStore struct {
	mu      sync.Mutex
	s       Settings
	saves   []Settings
	saveErr error
}

func (f *fakeSettingsStore) Load() (Settings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s, nil
}

func (f *fakeSettingsStore) Save(s Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.saveErr != nil {
		return f.saveErr
	}
	f.saves = append(f.saves, s)
	f.s = s
	return nil
}

func (f *fakeSettingsStore) saved() []Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.saves)
}

// newSettingsWindow returns a window with a Settings store and its dialog open.
func newSettingsWindow(t *testing.T) (*Window, *settingsDialog, *fakeSettingsStore) {
	t.Helper()
	test.NewTempApp(t)
	st := &fakeSettingsStore{s: defaultSettings()}
	w := newWindow(fyne.CurrentApp(), newFakeController(sampleStatuses()...),
		Options{Now: func() time.Time { return t0 }, Size: fyne.NewSize(1000, 800), Settings: st})
	t.Cleanup(w.Close)
	d := w.showSettings()
	if d == nil || w.win.Canvas().Overlays().Top() == nil {
		t.Fatal("the settings dialog did not open")
	}
	return w, d, st
}

func retype(e *widget.Entry, text string) {
	e.SetText("")
	test.Type(e, text)
}

func TestSettingsDialogRefusesInvalidValuesAndSavesNothing(t *testing.T) {
	w, d, st := newSettingsWindow(t)
	if d.save.Disabled() {
		t.Fatal("Save is disabled for the saved settings")
	}

	retype(d.entries[fieldZombie], "abc")
	retype(d.rows[2].upTo, "4")
	if !d.errLabels[fieldZombie].Visible() || d.errLabels[fieldZombie].Text != "“abc” is not a number." {
		t.Errorf("zombie field: error shown %v, %q", d.errLabels[fieldZombie].Visible(), d.errLabels[fieldZombie].Text)
	}
	if want := "Attempts: Must be more than the row above (5): the rows go up."; !d.rows[2].err.Visible() || d.rows[2].err.Text != want {
		t.Errorf("third schedule row: error shown %v, %q; want %q", d.rows[2].err.Visible(), d.rows[2].err.Text, want)
	}
	if d.errLabels[fieldJitter].Visible() || d.rows[1].err.Visible() {
		t.Error("fields that are right show an error")
	}
	if !d.save.Disabled() {
		t.Error("Save is enabled while two fields are wrong")
	}
	test.Tap(d.save)
	if got := st.saved(); len(got) != 0 {
		t.Fatalf("invalid settings were saved: %+v", got)
	}

	// Fixing one leaves the other's error and Save refused.
	retype(d.entries[fieldZombie], "240")
	if d.errLabels[fieldZombie].Visible() || !d.save.Disabled() {
		t.Errorf("after fixing the zombie field: its error shown %v, Save disabled %v; want false, true", d.errLabels[fieldZombie].Visible(), d.save.Disabled())
	}
	retype(d.rows[2].upTo, "15")
	if d.save.Disabled() {
		t.Fatal("Save is still disabled once every field is right")
	}
	d.notify.SetChecked(false)
	d.theme.SetSelected("Dark")
	test.Tap(d.save)
	got := st.saved()
	if len(got) != 1 {
		t.Fatalf("Save saved %d times, want once", len(got))
	}
	want := defaultSettings()
	want.Policy.ZombieAfter = 4 * time.Minute
	want.Notifications, want.Theme = false, "dark"
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("saved\n%+v\nwant\n%+v", got[0], want)
	}
	if w.alerts.on.Load() {
		t.Error("notifications are still on after saving them off")
	}
	if w.win.Canvas().Overlays().Top() != nil {
		t.Error("the dialog stays open after saving")
	}
}

func TestSettingsDialogKeepsItsValuesWhenSavingFails(t *testing.T) {
	w, d, st := newSettingsWindow(t)
	st.saveErr = errors.New("the disk is full")
	retype(d.entries[fieldJitter], "20")
	test.Tap(d.save)
	if !d.saveErr.Visible() || d.saveErr.Text != "Not saved: the disk is full" {
		t.Errorf("a failed save says %q (shown %v)", d.saveErr.Text, d.saveErr.Visible())
	}
	if w.win.Canvas().Overlays().Top() == nil || d.entries[fieldJitter].Text != "20" {
		t.Error("the dialog closed or lost the typed value after a failed save")
	}
}

func TestSettingsScheduleRows(t *testing.T) {
	w, d, st := newSettingsWindow(t)
	test.Tap(d.addRow)
	if n := len(d.rows); n != 5 {
		t.Fatalf("Add row: %d rows, want 5", n)
	}
	if r := d.rows[4]; r.upTo.Text != "17" || r.delay.Text != "30" {
		t.Errorf("a new row proposes %q attempts, %q s; want 17, 30", r.upTo.Text, r.delay.Text)
	}
	retype(d.rows[4].delay, "60")
	for range 3 {
		test.Tap(d.rows[0].remove)
	}
	if n := len(d.rows); n != 2 {
		t.Fatalf("after removing 3 of 5 rows: %d rows", n)
	}
	test.Tap(d.save)
	got := st.saved()
	if len(got) != 1 {
		t.Fatalf("saved %d times, want once", len(got))
	}
	want := []core.Backoff{{UpTo: 16, Delay: 30 * time.Second}, {UpTo: 17, Delay: time.Minute}}
	if !slices.Equal(got[0].Policy.Schedule, want) {
		t.Errorf("saved schedule %v, want %v", got[0].Policy.Schedule, want)
	}

	// The last row cannot go.
	d = w.showSettings()
	test.Tap(d.rows[0].remove)
	if !d.rows[0].remove.Disabled() || len(d.rows) != 1 {
		t.Errorf("the only row: remove disabled %v, %d rows", d.rows[0].remove.Disabled(), len(d.rows))
	}
}

func TestSettingsBreakerOff(t *testing.T) {
	_, d, st := newSettingsWindow(t)
	retype(d.entries[fieldConflicts], "0")
	if !d.save.Disabled() {
		t.Fatal("zero conflicts are accepted")
	}
	d.off.SetChecked(true)
	if !d.entries[fieldConflicts].Disabled() || d.entries[fieldConflicts].Text != "2" || d.save.Disabled() {
		t.Errorf("breaker off: conflicts disabled %v, text %q, Save disabled %v; want true, the saved 2, false",
			d.entries[fieldConflicts].Disabled(), d.entries[fieldConflicts].Text, d.save.Disabled())
	}
	test.Tap(d.save)
	if got := st.saved(); len(got) != 1 || !got[0].Policy.TakeoverOff || got[0].Policy.ConflictLimit != 2 {
		t.Errorf("saved %+v, want the breaker off and the limit kept", got)
	}
}

func TestSettingsMenuItem(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	for _, m := range w.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Label == "Settings…" {
				t.Error("a window without a settings store offers Settings…")
			}
		}
	}
	w2, _, _ := newSettingsWindow(t)
	var item *fyne.MenuItem
	for _, it := range w2.win.MainMenu().Items[0].Items {
		if it.Label == "Settings…" {
			item = it
		}
	}
	if item == nil || item.Shortcut != shortcutSettings {
		t.Fatalf("File has no Settings… item with Ctrl+, (%+v)", item)
	}
}

func TestSettingsImage(t *testing.T) {
	w, d, _ := newSettingsWindow(t)
	test.ApplyTheme(t, theme.LightTheme())
	retype(d.entries[fieldJitter], "-5")
	retype(d.rows[2].upTo, "5")
	test.AssertRendersToImage(t, "settings_dialog.png", w.win.Canvas())
}

func TestSettingsDefaultProxy(t *testing.T) {
	base := defaultSettings()
	base.DefaultProxy = "socks5://ops:hunter2@10.0.0.1:1080"
	f := formOf(base)
	if f.defaultProxy != "socks5://ops:•••@10.0.0.1:1080" {
		t.Fatalf("the form shows %q, want the password hidden", f.defaultProxy)
	}
	// Untouched, the saved password stays.
	if s, errs := validateSettings(base, f); len(errs) != 0 || s.DefaultProxy != base.DefaultProxy {
		t.Errorf("untouched: %q, %v; want the saved proxy", s.DefaultProxy, errs)
	}
	for typed, want := range map[string]string{
		"":                        "",
		"HTTP://proxy.lan:3128":   "http://proxy.lan:3128",
		"socks5://ops:new@h:1080": "socks5://ops:new@h:1080",
	} {
		f.defaultProxy = typed
		if s, errs := validateSettings(base, f); len(errs) != 0 || s.DefaultProxy != want {
			t.Errorf("typed %q: %q, %v; want %q", typed, s.DefaultProxy, errs, want)
		}
	}
	for typed, want := range map[string]string{
		"proxy.lan:3128":    "Start with the kind of proxy",
		"direct":            "Leave it empty for no default proxy.",
		"socks5://u@h:1080": "no password",
	} {
		f.defaultProxy = typed
		if _, errs := validateSettings(base, f); !strings.Contains(errs[fieldProxy], want) {
			t.Errorf("typed %q: error %q, want %q", typed, errs[fieldProxy], want)
		}
	}
}

func TestSettingsMetricsAddress(t *testing.T) {
	base := defaultSettings()
	f := formOf(base)
	for typed, want := range map[string]string{"": "", " 127.0.0.1:9464 ": "127.0.0.1:9464", "localhost:9100": "localhost:9100"} {
		f.metricsAddr = typed
		if s, errs := validateSettings(base, f); len(errs) != 0 || s.MetricsAddr != want {
			t.Errorf("typed %q: %q, %v; want %q", typed, s.MetricsAddr, errs, want)
		}
	}
	f.metricsAddr = "0.0.0.0:9464"
	if _, errs := validateSettings(base, f); errs[fieldMetrics] == "" {
		t.Error("a non-loopback address is accepted without allowing other machines")
	}
	f.metricsRemote = true
	if s, errs := validateSettings(base, f); len(errs) != 0 || !s.MetricsAllowRemote {
		t.Errorf("allowed: %+v, %v", s, errs)
	}
	f.metricsAddr = "127.0.0.1:99999"
	if _, errs := validateSettings(base, f); errs[fieldMetrics] == "" {
		t.Error("port 99999 is accepted")
	}
}

func TestSettingsFleet(t *testing.T) {
	base := defaultSettings()
	base.Fleet = FleetSettings{Endpoints: "http://e1:2379", DatabaseURL: "postgres://warden:hunter2@db:5432/warden", Node: "desk-1", LeaseTTL: 7 * time.Second}
	f := formOf(base)
	if strings.Contains(f.fleetDB, "hunter2") || f.fleetTTL != "7" {
		t.Fatalf("the form shows %q and %q", f.fleetDB, f.fleetTTL)
	}
	// Untouched, the saved password stays.
	if s, errs := validateSettings(base, f); len(errs) != 0 || s.Fleet != base.Fleet {
		t.Errorf("untouched: %+v, %v; want the saved fleet", s.Fleet, errs)
	}
	// Emptied, the desktop runs alone.
	alone := settingsForm(f)
	alone.fleetEtcd, alone.fleetDB, alone.fleetNode, alone.fleetTTL = "", "", "", ""
	if s, errs := validateSettings(base, alone); len(errs) != 0 || s.Fleet != (FleetSettings{}) {
		t.Errorf("emptied: %+v, %v", s.Fleet, errs)
	}
	for _, c := range []struct {
		etcd, db, node, ttl string
		field, want         string
	}{
		{"e1:2379", "postgres://w@db/warden", "", "", fieldFleetEtcd, "http://"},
		{"http://e1:2379", "", "", "", fieldFleetDB, "needs its database"},
		{"", "postgres://w@db/warden", "", "", fieldFleetEtcd, "No etcd endpoint"},
		{"http://e1:2379", "postgres://w@db", "", "", fieldFleetDB, "no database"},
		{"http://e1:2379", "postgres://w@db/warden", "my desk", "", fieldFleetNode, "not allowed"},
		{"http://e1:2379", "postgres://w@db/warden", "", "1", fieldFleetTTL, "at least 2"},
	} {
		g := f
		g.fleetEtcd, g.fleetDB, g.fleetNode, g.fleetTTL = c.etcd, c.db, c.node, c.ttl
		if _, errs := validateSettings(base, g); !strings.Contains(errs[c.field], c.want) {
			t.Errorf("%+v: %s error %q, want %q (all: %v)", c, c.field, errs[c.field], c.want, errs)
		}
	}

	// In the dialog: a bad endpoint blocks Save; a good fleet is saved.
	_, d, st := newSettingsWindow(t)
	retype(d.entries[fieldFleetEtcd], "etcd1:2379")
	retype(d.entries[fieldFleetDB], "postgres://warden:pw@db:5432/warden")
	if !d.save.Disabled() || !d.errLabels[fieldFleetEtcd].Visible() {
		t.Fatal("a bad etcd endpoint can be saved")
	}
	retype(d.entries[fieldFleetEtcd], "http://etcd1:2379, http://etcd2:2379")
	test.Tap(d.save)
	if got := st.s.Fleet; got.Endpoints != "http://etcd1:2379,http://etcd2:2379" || got.DatabaseURL != "postgres://warden:pw@db:5432/warden" || got.Node != "" {
		t.Errorf("saved %+v", got)
	}
}

func TestSettingsFleetImage(t *testing.T) {
	w, d, _ := newSettingsWindow(t)
	test.ApplyTheme(t, theme.LightTheme())
	retype(d.entries[fieldFleetEtcd], "http://etcd1:2379,http://etcd2:2379")
	retype(d.entries[fieldFleetDB], "postgres://warden@db")
	y := fyne.CurrentApp().Driver().AbsolutePositionForObject(d.entries[fieldFleetEtcd]).Y
	d.scroll.ScrollToOffset(fyne.NewPos(0, d.scroll.Offset.Y+y-300))
	test.AssertImageMatches(t, "settings_fleet.png", w.win.Canvas().Capture())
}
