package ui

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// Settings are the operator's preferences that the Settings dialog edits.
// The app keeps them in its store and applies them.
type Settings struct {
	// Policy is the engine's policy. The dialog edits the schedule, the
	// jitter, the conflict breaker and the zombie threshold, and keeps the
	// other fields as they were.
	Policy        core.Policy
	Notifications bool
	LogLevel      string // "debug", "info", "warn" or "error"
	Theme         string // "system", "light" or "dark"
	// The timeline's retention: events kept per account, and for how long.
	MaxEvents int
	MaxAge    time.Duration
	// DefaultProxy is the proxy of accounts without one of their own; ""
	// for none.
	DefaultProxy string
	// MetricsAddr is where Prometheus metrics and /healthz are served, ""
	// for off; MetricsAllowRemote lets other machines reach it.
	MetricsAddr        string
	MetricsAllowRemote bool
	// Fleet is the fleet this desktop joins the next time Warden starts.
	Fleet FleetSettings
	// API is whether and where the HTTP API is served (Settings › API).
	API APISettings
}

// APISettings say whether and how the HTTP API is served, as
// core.APIListen checks them: the address ("" for core.DefaultAPIAddr),
// whether other machines may reach it, and then over TLS (a certificate and
// key, PEM files) or, explicitly, plain HTTP (Insecure).
type APISettings struct {
	On              bool
	Addr            string
	AllowRemote     bool
	TLSCert, TLSKey string
	Insecure        bool
}

// FleetSettings name a fleet of Warden nodes; all empty for none.
type FleetSettings struct {
	Endpoints   string // etcd's, comma-separated
	DatabaseURL string // the fleet's PostgreSQL
	Node        string // "" for the host name
	LeaseTTL    time.Duration
}

// SettingsStore loads and saves the settings. Save applies them at once
// (the engine's policy, the log level, the theme, the retention) and saves
// nothing when it returns an error.
type SettingsStore interface {
	Load() (Settings, error)
	Save(Settings) error
}

// The choices of the log level and theme, as stored and as shown.
var (
	logLevelChoices = []choice{{"debug", "Debug"}, {"info", "Info"}, {"warn", "Warning"}, {"error", "Error"}}
	themeChoices    = []choice{{"system", "System"}, {"light", "Light"}, {"dark", "Dark"}}
)

type choice struct{ value, label string }

// labelOf returns the label of value, or that of fallback for a value
// that is not a choice.
func labelOf(choices []choice, value, fallback string) string {
	for _, c := range choices {
		if c.value == value {
			return c.label
		}
	}
	if value != fallback {
		return labelOf(choices, fallback, fallback)
	}
	return ""
}

func valueOf(choices []choice, label string) string {
	for _, c := range choices {
		if c.label == label {
			return c.value
		}
	}
	return ""
}

func labels(choices []choice) []string {
	var out []string
	for _, c := range choices {
		out = append(out, c.label)
	}
	return out
}

// Bounds of the settings, as the dialog takes them.
const (
	maxAttempts     = 1_000_000
	maxDelaySeconds = 24 * 60 * 60 // a day
	maxConflicts    = 100
	maxWindowMins   = 24 * 60
	maxTakeoverSecs = 60 * 60
	maxZombieSecs   = 60 * 60
	maxCheckMins    = 24 * 60
	maxEventsKept   = 10_000_000
	maxDaysKept     = 3650
)

// settingsForm is what the dialog's fields say, as typed.
type settingsForm struct {
	schedule      []scheduleText
	jitter        string // per cent
	conflicts     string
	window        string // minutes
	takeover      string // seconds
	takeoverOff   bool
	zombie        string // seconds
	selfCheck     string // minutes; 0 is off
	maxEvents     string
	maxDays       string
	notifications bool
	logLevel      string
	theme         string
	defaultProxy  string // shown with its password hidden
	metricsAddr   string
	metricsRemote bool
	fleetEtcd     string
	fleetDB       string // shown with its password hidden
	fleetNode     string
	fleetTTL      string // seconds; empty for the default
	apiOn         bool
	apiAddr       string
	apiRemote     bool
	apiCert       string
	apiKey        string
	apiInsecure   bool
}

type scheduleText struct{ upTo, delay string }

