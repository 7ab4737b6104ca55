package ui

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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

// Settings › API: whether and where the HTTP API is served (saved with the
// other settings, applied by the app), its keys, and the webhooks. Keys and
// webhooks change at once, without Save: a token or secret is shown once,
// when it is made, so there is nothing to undo.

// API is the HTTP API's side of Settings › API. The app implements it with
// core/api and the store of the keys; the window never sees either. State
// runs on Fyne's thread and must be quick; the others run off it.
type API interface {
	// State says where the API is served now, or why not.
	State() APIState
	// Keys returns every key, revoked ones included, oldest first.
	Keys(ctx context.Context) ([]core.APIKey, error)
	// CreateKey makes and stores a key for the accounts (nil: every
	// account) and returns it with its token, which exists only here.
	CreateKey(ctx context.Context, name string, readOnly bool, accounts []core.AccountID) (core.APIKey, string, error)
	// RevokeKey revokes a key: its requests are refused from then on.
	RevokeKey(ctx context.Context, id string) error
}

// APIState is where the HTTP API is served now.
type APIState struct {
	Addr string // host:port it listens on; "" when off
	TLS  bool   // served over HTTPS
	// FromFlag is set when --api chose the address for this run: the saved
	// settings then wait for a run without it.
	FromFlag bool
	// Problem says why the saved settings are not served; "" when they are.
	Problem string
}

// Webhooks are the webhooks of Settings › API. The app implements them with
// core/outbox. Their methods run off Fyne's thread, but Types.
type Webhooks interface {
	// List returns the webhooks, oldest first, with how their deliveries go.
	List(ctx context.Context) ([]Webhook, error)
	// Create registers a webhook for the accounts and event types (nil:
	// all) and returns it with its signing secret, shown this once.
	Create(ctx context.Context, url string, accounts []core.AccountID, types []string) (Webhook, string, error)
	Delete(ctx context.Context, id string) error
	// Test posts a test event to the webhook now, once.
	Test(ctx context.Context, id string) (Delivery, error)
	// Failures returns the events the webhook failed for good, oldest first.
	Failures(ctx context.Context, id string) ([]FailedDelivery, error)
	// Retry posts one failed event again, now; RetryAll every one of them,
	// and says how many were delivered (the error is the first refusal).
	Retry(ctx context.Context, webhookID, eventID string) (Delivery, error)
	RetryAll(ctx context.Context, webhookID string) (int, error)
	// Types lists the event types a webhook may choose.
	Types() []string
}

// Webhook is a webhook as Settings › API shows it.
type Webhook struct {
	ID       string
	URL      string
	Accounts []core.AccountID // empty: every account
	Types    []string         // empty: every event type
	Created  time.Time
	Last     Delivery // its newest delivery attempt; zero: none yet
	Retrying int      // accounts whose next event waits for another attempt
	Failed   int      // events it failed for good, to retry
}

// Delivery is the outcome of one delivery attempt.
type Delivery struct {
	At      time.Time
	EventID string
	Status  int    // the receiver's HTTP status; 0 when there was no answer
	Error   string // why it failed; "" when it was delivered
}

// OK reports whether the attempt delivered the event.
func (d Delivery) OK() bool { return d.Error == "" && !d.At.IsZero() }

// FailedDelivery is an event a webhook could not take within its retry
// window, kept to be retried.
type FailedDelivery struct {
	EventID  string
	Type     string
	Account  core.AccountID
	Time     time.Time // when the event happened
	Attempts int
	FailedAt time.Time
	Last     Delivery
}

// eventTypeWords says what each event type is, for the webhook's choice.
var eventTypeWords = map[string]string{
	"message.received":     "a message came in",
	"message.sent":         "WhatsApp took a message an account sent",
	"message.delivered":    "a sent message reached the recipient's phone",
	"message.read":         "the recipient read a sent message",
	"account.state":        "every change of an account's state",
	"account.paired":       "an account was paired with a phone",
	"account.logged_out":   "an account's device was unlinked",
	"account.needs_action": "an account needs you",
}

// The API tab's server fields (saved with Save).

