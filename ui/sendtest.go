package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"warden/core"
)

// sendTimeout bounds a test message: WhatsApp's own ack wait is shorter.
const sendTimeout = 45 * time.Second

// sendOutcome is the last test message of one account, as the pane shows it.
type sendOutcome struct {
	to        string // digits
	sending   bool
	res       core.SendResult
	err       error
	delivered time.Time // when the delivery receipt was noted; zero until then
}

// sendView is the Overview's "Test message" section: a number (the
// account's own by default), a Send button, and the last result of each
// account. It is always there, so that the Overview below it never moves,
// but it sends only while the account is Connected; the results stay for
// when it comes back. The result takes the hint's place, in room kept for
// it, so that a send moves nothing either.
type sendView struct {
	onSend func(id core.AccountID, to string)
	// relayout lays the pane out again when the result's height may change.
	relayout func()

	id        core.AccountID
	connected bool   // the shown account is Connected: it can send
	hintText  string // the explanation under the number (Options.SendHint)
	own       string // the shown account's own number, digits
	outcomes  map[core.AccountID]*sendOutcome

	to      *widget.Entry
	button  *widget.Button
	hint    *widget.RichText
	result  *widget.Label
	content *fyne.Container
}

func newSendView(onSend func(id core.AccountID, to string)) *sendView {
	v := &sendView{onSend: onSend, outcomes: map[core.AccountID]*sendOutcome{}, hintText: sendHint}
	v.to = &widget.Entry{}
	v.to.OnSubmitted = func(string) { v.send() }
	v.button = &widget.Button{Text: "Send test message", Icon: theme.MailSendIcon(), OnTapped: v.send}
	v.result = &widget.Label{Wrapping: fyne.TextWrapWord, Selectable: true}
	hint := newMuted(theme.SizeNameCaptionText)
	v.hint = hint
	hint.Wrapping = fyne.TextWrapWord
	v.content = container.NewVBox(
		&widget.Label{Text: "Test message", TextStyle: fyne.TextStyle{Bold: true}},
		container.NewBorder(nil, nil, nil, v.button, v.to),
		container.New(reserveLines{2, theme.SizeNameText}, hint, v.result),
		widget.NewSeparator(),
	)
	return v
}

// show lays the section out for s.
func (v *sendView) show(s core.Status) {
	if s.Account.ID != v.id {
		v.id = s.Account.ID
		v.to.SetText("")
	}
	v.own = s.Account.Phone()
	placeholder := "Phone number with country code"
	if v.own != "" {
		placeholder = "+" + v.own + " (this account’s own number)"
	}
	if v.to.PlaceHolder != placeholder {
		v.to.SetPlaceHolder(placeholder)
	}
	v.connected = s.State == core.Connected
	v.refresh()
}

// sendHint is the line under the number while there is no result to show.
const (
	sendHint     = "Proves the account can deliver: WhatsApp acknowledges the message, then the phone confirms delivery. Leave the number empty to send to this account’s own number."
	sendHintIdle = "A test message can be sent while the account is connected."
)

func (v *sendView) send() {
	o := v.outcomes[v.id]
	if v.id == "" || !v.connected || (o != nil && o.sending) {
		return
	}
	to := strings.TrimSpace(v.to.Text)
	if to == "" {
		to = v.own
	}
	v.onSend(v.id, to)
}

// started marks a send of id as under way.
func (v *sendView) started(id core.AccountID, to string) {
	v.outcomes[id] = &sendOutcome{to: to, sending: true}
	v.refresh()
}

// finished takes a send's result.
func (v *sendView) finished(id core.AccountID, res core.SendResult, err error) {
	o := v.outcomes[id]
	if o == nil {
		o = &sendOutcome{}
		v.outcomes[id] = o
	}
	o.sending, o.res, o.err = false, res, err
	if res.To != "" {
		o.to = res.To
	}
	v.refresh()
}