// Field names of the errors validateSettings returns; a schedule row's are
// rowField(i, fieldUpTo) and rowField(i, fieldDelay).
const (
	fieldSchedule  = "schedule"
	fieldUpTo      = "up to"
	fieldDelay     = "delay"
	fieldJitter    = "jitter"
	fieldConflicts = "conflicts"
	fieldWindow    = "window"
	fieldTakeover  = "takeover"
	fieldZombie    = "zombie"
	fieldSelfCheck = "self-check"
	fieldMaxEvents = "max events"
	fieldMaxDays   = "max days"
	fieldProxy     = "default proxy"
	fieldMetrics   = "metrics"
	fieldFleetEtcd = "fleet etcd"
	fieldFleetDB   = "fleet database"
	fieldFleetNode = "fleet node"
	fieldFleetTTL  = "fleet lease"
	fieldAPIAddr   = "api address"
	fieldAPICert   = "api certificate"
	fieldAPIKey    = "api key file"
	fieldAPITLS    = "api tls" // the certificate, key and insecure together
)

func rowField(i int, f string) string { return fmt.Sprintf("row %d %s", i, f) }

// formOf writes s as the dialog shows it.
func formOf(s Settings) settingsForm {
	p := s.Policy
	f := settingsForm{
		jitter:        formatNumber(p.Jitter * 100),
		conflicts:     strconv.Itoa(p.ConflictLimit),
		window:        formatNumber(p.ConflictWindow.Minutes()),
		takeover:      formatNumber(p.TakeoverDelay.Seconds()),
		takeoverOff:   p.TakeoverOff,
		zombie:        formatNumber(p.ZombieAfter.Seconds()),
		selfCheck:     formatNumber(p.SelfCheckEvery.Minutes()),
		maxEvents:     strconv.Itoa(s.MaxEvents),
		maxDays:       formatNumber(s.MaxAge.Hours() / 24),
		notifications: s.Notifications,
		logLevel:      s.LogLevel,
		theme:         s.Theme,
	}
	if s.DefaultProxy != "" {
		f.defaultProxy = core.RedactProxy(s.DefaultProxy)
	}
	f.metricsAddr, f.metricsRemote = s.MetricsAddr, s.MetricsAllowRemote
	f.fleetEtcd, f.fleetNode = s.Fleet.Endpoints, s.Fleet.Node
	if s.Fleet.DatabaseURL != "" {
		f.fleetDB = core.RedactURL(s.Fleet.DatabaseURL)
	}
	if s.Fleet.LeaseTTL != 0 {
		f.fleetTTL = formatNumber(s.Fleet.LeaseTTL.Seconds())
	}
	for _, b := range p.Schedule {
		f.schedule = append(f.schedule, scheduleText{strconv.Itoa(b.UpTo), formatNumber(b.Delay.Seconds())})
	}
	a := s.API
	f.apiOn, f.apiAddr, f.apiRemote, f.apiCert, f.apiKey, f.apiInsecure = a.On, a.Addr, a.AllowRemote, a.TLSCert, a.TLSKey, a.Insecure
	if f.apiAddr == "" {
		f.apiAddr = core.DefaultAPIAddr
	}
	return f
}