// apiContent lays out the API tab: the server's fields, then the keys and
// webhooks.
func (d *settingsDialog) apiContent() fyne.CanvasObject {
	indent := func(o fyne.CanvasObject) fyne.CanvasObject {
		return container.New(layout.NewCustomPaddedLayout(0, 0, labelWidth+theme.Padding(), 0), o)
	}
	row := func(label, key string, width float32, placeholder string) fyne.CanvasObject {
		d.entries[key].PlaceHolder = placeholder
		return container.NewHBox(sized(widget.NewLabel(label), labelWidth), sized(d.entries[key], width))
	}
	body := container.NewVBox(
		settingsHeading("HTTP API"),
		settingsNote("The business's software (a helpdesk, a CRM, a shop) uses the accounts through it:\n"+
			"it sends messages, reads what came in and follows events. Each program needs a key (below)."),
		d.apiState,
		d.apiOn,
		row("Address", fieldAPIAddr, 200, core.DefaultAPIAddr),
		indent(d.errLabels[fieldAPIAddr]),
		indent(d.apiRemote),
		indent(settingsNote("Anyone on the network who holds a key can then read\n"+
			"and send messages. Other machines need TLS:\na certificate and its key (PEM files).")),
		row("TLS certificate", fieldAPICert, 320, "empty: plain HTTP"),
		row("TLS key", fieldAPIKey, 320, "the certificate's private key"),
		indent(d.apiInsecure),
		indent(d.errLabels[fieldAPITLS]),
		settingsNote("Saved and applied when you Save; the keys and webhooks below change at once."),
	)
	if d.panel != nil {
		body.Add(widget.NewSeparator())
		body.Add(d.panel.keysSection())
		body.Add(widget.NewSeparator())
		body.Add(d.panel.hooksSection())
	}
	// Room on the right for the scroll bar, which grows over the buttons
	// under the pointer.
	return container.New(layout.NewCustomPaddedLayout(0, 0, 0, theme.ScrollBarSize()), body)
}

// settingsHeading is a section's title in the Settings dialog.
func settingsHeading(text string) fyne.CanvasObject {
	return &widget.Label{Text: text, TextStyle: fyne.TextStyle{Bold: true}}
}

// settingsNote is a section's explanation, broken into lines by hand: a
// wrapped text knows its height only after its first layout, too late for
// the scroll.
func settingsNote(text string) *widget.RichText {
	l := newMuted(theme.SizeNameCaptionText)
	setMuted(l, text)
	return l
}

// setAPIOn enables the server's fields while the API is on.
func (d *settingsDialog) setAPIOn(on bool) {
	for _, key := range []string{fieldAPIAddr, fieldAPICert, fieldAPIKey} {
		if on {
			d.entries[key].Enable()
		} else {
			d.entries[key].Disable()
		}
	}
	for _, c := range []*widget.Check{d.apiRemote, d.apiInsecure} {
		if on {
			c.Enable()
		} else {
			c.Disable()
		}
	}
}

// showAPIState says where the API is served now.
func (d *settingsDialog) showAPIState(st APIState) {
	scheme := "http"
	if st.TLS {
		scheme = "https"
	}
	d.apiState.Importance = widget.MediumImportance
	var text string
	switch {
	case st.Problem != "":
		d.apiState.Importance = widget.DangerImportance
		text = "The API is not served: " + strings.TrimSuffix(st.Problem, ".") + "."
	case st.FromFlag:
		text = fmt.Sprintf("The API is served at %s://%s for this run, as --api asked: what you save here applies when Warden starts without --api.", scheme, st.Addr)
	case st.Addr != "":
		text = fmt.Sprintf("The API is served at %s://%s.", scheme, st.Addr)
	default:
		text = "The API is off."
	}
	d.apiState.SetText(text)
	d.apiState.Show()
}

// hooksEvery is how often the open API tab reads the keys and webhooks
// again, in ticks: a key's last use, a webhook's last delivery and its
// failures change by themselves.
const hooksEvery = 5

// tick reads the lists again every hooksEvery ticks while the API tab
// shows and no other dialog is over it (a list rebuilt under the operator's
// pointer would move what they are about to click).
func (d *settingsDialog) tick() {
	if d.panel == nil || d.tabs == nil || d.tabs.Selected() != d.apiTab {
		return
	}
	d.ticks++
	if d.ticks%hooksEvery != 0 || d.panel.w.win.Canvas().Overlays().Top() != d.overlay {
		return
	}
	d.panel.reload()
}

// markTabs names, on each tab, how many of its fields are wrong: Save is
// refused for a field the open tab may not show.
func (d *settingsDialog) markTabs(errs map[string]string) {
	if d.tabs == nil {
		return
	}
	api := 0
	for k := range errs {
		if k == fieldAPIAddr || k == fieldAPITLS {
			api++
		}
	}
	title := func(name string, n int) string {
		switch n {
		case 0:
			return name
		case 1:
			return name + " (1 to fix)"
		}
		return fmt.Sprintf("%s (%d to fix)", name, n)
	}
	g, a := title("General", len(errs)-api), title("API", api)
	if d.general.Text != g || d.apiTab.Text != a {
		d.general.Text, d.apiTab.Text = g, a
		d.tabs.Refresh()
	}
}