// observe takes timeline events: a delivery note completes its send.
func (v *sendView) observe(evs []core.Event) {
	changed := false
	for _, e := range evs {
		if e.Cause != core.CauseDelivered || e.MessageID == "" {
			continue
		}
		if o := v.outcomes[e.Account]; o != nil && o.res.MessageID == e.MessageID && o.delivered.IsZero() {
			o.delivered = e.At
			changed = changed || e.Account == v.id
		}
	}
	if changed {
		v.refresh()
	}
}

// forget drops a deleted account's result.
func (v *sendView) forget(id core.AccountID) { delete(v.outcomes, id) }

func (v *sendView) refresh() {
	o := v.outcomes[v.id]
	if !v.connected || (o != nil && o.sending) {
		v.button.Disable()
	} else {
		v.button.Enable()
	}
	if v.connected {
		v.to.Enable()
		setMuted(v.hint, v.hintText)
	} else {
		v.to.Disable()
		setMuted(v.hint, sendHintIdle)
	}
	text, imp := "", widget.MediumImportance
	if o != nil {
		text = o.line()
		if o.err != nil { // the theme's success green reads poorly on light
			imp = widget.DangerImportance
		}
	}
	if v.result.Importance != imp {
		v.result.Importance = imp
		v.result.Refresh()
	}
	if text == v.result.Text && v.result.Visible() == (text != "") {
		return
	}
	setText(v.result, text)
	if text == "" {
		v.result.Hide()
		v.hint.Show()
	} else {
		v.result.Show()
		v.hint.Hide()
	}
	if v.relayout != nil {
		v.relayout() // a long result may wrap past the room kept
	}
}

// line says how the send went, in an operator's words.
func (o *sendOutcome) line() string {
	to := displayPhone(o.to)
	switch {
	case o.sending:
		return "Sending to " + to + "…"
	case errors.Is(o.err, core.ErrInvalidPhone):
		_, why := normalizePhone(o.to)
		if why == nil {
			why = o.err
		}
		return "✗ Not sent: that number cannot be used: " + why.Error() + "."
	case o.err != nil && o.res.SentAt.IsZero(): // refused before it went out
		return "✗ Not sent: " + plainError(o.err)
	case o.err != nil:
		return "✗ Not sent to " + to + ": " + capitalize(core.SendErrorText(o.err)) + "."
	}
	at := o.res.AckedAt.Local().Format("15:04:05")
	s := fmt.Sprintf("✓ Sent to %s at %s · WhatsApp acknowledged it in %s", to, at, formatLatency(o.res.Latency))
	if o.delivered.IsZero() {
		return s + " · waiting for the phone to confirm delivery"
	}
	return s + " · delivered after " + formatLatency(o.delivered.Sub(o.res.SentAt))
}

// displayPhone writes digits as "+digits"; anything else as typed.
func displayPhone(digits string) string {
	if digits == "" {
		return "—"
	}
	if strings.Trim(digits, "0123456789") == "" {
		return "+" + digits
	}
	return digits
}

// formatLatency writes a short duration the way the timeline does: "14 ms",
// "1.2 s".
func formatLatency(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return formatDuration(d)
}

// selfCheckLine says how the last periodic self-check went; "" before the
// first one.
func selfCheckLine(c core.SelfCheck, now time.Time) string {
	if c.At.IsZero() {
		return ""
	}
	at := clockTime(c.At, now)
	if c.Err != "" {
		return "✗ failed at " + at + ": " + c.Err
	}
	return "✓ passed at " + at + " (acknowledged in " + formatLatency(c.Latency) + ")"
}

// sendTest sends a test message from id to the number typed (or the
// account's own), and shows the result inline.
func (w *Window) sendTest(id core.AccountID, to string) {
	digits, err := core.NormalizePhone(to)
	if err != nil {
		w.detail.send.finished(id, core.SendResult{To: to}, err)
		return
	}
	w.detail.send.started(id, digits)
	text := "Warden test message, " + w.now().Format("15:04:05") + ". You can ignore it."
	w.async(func() func() {
		ctx, cancel := context.WithTimeout(w.ctx, sendTimeout)
		res, err := w.ctl.SendText(ctx, id, digits, text)
		cancel()
		return func() { w.detail.send.finished(id, res, err) }
	})
}