// formatNumber writes v with no more decimals than it needs (at most two).
func formatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// validateSettings reads the form into base (which supplies what the dialog
// does not edit) and checks every field on its own. It returns the settings
// and, for each field that is wrong, what is wrong with it; the settings
// are only good when there are no errors.
func validateSettings(base Settings, f settingsForm) (Settings, map[string]string) {
	errs := map[string]string{}
	s := base
	p := &s.Policy

	if len(f.schedule) == 0 {
		errs[fieldSchedule] = "Add at least one row."
	}
	p.Schedule = nil
	prevUpTo, prevDelay := 0, time.Duration(0)
	for i, row := range f.schedule {
		upTo, err := parseCount(row.upTo, 1, maxAttempts)
		if err == "" && prevUpTo > 0 && upTo <= prevUpTo {
			err = fmt.Sprintf("Must be more than the row above (%d): the rows go up.", prevUpTo)
		}
		if err != "" {
			errs[rowField(i, fieldUpTo)] = err
		}
		delay, derr := parseDuration(row.delay, time.Second, maxDelaySeconds)
		if derr == "" && delay < prevDelay {
			derr = fmt.Sprintf("Must not be shorter than the row above (%s s).", formatNumber(prevDelay.Seconds()))
		}
		if derr != "" {
			errs[rowField(i, fieldDelay)] = derr
		}
		if err == "" {
			prevUpTo = upTo
		}
		if derr == "" {
			prevDelay = delay
		}
		p.Schedule = append(p.Schedule, core.Backoff{UpTo: upTo, Delay: delay})
	}

	check := func(field, msg string) {
		if msg != "" {
			errs[field] = msg
		}
	}
	var msg string
	var jitter float64
	jitter, msg = parseNumber(f.jitter, 0, 100, true)
	check(fieldJitter, msg)
	p.Jitter = jitter / 100

	p.TakeoverOff = f.takeoverOff
	p.ConflictLimit, msg = parseCount(f.conflicts, 1, maxConflicts)
	check(fieldConflicts, msg)
	p.ConflictWindow, msg = parseDuration(f.window, time.Minute, maxWindowMins)
	check(fieldWindow, msg)
	p.TakeoverDelay, msg = parseDuration(f.takeover, time.Second, maxTakeoverSecs)
	check(fieldTakeover, msg)
	p.ZombieAfter, msg = parseDuration(f.zombie, time.Second, maxZombieSecs)
	check(fieldZombie, msg)
	var mins float64
	mins, msg = parseNumber(f.selfCheck, 0, maxCheckMins, true)
	if msg == "" && mins > 0 && mins < core.MinSelfCheckEvery.Minutes() {
		msg = fmt.Sprintf("Must be 0 (off) or at least %s minutes.", formatNumber(core.MinSelfCheckEvery.Minutes()))
	}
	check(fieldSelfCheck, msg)
	p.SelfCheckEvery = time.Duration(math.Round(mins * float64(time.Minute)))

	s.MaxEvents, msg = parseCount(f.maxEvents, 1, maxEventsKept)
	check(fieldMaxEvents, msg)
	var days int
	days, msg = parseCount(f.maxDays, 1, maxDaysKept)
	check(fieldMaxDays, msg)
	s.MaxAge = time.Duration(days) * 24 * time.Hour

	proxy, err := core.NormalizeProxy(keepPassword(f.defaultProxy, base.DefaultProxy))
	switch {
	case err != nil:
		errs[fieldProxy] = proxyProblem(err).Error()
	case proxy == core.ProxyDirect:
		errs[fieldProxy] = "Leave it empty for no default proxy."
	default:
		s.DefaultProxy = proxy
	}

	s.MetricsAddr, s.MetricsAllowRemote = strings.TrimSpace(f.metricsAddr), f.metricsRemote
	if s.MetricsAddr != "" {
		if _, err := core.CheckMetricsAddr(s.MetricsAddr, s.MetricsAllowRemote); err != nil {
			errs[fieldMetrics] = capitalize(strings.TrimPrefix(strings.TrimPrefix(err.Error(), core.ErrInvalidMetricsAddr.Error()+": "), core.ErrMetricsNotLoopback.Error()+": ")) + "."
		}
	}

	s.Fleet, msg = FleetSettings{}, ""
	etcd, db := strings.TrimSpace(f.fleetEtcd), strings.TrimSpace(f.fleetDB)
	if db != "" && db == core.RedactURL(base.Fleet.DatabaseURL) {
		db = base.Fleet.DatabaseURL // left as shown: keep the saved password
	}
	fleetErr := func(field string, err error) {
		errs[field] = capitalize(strings.TrimPrefix(err.Error(), core.ErrInvalidFleet.Error()+": ")) + "."
	}
	if etcd != "" || db != "" || strings.TrimSpace(f.fleetNode) != "" || strings.TrimSpace(f.fleetTTL) != "" {
		s.Fleet = FleetSettings{Endpoints: etcd, DatabaseURL: db, Node: strings.TrimSpace(f.fleetNode)}
		if eps, err := core.ParseEtcdEndpoints(etcd); err != nil {
			fleetErr(fieldFleetEtcd, err)
		} else {
			s.Fleet.Endpoints = strings.Join(eps, ",")
		}
		if db == "" {
			errs[fieldFleetDB] = "A fleet needs its database too."
		} else if err := core.CheckDatabaseURL(db); err != nil {
			fleetErr(fieldFleetDB, err)
		}
		if s.Fleet.Node != "" {
			if err := core.CheckNodeName(s.Fleet.Node); err != nil {
				fleetErr(fieldFleetNode, err)
			}
		}
		if t := strings.TrimSpace(f.fleetTTL); t != "" {
			var secs int
			secs, msg = parseCount(t, int(core.MinLeaseTTL.Seconds()), int(core.MaxLeaseTTL.Seconds()))
			check(fieldFleetTTL, msg)
			s.Fleet.LeaseTTL = time.Duration(secs) * time.Second
		}
	}

	apiAddr := strings.TrimSpace(f.apiAddr)
	if apiAddr == core.DefaultAPIAddr {
		apiAddr = "" // the default, as the store keeps it
	}
	s.API = APISettings{
		On: f.apiOn, Addr: apiAddr, AllowRemote: f.apiRemote,
		TLSCert: strings.TrimSpace(f.apiCert), TLSKey: strings.TrimSpace(f.apiKey), Insecure: f.apiInsecure,
	}
	if s.API.On { // turned off, what was typed is kept unchecked
		a := s.API
		if _, err := (core.APIListen{Addr: a.Addr, AllowRemote: a.AllowRemote, TLSCert: a.TLSCert, TLSKey: a.TLSKey, Insecure: a.Insecure}).Check(); err != nil {
			msg := err.Error()
			field := fieldAPIAddr
			for _, sentinel := range []error{core.ErrInvalidAPIAddr, core.ErrAPINotLoopback, core.ErrAPITransport} {
				msg = strings.TrimPrefix(msg, sentinel.Error()+": ")
			}
			if errors.Is(err, core.ErrAPITransport) {
				field = fieldAPITLS
			}
			errs[field] = capitalize(msg) + "."
		}
	}

	s.Notifications = f.notifications
	s.LogLevel = f.logLevel
	if !slices.ContainsFunc(logLevelChoices, func(c choice) bool { return c.value == s.LogLevel }) {
		s.LogLevel = "info"
	}
	s.Theme = f.theme
	if !slices.ContainsFunc(themeChoices, func(c choice) bool { return c.value == s.Theme }) {
		s.Theme = "system"
	}
	return s, errs
}