// The keys and the webhooks (changed at once).

// apiPanel lists the API's keys and the webhooks, and changes them.
type apiPanel struct {
	w     *Window
	api   API      // nil: no keys to show
	hooks Webhooks // nil: no webhooks section

	keysBox, hooksBox *fyne.Container
	keysMsg, hooksMsg *widget.Label // "none yet", or why they could not be read
	// relayout refreshes the scroll the lists sit in once they changed.
	relayout func()
	// failures is the open list of a webhook's failed deliveries, if any.
	failures *failuresDialog
}

func (w *Window) newAPIPanel() *apiPanel {
	p := &apiPanel{w: w, api: w.opts.API, hooks: w.opts.Webhooks,
		keysBox: container.NewVBox(), hooksBox: container.NewVBox(),
		keysMsg: &widget.Label{Wrapping: fyne.TextWrapWord}, hooksMsg: &widget.Label{Wrapping: fyne.TextWrapWord}}
	return p
}

// reload reads the keys and webhooks again.
func (p *apiPanel) reload() {
	p.reloadKeys()
	p.reloadHooks()
}

func (p *apiPanel) changed() {
	if p.relayout != nil {
		p.relayout()
	}
}

// sectionHeader is a section's title with its buttons on the right.
func sectionHeader(title string, buttons ...fyne.CanvasObject) fyne.CanvasObject {
	return container.NewBorder(nil, nil, settingsHeading(title), container.NewHBox(buttons...))
}

func (p *apiPanel) keysSection() fyne.CanvasObject {
	if p.api == nil {
		return container.NewVBox(settingsHeading("API keys"), settingsNote("Keys are not available here."))
	}
	create := &widget.Button{Text: "Create key…", Icon: theme.ContentAddIcon(), OnTapped: func() { p.showCreateKey() }}
	return container.NewVBox(
		sectionHeader("API keys", create),
		settingsNote("A key is read-only or may operate, for every account or some. Warden keeps only its hash:\n"+
			"the key itself is shown once, when it is created."),
		p.keysBox, p.keysMsg,
	)
}

func (p *apiPanel) hooksSection() fyne.CanvasObject {
	if p.hooks == nil {
		return container.NewVBox()
	}
	add := &widget.Button{Text: "Add webhook…", Icon: theme.ContentAddIcon(), OnTapped: func() { p.showAddWebhook() }}
	refresh := &widget.Button{Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance, OnTapped: p.reloadHooks}
	return container.NewVBox(
		sectionHeader("Webhooks", refresh, add),
		settingsNote("Warden POSTs each event, signed, to these addresses, in order per account. It retries\n"+
			"for a day; then it keeps the event as failed, to retry from here."),
		p.hooksBox, p.hooksMsg,
	)
}

// call runs work in the background with a deadline, then then on Fyne's
// thread.
func (p *apiPanel) call(work func(ctx context.Context) func()) {
	p.w.async(func() func() {
		ctx, cancel := context.WithTimeout(p.w.ctx, actionTimeout)
		defer cancel()
		return work(ctx)
	})
}

func (p *apiPanel) reloadKeys() {
	if p.api == nil {
		return
	}
	p.call(func(ctx context.Context) func() {
		keys, err := p.api.Keys(ctx)
		return func() { p.showKeys(keys, err) }
	})
}

// showKeys lists the keys: the valid ones first, then the revoked ones.
func (p *apiPanel) showKeys(keys []core.APIKey, err error) {
	p.keysBox.RemoveAll()
	switch {
	case err != nil:
		p.keysMsg.Importance = widget.DangerImportance
		p.keysMsg.SetText("The keys could not be read: " + err.Error())
	case len(keys) == 0:
		p.keysMsg.Importance = widget.MediumImportance
		p.keysMsg.SetText("No keys yet: create one for each program that uses the API.")
	default:
		p.keysMsg.SetText("")
	}
	p.keysMsg.Refresh()
	p.keysMsg.Hidden = p.keysMsg.Text == ""
	slices.SortStableFunc(keys, func(a, b core.APIKey) int {
		return cmp.Compare(boolInt(!a.Revoked.IsZero()), boolInt(!b.Revoked.IsZero()))
	})
	for _, k := range keys {
		p.keysBox.Add(p.keyRow(k))
	}
	p.changed()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// keyRow is one key: its name, what it may do, and Revoke.
func (p *apiPanel) keyRow(k core.APIKey) fyne.CanvasObject {
	now := p.w.now()
	access := "May operate"
	if k.ReadOnly {
		access = "Read-only"
	}
	used := "never used"
	if !k.LastUsed.IsZero() {
		used = "last used " + clockTime(k.LastUsed, now)
	}
	caption := fmt.Sprintf("%s · %s · created %s · %s", access, p.accountsText(k.Accounts), clockTime(k.Created, now), used)
	name := &widget.Label{Text: k.Name, TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
	var right fyne.CanvasObject
	if k.Revoked.IsZero() {
		right = &widget.Button{Text: "Revoke", Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: func() { p.confirmRevoke(k) }}
	} else {
		name.Importance = widget.LowImportance
		right = &widget.Label{Text: "Revoked " + clockTime(k.Revoked, now), Importance: widget.LowImportance}
	}
	return container.NewBorder(nil, nil, nil, right, container.NewVBox(name, wrappedNote(caption)))
}

// wrappedNote is secondary text that wraps (in a list row, whose height
// the scroll learns once the row is laid out).
func wrappedNote(text string) *widget.RichText {
	l := settingsNote(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// accountsText names the accounts of a key or webhook: "every account", or
// their names.
func (p *apiPanel) accountsText(ids []core.AccountID) string {
	if len(ids) == 0 {
		return "every account"
	}
	names := make([]string, 0, len(ids))
	for _, id := range ids {
		if s, ok := p.w.statuses[id]; ok && s.Account.Name != "" {
			names = append(names, s.Account.Name)
		} else {
			names = append(names, string(id)+" (deleted)")
		}
	}
	if len(names) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
	}
	return strings.Join(names, ", ")
}

func (p *apiPanel) confirmRevoke(k core.APIKey) {
	p.w.confirm("Revoke API key", "Revoke",
		fmt.Sprintf("Revoke “%s”?\n\nEvery request with it is refused from now on, and it cannot be turned back on. "+
			"A program that still needs the API gets a new key.", k.Name),
		func() {
			p.call(func(ctx context.Context) func() {
				err := p.api.RevokeKey(ctx, k.ID)
				return func() {
					if err != nil {
						p.w.showMessage("Could not revoke the key", capitalize(err.Error())+".")
					}
					p.reloadKeys()
				}
			})
		})
}

// accountPicker chooses every account or some of them.
type accountPicker struct {
	mode    *widget.RadioGroup
	list    *widget.CheckGroup
	ids     map[string]core.AccountID // by label
	content fyne.CanvasObject
}

const (
	pickEvery = "Every account, also those added later"
	pickSome  = "Only these accounts:"
)

// newAccountPicker offers the accounts the window knows, by name.
func (w *Window) newAccountPicker() *accountPicker {
	p := &accountPicker{ids: map[string]core.AccountID{}}
	sts := make([]core.Status, 0, len(w.statuses))
	for _, s := range w.statuses {
		sts = append(sts, s)
	}
	slices.SortFunc(sts, func(a, b core.Status) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Account.Name), strings.ToLower(b.Account.Name)), cmp.Compare(a.Account.ID, b.Account.ID))
	})
	var labels []string
	for _, s := range sts {
		label := s.Account.Name
		if ph := s.Account.Phone(); ph != "" {
			label += " · " + displayPhone(ph)
		}
		if _, dup := p.ids[label]; dup || label == "" {
			label += " · " + string(s.Account.ID)
		}
		p.ids[label] = s.Account.ID
		labels = append(labels, label)
	}
	p.list = widget.NewCheckGroup(labels, nil)
	p.mode = widget.NewRadioGroup([]string{pickEvery, pickSome}, func(choice string) {
		if choice == pickSome {
			p.list.Enable()
		} else {
			p.list.Disable()
		}
	})
	p.mode.Required = true
	p.mode.SetSelected(pickEvery)
	scroll := container.NewVScroll(p.list)
	scroll.SetMinSize(fyne.NewSize(0, min(p.list.MinSize().Height, 150)))
	p.content = container.NewVBox(p.mode, container.New(layout.NewCustomPaddedLayout(0, 0, 28, 0), scroll))
	if len(labels) == 0 {
		p.mode.Disable()
	}
	return p
}

// selected returns the chosen accounts (nil: every account), or what is
// wrong with the choice.
func (p *accountPicker) selected() ([]core.AccountID, string) {
	if p.mode.Selected != pickSome {
		return nil, ""
	}
	var ids []core.AccountID
	for _, label := range p.list.Selected {
		ids = append(ids, p.ids[label])
	}
	if len(ids) == 0 {
		return nil, "Tick at least one account, or choose every account."
	}
	return ids, ""
}

// formDialog is a dialog with fields, an error line and a button that stays
// open until what it does succeeds.
type formDialog struct {
	dlg *dialog.CustomDialog
	err *widget.Label
	ok  *widget.Button
}