// parseNumber reads a number between lo and hi; zero is allowed only when
// zeroOK. It returns what is wrong in the operator's words, or "".
func parseNumber(text string, lo, hi float64, zeroOK bool) (float64, string) {
	t := strings.TrimSpace(text)
	if t == "" {
		return 0, "Enter a number."
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Sprintf("“%s” is not a number.", t)
	}
	switch {
	case v < 0:
		return 0, "Must not be negative."
	case v == 0 && !zeroOK:
		return 0, "Must be more than 0."
	case v < lo:
		return 0, fmt.Sprintf("Must be at least %s.", formatNumber(lo))
	case v > hi:
		return 0, fmt.Sprintf("Must be at most %s.", formatNumber(hi))
	}
	return v, ""
}

// parseCount reads a whole number between lo and hi.
func parseCount(text string, lo, hi int) (int, string) {
	v, msg := parseNumber(text, float64(lo), float64(hi), lo <= 0)
	if msg != "" {
		return 0, msg
	}
	if v != math.Trunc(v) {
		return 0, "Must be a whole number."
	}
	return int(v), ""
}

// parseDuration reads a positive number of units, at most hi of them.
func parseDuration(text string, unit time.Duration, hi float64) (time.Duration, string) {
	v, msg := parseNumber(text, 0, hi, false)
	if msg != "" {
		return 0, msg
	}
	d := time.Duration(math.Round(v * float64(unit)))
	if d <= 0 {
		return 0, "Must be more than 0."
	}
	return d, ""
}

// settingsDialog is the Settings dialog: the fields, an error under each
// field that is wrong, and Save, which is refused while any is.
type settingsDialog struct {
	store  SettingsStore
	loaded Settings
	onSave func(Settings) // after a successful save

	rows      []*scheduleRowView
	rowsBox   *fyne.Container
	schedErr  *widget.Label
	addRow    *widget.Button
	entries   map[string]*widget.Entry
	errLabels map[string]*widget.Label
	off       *widget.Check
	// metricsRemote allows a metrics address other machines can reach.
	metricsRemote *widget.Check
	notify        *widget.Check
	logLevel      *widget.Select
	theme         *widget.RadioGroup
	saveErr       *widget.Label
	save          *widget.Button
	scroll        *container.Scroll
	dlg           *dialog.CustomDialog

	// The API tab: the server's fields (saved with the rest), where it is
	// served now, and the keys and webhooks (changed at once; apisettings.go).
	apiOn, apiRemote, apiInsecure *widget.Check
	apiState                      *widget.Label
	apiScroll                     *container.Scroll
	panel                         *apiPanel
	tabs                          *container.AppTabs
	general, apiTab               *container.TabItem
	ticks                         int               // seconds the dialog was open (tick)
	overlay                       fyne.CanvasObject // the dialog among the window's overlays

	errs map[string]string // the current errors, by field
}