func (p *apiPanel) newFormDialog(title, okText string, body fyne.CanvasObject, onOK func(f *formDialog)) *formDialog {
	f := &formDialog{err: &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}}
	f.err.Hide()
	content := container.NewBorder(nil, f.err, nil, nil, container.NewVScroll(body))
	f.dlg = dialog.NewCustomWithoutButtons(title, content, p.w.win)
	f.ok = &widget.Button{Text: okText, Importance: widget.HighImportance, OnTapped: func() { onOK(f) }}
	f.dlg.SetButtons([]fyne.CanvasObject{&widget.Button{Text: "Cancel", OnTapped: f.dlg.Hide}, f.ok})
	win := p.w.win.Canvas().Size()
	f.dlg.Resize(fyne.NewSize(min(560, win.Width-40), min(body.MinSize().Height+160, win.Height-40)))
	return f
}

// fail shows what is wrong and lets the operator try again.
func (f *formDialog) fail(msg string) {
	f.err.SetText(msg)
	f.err.Show()
	f.ok.Enable()
}

// keyDialog is the open Create key dialog (tests).
type keyDialog struct {
	*formDialog
	name     *widget.Entry
	readOnly *widget.Check
	accounts *accountPicker
}

func (p *apiPanel) showCreateKey() *keyDialog {
	k := &keyDialog{
		name:     &widget.Entry{PlaceHolder: "who uses it, e.g. helpdesk"},
		readOnly: widget.NewCheck("Read-only: it can read, but neither change anything nor send", nil),
		accounts: p.w.newAccountPicker(),
	}
	k.name.ExtendBaseWidget(k.name)
	body := container.NewVBox(
		widget.NewLabel("Name"), k.name,
		k.readOnly,
		widget.NewLabel("Accounts it may see and use"), k.accounts.content,
	)
	k.formDialog = p.newFormDialog("Create API key", "Create", body, func(f *formDialog) {
		name := strings.TrimSpace(k.name.Text)
		if name == "" {
			f.fail("Give the key a name that says who uses it: the log names it on every request.")
			return
		}
		if len(name) > 100 {
			f.fail("The name is too long: at most 100 characters.")
			return
		}
		ids, msg := k.accounts.selected()
		if msg != "" {
			f.fail(msg)
			return
		}
		f.ok.Disable()
		p.call(func(ctx context.Context) func() {
			key, token, err := p.api.CreateKey(ctx, name, k.readOnly.Checked, ids)
			return func() {
				if err != nil {
					f.fail("Not created: " + err.Error())
					return
				}
				f.dlg.Hide()
				p.reloadKeys()
				p.showOnce("API key created",
					fmt.Sprintf("The key “%s”. Programs send it in every request as\nAuthorization: Bearer KEY", key.Name),
					token)
			}
		})
	})
	k.dlg.Show()
	p.w.win.Canvas().Focus(k.name)
	return k
}

// onceDialog shows a secret once, with Copy (tests).
type onceDialog struct {
	dlg    *dialog.CustomDialog
	secret *widget.Label
	copy   *widget.Button
}

// showOnce shows a token or secret that Warden does not keep, with Copy and
// a plain warning that it will not be shown again. what is broken into
// lines by hand, so that the dialog knows its height.
func (p *apiPanel) showOnce(title, what, secret string) *onceDialog {
	width := min(700, p.w.win.Canvas().Size().Width-40)
	mono := fyne.TextStyle{Monospace: true}
	o := &onceDialog{secret: &widget.Label{Text: secret, Selectable: true, TextStyle: mono}}
	if fyne.MeasureText(secret, theme.TextSize(), mono).Width > width-8*theme.Padding() {
		o.secret.Wrapping = fyne.TextWrapBreak // a narrow window: better broken than cut
	}
	warning := &widget.Label{Text: "Copy it now and keep it like a password: you will not see it again.\nWarden keeps only what it needs to check it.",
		Importance: widget.WarningImportance, TextStyle: fyne.TextStyle{Bold: true}}
	o.copy = &widget.Button{Text: "Copy", Icon: theme.ContentCopyIcon(), Importance: widget.HighImportance}
	o.copy.OnTapped = func() {
		p.w.app.Clipboard().SetContent(secret)
		o.copy.SetText("Copied")
	}
	body := container.NewVBox(widget.NewLabel(what), o.secret, warning)
	o.dlg = dialog.NewCustomWithoutButtons(title, body, p.w.win)
	o.dlg.SetButtons([]fyne.CanvasObject{o.copy, &widget.Button{Text: "Done", OnTapped: o.dlg.Hide}})
	o.dlg.Resize(fyne.NewSize(width, 0))
	o.dlg.Show()
	return o
}

// Webhooks.

func (p *apiPanel) reloadHooks() {
	if p.hooks == nil {
		return
	}
	p.call(func(ctx context.Context) func() {
		hooks, err := p.hooks.List(ctx)
		return func() { p.showHooks(hooks, err) }
	})
}

func (p *apiPanel) showHooks(hooks []Webhook, err error) {
	p.hooksBox.RemoveAll()
	switch {
	case err != nil:
		p.hooksMsg.Importance = widget.DangerImportance
		p.hooksMsg.SetText("The webhooks could not be read: " + err.Error())
	case len(hooks) == 0:
		p.hooksMsg.Importance = widget.MediumImportance
		p.hooksMsg.SetText("No webhooks yet.")
	default:
		p.hooksMsg.SetText("")
	}
	p.hooksMsg.Refresh()
	p.hooksMsg.Hidden = p.hooksMsg.Text == ""
	for _, h := range hooks {
		p.hooksBox.Add(p.hookRow(h))
	}
	p.changed()
}

// postPrefix is Go's prefix of a failed request's error: `Post "URL": `.
var postPrefix = regexp.MustCompile(`(?i)post "[^"]*": `)

// deliveryError says why a delivery failed, without Go's wording: the
// request's method and URL (shown already), the dial's inner steps; and at
// most a line of what the receiver answered.
func deliveryError(msg string) string {
	msg = postPrefix.ReplaceAllString(msg, "")
	switch {
	case strings.Contains(msg, "connection refused"):
		msg = "nothing answers at that address (connection refused): is the receiver running?"
	case strings.Contains(msg, "no such host"):
		msg = "the host name is not known (no such host)"
	case strings.Contains(msg, "certificate"):
		msg = "the receiver's TLS certificate is not trusted: " + msg[strings.LastIndex(msg, ": ")+2:]
	}
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	if r := []rune(msg); len(r) > 200 {
		msg = string(r[:199]) + "…"
	}
	return msg
}

// statusWords writes an HTTP status as "204 No Content".
func statusWords(code int) string {
	return strings.TrimSpace(fmt.Sprintf("%d %s", code, http.StatusText(code)))
}

// shortURL is u cut to fit a line of a dialog.
func shortURL(u string) string {
	const most = 60
	if r := []rune(u); len(r) > most {
		return string(r[:most-1]) + "…"
	}
	return u
}

// typesText names a webhook's event types.
func typesText(types []string) string {
	if len(types) == 0 {
		return "every event"
	}
	return strings.Join(types, ", ")
}

// deliveryText says how a webhook's deliveries go, and whether that is bad.
func deliveryText(h Webhook, now time.Time) (string, bool) {
	var parts []string
	bad := false
	switch l := h.Last; {
	case l.At.IsZero():
		parts = append(parts, "No delivery yet.")
	case l.OK():
		parts = append(parts, fmt.Sprintf("Last delivery %s: delivered (%s).", clockTime(l.At, now), statusWords(l.Status)))
	default:
		bad = true
		parts = append(parts, fmt.Sprintf("Last delivery %s failed: %s.", clockTime(l.At, now), deliveryError(l.Error)))
	}
	if h.Retrying > 0 {
		bad = true
		parts = append(parts, fmt.Sprintf("Retrying for %s.", plural(h.Retrying, "account")))
	}
	if h.Failed > 0 {
		bad = true
		parts = append(parts, fmt.Sprintf("%s failed for good.", plural(h.Failed, "event")))
	}
	return strings.Join(parts, " "), bad
}