type scheduleRowView struct {
	upTo, delay *widget.Entry
	remove      *widget.Button
	err         *widget.Label
	content     *fyne.Container
}

// showSettings loads the settings and opens the Settings dialog; it
// returns the dialog, or nil when there is none.
func (w *Window) showSettings() *settingsDialog {
	st := w.opts.Settings
	if st == nil {
		return nil
	}
	if w.settings != nil {
		return w.settings // open already (Ctrl+, again)
	}
	s, err := st.Load()
	if err != nil {
		dialog.ShowError(fmt.Errorf("the settings could not be read: %w", err), w.win)
		return nil
	}
	d := newSettingsDialog(st, s, func(saved Settings) { w.SetNotifications(saved.Notifications) })
	d.panel = w.newAPIPanel()
	if w.opts.API != nil {
		d.showAPIState(w.opts.API.State())
	}
	d.dlg = dialog.NewCustomWithoutButtons("Settings", d.content(), w.win)
	d.panel.relayout = func() {
		if d.apiScroll != nil {
			d.apiScroll.Refresh()
		}
	}
	cancel := &widget.Button{Text: "Cancel", Icon: theme.CancelIcon(), OnTapped: d.dlg.Hide}
	d.dlg.SetButtons([]fyne.CanvasObject{cancel, d.save})
	win := w.win.Canvas().Size()
	d.dlg.Resize(fyne.NewSize(min(680, max(win.Width-20, 400)), min(760, max(win.Height-40, 420))))
	d.dlg.SetOnClosed(func() {
		if w.settings == d {
			w.settings = nil
		}
	})
	w.settings = d
	d.dlg.Show()
	d.overlay = w.win.Canvas().Overlays().Top()
	d.panel.reload()
	return d
}

func newSettingsDialog(st SettingsStore, s Settings, onSave func(Settings)) *settingsDialog {
	d := &settingsDialog{store: st, loaded: s, onSave: onSave, entries: map[string]*widget.Entry{}, errLabels: map[string]*widget.Label{}}
	f := formOf(s)
	d.rowsBox = container.NewVBox()
	for _, r := range f.schedule {
		d.appendRow(r)
	}
	d.schedErr = errorLabel()
	d.addRow = &widget.Button{Text: "Add row", Icon: theme.ContentAddIcon(), Importance: widget.LowImportance, OnTapped: func() {
		next := scheduleText{}
		if n := len(d.rows); n > 0 {
			last := d.rows[n-1]
			if v, err := strconv.Atoi(strings.TrimSpace(last.upTo.Text)); err == nil {
				next.upTo = strconv.Itoa(v + 1)
			}
			next.delay = last.delay.Text
		}
		d.appendRow(next)
		d.validate()
		if d.scroll != nil {
			d.scroll.Refresh()
		}
	}}
	for key, text := range map[string]string{
		fieldJitter: f.jitter, fieldConflicts: f.conflicts, fieldWindow: f.window, fieldTakeover: f.takeover,
		fieldZombie: f.zombie, fieldSelfCheck: f.selfCheck, fieldMaxEvents: f.maxEvents, fieldMaxDays: f.maxDays,
		fieldProxy: f.defaultProxy, fieldMetrics: f.metricsAddr,
		fieldFleetEtcd: f.fleetEtcd, fieldFleetDB: f.fleetDB, fieldFleetNode: f.fleetNode, fieldFleetTTL: f.fleetTTL,
		fieldAPIAddr: f.apiAddr, fieldAPICert: f.apiCert, fieldAPIKey: f.apiKey,
	} {
		d.entries[key] = d.newEntry(text)
		d.errLabels[key] = errorLabel()
	}
	d.errLabels[fieldAPITLS] = errorLabel()
	for _, key := range []string{fieldAPIAddr, fieldAPITLS} {
		d.errLabels[key].Wrapping = fyne.TextWrapWord // the API's errors are long
	}
	d.apiRemote = widget.NewCheck("Let other machines reach it", func(bool) { d.validate() })
	d.apiRemote.Checked = f.apiRemote
	d.apiInsecure = widget.NewCheck("Plain HTTP to other machines (insecure)", func(bool) { d.validate() })
	d.apiInsecure.Checked = f.apiInsecure
	d.apiOn = widget.NewCheck("Serve the HTTP API", func(on bool) {
		d.setAPIOn(on)
		d.validate()
	})
	d.apiOn.Checked = f.apiOn
	d.setAPIOn(f.apiOn)
	d.metricsRemote = widget.NewCheck("Let other machines reach it", func(bool) { d.validate() })
	d.metricsRemote.Checked = f.metricsRemote
	d.off = widget.NewCheck("Off: never take over by itself; every conflict waits for you", func(on bool) {
		d.setBreakerOff(on)
		d.validate()
	})
	d.off.SetChecked(f.takeoverOff)
	d.setBreakerOff(f.takeoverOff)
	d.notify = widget.NewCheck("Desktop notifications when a connection needs you or many drop at once", nil)
	d.notify.SetChecked(f.notifications)
	d.logLevel = widget.NewSelect(labels(logLevelChoices), nil)
	d.logLevel.SetSelected(labelOf(logLevelChoices, f.logLevel, "info"))
	d.theme = widget.NewRadioGroup(labels(themeChoices), nil)
	d.theme.Horizontal = true
	d.theme.Required = true
	d.theme.SetSelected(labelOf(themeChoices, f.theme, "system"))
	d.saveErr = errorLabel()
	d.saveErr.Wrapping = fyne.TextWrapWord // a refusal can be long
	d.apiState = &widget.Label{Wrapping: fyne.TextWrapWord}
	d.apiState.Hide()
	d.save = &widget.Button{Text: "Save", Icon: theme.DocumentSaveIcon(), Importance: widget.HighImportance, OnTapped: d.trySave}
	d.validate()
	return d
}