// hookRow is one webhook: its URL, what it takes, how its deliveries go,
// and its buttons.
func (p *apiPanel) hookRow(h Webhook) fyne.CanvasObject {
	now := p.w.now()
	addr := &widget.Label{Text: h.URL, TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
	caption := fmt.Sprintf("%s · %s · added %s", capitalize(p.accountsText(h.Accounts)), typesText(h.Types), clockTime(h.Created, now))
	text, bad := deliveryText(h, now)
	status := &widget.Label{Text: text, Wrapping: fyne.TextWrapWord}
	if bad {
		status.Importance = widget.DangerImportance
	}
	test := &widget.Button{Text: "Test", Icon: theme.MailSendIcon(), Importance: widget.LowImportance}
	test.OnTapped = func() { p.testHook(h, test) }
	del := &widget.Button{Text: "Delete", Icon: theme.DeleteIcon(), Importance: widget.LowImportance, OnTapped: func() { p.confirmDeleteHook(h) }}
	lines := container.NewVBox(addr, wrappedNote(caption), status)
	if h.Failed > 0 {
		lines.Add(container.NewHBox(&widget.Button{Text: fmt.Sprintf("Failed deliveries (%d)…", h.Failed), Icon: theme.WarningIcon(),
			OnTapped: func() { p.showFailures(h) }}))
	}
	return container.NewBorder(nil, nil, nil, container.NewVBox(container.NewHBox(test, del)), lines)
}

func (p *apiPanel) testHook(h Webhook, b *widget.Button) {
	b.Disable()
	p.call(func(ctx context.Context) func() {
		res, err := p.hooks.Test(ctx, h.ID)
		return func() {
			b.Enable()
			switch {
			case err != nil:
				p.w.showMessage("Webhook test", "The test could not be sent: "+err.Error()+".")
			case res.OK():
				p.w.showMessage("Webhook test", fmt.Sprintf("Delivered: %s answered %s.", h.URL, statusWords(res.Status)))
			default:
				p.w.showMessage("Webhook test failed", fmt.Sprintf("%s did not take the test event: %s.", h.URL, deliveryError(res.Error)))
			}
		}
	})
}

func (p *apiPanel) confirmDeleteHook(h Webhook) {
	msg := fmt.Sprintf("Delete the webhook to %s?\n\nNo more events are sent to it", h.URL)
	if h.Failed > 0 || h.Retrying > 0 {
		msg += ", and the events it has not taken yet are dropped"
	}
	p.w.confirm("Delete webhook", "Delete", msg+".", func() {
		p.call(func(ctx context.Context) func() {
			err := p.hooks.Delete(ctx, h.ID)
			return func() {
				if err != nil {
					p.w.showMessage("Could not delete the webhook", capitalize(err.Error())+".")
				}
				p.reloadHooks()
			}
		})
	})
}

// hookDialog is the open Add webhook dialog (tests).
type hookDialog struct {
	*formDialog
	url      *widget.Entry
	accounts *accountPicker
	every    *widget.RadioGroup
	types    *widget.CheckGroup
	typeOf   map[string]string // by label
}

const (
	everyEvent = "Every event, also types added later"
	someEvents = "Only these events:"
)

func (p *apiPanel) showAddWebhook() *hookDialog {
	h := &hookDialog{url: &widget.Entry{PlaceHolder: "https://helpdesk.example/warden"}, accounts: p.w.newAccountPicker(), typeOf: map[string]string{}}
	h.url.ExtendBaseWidget(h.url)
	var labels []string
	for _, typ := range p.hooks.Types() {
		label := typ
		if words := eventTypeWords[typ]; words != "" {
			label += " — " + words
		}
		h.typeOf[label] = typ
		labels = append(labels, label)
	}
	h.types = widget.NewCheckGroup(labels, nil)
	h.every = widget.NewRadioGroup([]string{everyEvent, someEvents}, func(choice string) {
		if choice == someEvents {
			h.types.Enable()
		} else {
			h.types.Disable()
		}
	})
	h.every.Required = true
	h.every.SetSelected(everyEvent)
	body := container.NewVBox(
		widget.NewLabel("Address (URL) Warden POSTs each event to"), h.url,
		widget.NewLabel("Accounts"), h.accounts.content,
		widget.NewLabel("Events"), h.every, container.New(layout.NewCustomPaddedLayout(0, 0, 28, 0), h.types),
	)
	h.formDialog = p.newFormDialog("Add webhook", "Add", body, func(f *formDialog) {
		raw := strings.TrimSpace(h.url.Text)
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.fail("Enter an http:// or https:// address, for example https://helpdesk.example/warden.")
			return
		}
		ids, msg := h.accounts.selected()
		if msg != "" {
			f.fail(msg)
			return
		}
		var types []string
		if h.every.Selected == someEvents {
			for _, label := range h.types.Selected {
				types = append(types, h.typeOf[label])
			}
			if len(types) == 0 {
				f.fail("Tick at least one event, or choose every event.")
				return
			}
		}
		f.ok.Disable()
		p.call(func(ctx context.Context) func() {
			hook, secret, err := p.hooks.Create(ctx, raw, ids, types)
			return func() {
				if err != nil {
					f.fail("Not added: " + err.Error())
					return
				}
				f.dlg.Hide()
				p.reloadHooks()
				p.showOnce("Webhook added",
					fmt.Sprintf("The signing secret of the webhook to %s.\nIts receiver checks the signature of each delivery (the Warden-Signature header) with it.", shortURL(hook.URL)),
					secret)
			}
		})
	})
	h.dlg.Show()
	p.w.win.Canvas().Focus(h.url)
	return h
}