func errorLabel() *widget.Label {
	l := &widget.Label{Importance: widget.DangerImportance, SizeName: theme.SizeNameCaptionText}
	l.Hide()
	return l
}

func (d *settingsDialog) newEntry(text string) *widget.Entry {
	e := &widget.Entry{Text: text}
	e.ExtendBaseWidget(e)
	e.OnChanged = func(string) { d.validate() }
	return e
}

func (d *settingsDialog) appendRow(r scheduleText) {
	v := &scheduleRowView{upTo: d.newEntry(r.upTo), delay: d.newEntry(r.delay), err: errorLabel()}
	v.remove = &widget.Button{Icon: theme.ContentRemoveIcon(), Importance: widget.LowImportance, OnTapped: func() {
		i := slices.Index(d.rows, v)
		if i < 0 || len(d.rows) == 1 {
			return
		}
		d.rows = slices.Delete(d.rows, i, i+1)
		d.rowsBox.Remove(v.content)
		d.validate()
		if d.scroll != nil {
			d.scroll.Refresh()
		}
	}}
	v.content = container.NewVBox(
		container.NewHBox(sized(v.upTo, 110), sized(v.delay, 110), widget.NewLabel("s"), v.remove),
		v.err,
	)
	d.rows = append(d.rows, v)
	d.rowsBox.Add(v.content)
}

// sized gives o a fixed width.
func sized(o fyne.CanvasObject, width float32) fyne.CanvasObject {
	return container.New(fixedWidth(width), o)
}

// setBreakerOff enables or disables the breaker's fields. Turned off, a
// field that is wrong gets its saved value back: it cannot be fixed while
// disabled, and it does nothing then.
func (d *settingsDialog) setBreakerOff(off bool) {
	f := formOf(d.loaded)
	for key, text := range map[string]string{fieldConflicts: f.conflicts, fieldWindow: f.window, fieldTakeover: f.takeover} {
		e := d.entries[key]
		if off {
			if _, bad := d.errs[key]; bad {
				e.SetText(text)
			}
			e.Disable()
		} else {
			e.Enable()
		}
	}
}

// form reads what the fields say.
func (d *settingsDialog) form() settingsForm {
	f := settingsForm{
		jitter:        d.entries[fieldJitter].Text,
		conflicts:     d.entries[fieldConflicts].Text,
		window:        d.entries[fieldWindow].Text,
		takeover:      d.entries[fieldTakeover].Text,
		takeoverOff:   d.off.Checked,
		zombie:        d.entries[fieldZombie].Text,
		selfCheck:     d.entries[fieldSelfCheck].Text,
		maxEvents:     d.entries[fieldMaxEvents].Text,
		maxDays:       d.entries[fieldMaxDays].Text,
		notifications: d.notify.Checked,
		logLevel:      valueOf(logLevelChoices, d.logLevel.Selected),
		theme:         valueOf(themeChoices, d.theme.Selected),
		defaultProxy:  d.entries[fieldProxy].Text,
		metricsAddr:   d.entries[fieldMetrics].Text,
		metricsRemote: d.metricsRemote.Checked,
		fleetEtcd:     d.entries[fieldFleetEtcd].Text,
		fleetDB:       d.entries[fieldFleetDB].Text,
		fleetNode:     d.entries[fieldFleetNode].Text,
		fleetTTL:      d.entries[fieldFleetTTL].Text,
		apiOn:         d.apiOn.Checked,
		apiAddr:       d.entries[fieldAPIAddr].Text,
		apiRemote:     d.apiRemote.Checked,
		apiCert:       d.entries[fieldAPICert].Text,
		apiKey:        d.entries[fieldAPIKey].Text,
		apiInsecure:   d.apiInsecure.Checked,
	}
	for _, r := range d.rows {
		f.schedule = append(f.schedule, scheduleText{r.upTo.Text, r.delay.Text})
	}
	return f
}

// validate checks every field, shows each one's error under it and allows
// Save only when there is none.
func (d *settingsDialog) validate() (Settings, bool) {
	if d.off == nil || d.save == nil || d.apiOn == nil { // still being built
		return Settings{}, false
	}
	s, errs := validateSettings(d.loaded, d.form())
	d.errs = errs
	relayout := false
	show := func(l *widget.Label, msg string) {
		setText(l, msg)
		if (msg != "") != l.Visible() {
			relayout = true
		}
		if msg == "" {
			l.Hide()
		} else {
			l.Show()
		}
	}
	defer func() {
		if relayout && d.scroll != nil {
			d.scroll.Refresh() // an error came or went: the fields move
		}
		if relayout && d.apiScroll != nil {
			d.apiScroll.Refresh()
		}
	}()
	d.markTabs(errs)
	for i, r := range d.rows {
		var msgs []string
		for _, f := range []string{fieldUpTo, fieldDelay} {
			if m := errs[rowField(i, f)]; m != "" {
				msgs = append(msgs, map[string]string{fieldUpTo: "Attempts: ", fieldDelay: "Wait: "}[f]+m)
			}
		}
		show(r.err, strings.Join(msgs, " "))
		if len(d.rows) == 1 {
			r.remove.Disable()
		} else {
			r.remove.Enable()
		}
	}
	show(d.schedErr, errs[fieldSchedule])
	for key, l := range d.errLabels {
		show(l, errs[key])
	}
	if len(errs) > 0 {
		d.save.Disable()
		show(d.saveErr, "")
		return s, false
	}
	d.save.Enable()
	return s, true
}

// trySave saves the settings when every field is right, and closes the
// dialog; otherwise, or when saving fails, it stays open and saves nothing.
func (d *settingsDialog) trySave() {
	s, ok := d.validate()
	if !ok {
		return
	}
	if err := d.store.Save(s); err != nil {
		setText(d.saveErr, "Not saved: "+err.Error())
		d.saveErr.Show()
		if d.dlg != nil {
			d.dlg.Refresh() // the wrapped refusal takes its lines
		}
		return
	}
	if d.onSave != nil {
		d.onSave(s)
	}
	if d.dlg != nil {
		d.dlg.Hide()
	}
}

// labelWidth is the width of the labels before the dialog's fields.
const labelWidth = 250