// failuresDialog lists a webhook's failed deliveries, with Retry and Retry
// all.
type failuresDialog struct {
	p        *apiPanel
	hook     Webhook
	dlg      *dialog.CustomDialog
	box      *fyne.Container
	result   *widget.Label
	retryAll *widget.Button
}

func (p *apiPanel) showFailures(h Webhook) *failuresDialog {
	f := &failuresDialog{p: p, hook: h, box: container.NewVBox(), result: &widget.Label{Wrapping: fyne.TextWrapWord}}
	f.result.Hide()
	f.retryAll = &widget.Button{Text: "Retry all", Icon: theme.ViewRefreshIcon(), Importance: widget.HighImportance, OnTapped: f.doRetryAll}
	head := &widget.Label{Text: "Events that " + h.URL + " did not take in a day of retries. A retried event arrives after later events of its account.",
		Wrapping: fyne.TextWrapWord}
	content := container.NewBorder(head, f.result, nil, nil, container.NewVScroll(f.box))
	f.dlg = dialog.NewCustomWithoutButtons("Failed deliveries", content, p.w.win)
	f.dlg.SetButtons([]fyne.CanvasObject{&widget.Button{Text: "Close", OnTapped: f.dlg.Hide}, f.retryAll})
	win := p.w.win.Canvas().Size()
	f.dlg.Resize(fyne.NewSize(min(640, win.Width-40), min(480, win.Height-40)))
	f.dlg.SetOnClosed(func() {
		if p.failures == f {
			p.failures = nil
		}
		p.reloadHooks()
	})
	p.failures = f
	f.dlg.Show()
	f.reload()
	return f
}

func (f *failuresDialog) reload() {
	f.p.call(func(ctx context.Context) func() {
		fails, err := f.p.hooks.Failures(ctx, f.hook.ID)
		return func() { f.show(fails, err) }
	})
}

func (f *failuresDialog) show(fails []FailedDelivery, err error) {
	f.box.RemoveAll()
	now := f.p.w.now()
	switch {
	case err != nil:
		f.box.Add(&widget.Label{Text: "The failed deliveries could not be read: " + err.Error(), Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord})
	case len(fails) == 0:
		f.box.Add(widget.NewLabel("None: every event was delivered."))
	}
	if len(fails) == 0 {
		f.retryAll.Disable()
	} else {
		f.retryAll.Enable()
	}
	for _, fd := range fails {
		title := &widget.Label{Text: fmt.Sprintf("%s · %s · %s", fd.Type, f.p.accountsText([]core.AccountID{fd.Account}), clockTime(fd.Time, now)),
			TextStyle: fyne.TextStyle{Bold: true}, Truncation: fyne.TextTruncateEllipsis}
		why := fmt.Sprintf("Failed %s after %s: %s", clockTime(fd.FailedAt, now), plural(fd.Attempts, "attempt"), deliveryError(fd.Last.Error))
		retry := &widget.Button{Text: "Retry", Icon: theme.ViewRefreshIcon(), Importance: widget.LowImportance}
		retry.OnTapped = func() { f.retry(fd, retry) }
		f.box.Add(container.NewBorder(nil, nil, nil, retry, container.NewVBox(title, wrappedNote(why))))
	}
	f.box.Refresh()
}

// say shows the outcome of the last retry under the list.
func (f *failuresDialog) say(text string, bad bool) {
	f.result.Importance = widget.MediumImportance
	if bad {
		f.result.Importance = widget.DangerImportance
	}
	f.result.SetText(text)
	f.result.Show()
}

func (f *failuresDialog) retry(fd FailedDelivery, b *widget.Button) {
	b.Disable()
	f.p.call(func(ctx context.Context) func() {
		res, err := f.p.hooks.Retry(ctx, f.hook.ID, fd.EventID)
		return func() {
			switch {
			case err == nil && res.OK():
				f.say(fmt.Sprintf("Delivered %s (%s).", fd.Type, statusWords(res.Status)), false)
			case !res.At.IsZero():
				f.say(fmt.Sprintf("Still not taken: %s.", deliveryError(res.Error)), true)
			default:
				f.say("Not retried: "+err.Error()+".", true)
			}
			f.reload()
		}
	})
}

func (f *failuresDialog) doRetryAll() {
	f.retryAll.Disable()
	f.p.call(func(ctx context.Context) func() {
		n, err := f.p.hooks.RetryAll(ctx, f.hook.ID)
		return func() {
			if err != nil {
				f.say(fmt.Sprintf("%s delivered; the others still fail: %s.", plural(n, "event"), strings.TrimSuffix(err.Error(), ".")), true)
			} else {
				f.say(fmt.Sprintf("%s delivered.", plural(n, "event")), false)
			}
			f.reload()
		}
	})
}