// content lays the dialog's fields out in sections.
func (d *settingsDialog) content() fyne.CanvasObject {
	heading := func(text string) fyne.CanvasObject {
		return &widget.Label{Text: text, TextStyle: fyne.TextStyle{Bold: true}}
	}
	note := func(text string) fyne.CanvasObject {
		// Broken into lines by hand, not wrapped: a wrapped text knows its
		// height only after its first layout, too late for the scroll.
		l := newMuted(theme.SizeNameCaptionText)
		setMuted(l, text)
		return l
	}
	field := func(label, key, unit string) fyne.CanvasObject {
		return container.NewVBox(
			container.NewHBox(sized(widget.NewLabel(label), labelWidth), sized(d.entries[key], 110), widget.NewLabel(unit)),
			container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), d.errLabels[key]), // under the entry
		)
	}
	wide := func(label, key, placeholder string) fyne.CanvasObject {
		d.entries[key].PlaceHolder = placeholder
		return container.NewVBox(
			container.NewHBox(sized(widget.NewLabel(label), labelWidth), sized(d.entries[key], 320)),
			container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), d.errLabels[key]),
		)
	}
	header := container.NewHBox(
		sized(&widget.Label{Text: "Attempts up to", SizeName: theme.SizeNameCaptionText}, 110),
		sized(&widget.Label{Text: "Wait", SizeName: theme.SizeNameCaptionText}, 110),
	)
	body := container.NewVBox(
		heading("Reconnect schedule"),
		note("The wait before each reconnection attempt.\nThe last row applies to every later attempt too."),
		header, d.rowsBox, d.schedErr, container.NewHBox(d.addRow),
		field("Jitter", fieldJitter, "% on top"),
		widget.NewSeparator(),
		heading("Conflict breaker"),
		note("When another client takes an account, Warden takes it back once after the delay,\nunless there were this many conflicts within the window: then it waits for you."),
		d.off,
		field("Conflicts", fieldConflicts, ""),
		field("Within", fieldWindow, "minutes"),
		field("Take over after", fieldTakeover, "s"),
		widget.NewSeparator(),
		heading("Zombie connections"),
		field("Reconnect when keepalives fail for", fieldZombie, "s"),
		widget.NewSeparator(),
		heading("Self-check"),
		note("Each connected account sends a test message to its own number, to prove it can deliver.\nA failure is a timeline event and a notification; it never reconnects by itself."),
		field("Check every", fieldSelfCheck, "minutes (0 = off)"),
		widget.NewSeparator(),
		heading("Network"),
		note("Accounts without a proxy of their own go out through this one (empty: none).\nsocks5://, socks5h://, http:// or https://, with user:password@ if it needs one."),
		container.NewVBox(
			container.NewHBox(sized(widget.NewLabel("Default proxy"), labelWidth), sized(d.entries[fieldProxy], 360)),
			container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), d.errLabels[fieldProxy]),
		),
		note("Prometheus metrics at /metrics and a health check at /healthz for monitoring tools (empty: off),\nfor example 127.0.0.1:9464. Whoever can reach it sees every account's name and state."),
		container.NewVBox(
			container.NewHBox(sized(widget.NewLabel("Metrics address"), labelWidth), sized(d.entries[fieldMetrics], 200)),
			container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), d.errLabels[fieldMetrics]),
			container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), d.metricsRemote),
		),
		widget.NewSeparator(),
		heading("Fleet"),
		note("Run this desktop as a node of a fleet of Warden nodes, which share the accounts (see the README).\nApplies the next time Warden starts; leave etcd empty to run alone. The fleet's database holds\nits accounts: export this desktop's accounts first, then import them once it runs in the fleet."),
		wide("etcd endpoints", fieldFleetEtcd, "http://etcd1:2379,http://etcd2:2379"),
		wide("Database", fieldFleetDB, "postgres://warden:password@db:5432/warden"),
		wide("Node name", fieldFleetNode, "empty: this machine's host name"),
		field("Lease time", fieldFleetTTL, "s (empty: 5)"),
		widget.NewSeparator(),
		heading("Timeline"),
		field("Keep at most", fieldMaxEvents, "events per account"),
		field("For at most", fieldMaxDays, "days"),
		widget.NewSeparator(),
		heading("Notifications"),
		d.notify,
		widget.NewSeparator(),
		container.NewHBox(sized(widget.NewLabel("Log level"), labelWidth), sized(d.logLevel, 160)),
		container.NewHBox(sized(widget.NewLabel("Theme"), labelWidth), d.theme),
	)
	d.scroll = container.NewVScroll(container.NewPadded(body))
	d.general = container.NewTabItem("General", d.scroll)
	d.apiScroll = container.NewVScroll(container.NewPadded(d.apiContent()))
	d.apiTab = container.NewTabItem("API", d.apiScroll)
	d.tabs = container.NewAppTabs(d.general, d.apiTab)
	d.markTabs(d.errs)
	// Under the tabs, so that a refusal shows whichever tab is open.
	return container.NewBorder(nil, d.saveErr, nil, nil, d.tabs)
}
