package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds sending: the one thing Warden does with a connection besides
// keeping it up, used as an end-to-end health check (a test message from the
// window, and the optional periodic self-check).
//
// A send is guarded the way the original system guarded it, by
// IsConnectionActive at that moment, and more strictly: it goes out on the
// session that is current and Connected when SendText is called, or not at
// all. It never waits in the account's queue behind a reconnect, and it holds
// the session it started on, so a drop during the send can only make it fail:
// the old client never reconnects (core owns reconnection), and a new session
// never sees it.

// Causes of the notes sends leave on the timeline.
const (
	CauseSent            = "message sent"
	CauseSendFailed      = "send failed"
	CauseDelivered       = "delivered"
	CauseRead            = "read"
	CauseSelfCheckFailed = "self-check failed"
)

// MaxTextLen is the longest message Warden sends, in characters.
const MaxTextLen = 4096

// ErrInvalidMessage is wrapped by SendText when the text cannot be sent.
var ErrInvalidMessage = errors.New("invalid message")

// maxPending bounds how many sent messages per account wait for their
// delivery receipt; the oldest is forgotten first.
const maxPending = 64

// SendResult is what a sent message came back with.
type SendResult struct {
	MessageID string
	To        string    // the recipient's number, digits only
	SentAt    time.Time // when the message was handed to the session
	AckedAt   time.Time // when WhatsApp's server acknowledged it
	// ServerTime is the server's timestamp on the acknowledgement.
	ServerTime time.Time
	// Latency is SentAt → AckedAt, as measured by Warden.
	Latency time.Duration
	// Epoch is the session the message went out on.
	Epoch uint64
}

// SelfCheck is the outcome of an account's last periodic self-check: a
// message to its own number. The zero value means no check ran yet.
type SelfCheck struct {
	At      time.Time     // when it finished
	Latency time.Duration // send → ack, when it passed
	Err     string        // why it failed, in an operator's words; "" when it passed
}

// pending is a sent message waiting for its receipts: delivered, then read.
type pending struct {
	id        string
	to        string
	sentAt    time.Time
	delivered bool // its delivery receipt came
}

// SendText sends a text message from the account to the phone number to
// (any form NormalizePhone accepts) and returns once WhatsApp's server
// acknowledged it. It is refused with an error wrapping ErrNotConnected unless
// IsConnectionActive(id) is true at that moment. The send and its outcome are
// notes on the account's timeline; so is the delivery receipt from the
// recipient's phone, when it comes (Cause CauseDelivered, with MessageID).
func (m *Manager) SendText(ctx context.Context, id AccountID, to, text string) (SendResult, error) {
	return m.send(ctx, id, to, text, false)
}

func (m *Manager) send(ctx context.Context, id AccountID, to, text string, selfCheck bool) (SendResult, error) {
	digits, err := NormalizePhone(to)
	if err != nil {
		return SendResult{}, err
	}
	if err := validateText(text); err != nil {
		return SendResult{}, err
	}
	a := m.lookup(id)
	if a == nil {
		return SendResult{}, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}

	a.mu.Lock()
	switch {
	case a.m.deleted:
		a.mu.Unlock()
		return SendResult{}, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	case a.closed:
		a.mu.Unlock()
		return SendResult{}, ErrClosed
	case a.m.State != Connected || !a.m.open || a.sess == nil || a.sessEp != a.m.Epoch:
		state := a.m.State
		a.mu.Unlock()
		return SendResult{}, notActiveError{state}
	}
	sess, epoch := a.sess, a.sessEp
	// Close waits for the send (it cancels it first). Added under a.mu, after
	// the closed check, so it happens before Close's wait.
	m.bg.Add(1)
	a.mu.Unlock()
	defer m.bg.Done()

	// Warden's own shutdown ends a send in flight too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()

	res := SendResult{To: digits, Epoch: epoch, SentAt: m.now()}
	sent, err := sess.SendText(ctx, digits, text)
	res.AckedAt = m.now()
	if err == nil {
		res.MessageID, res.ServerTime = sent.ID, sent.ServerTime
		res.Latency = res.AckedAt.Sub(res.SentAt)
	}
	m.noteSend(a, res, err, selfCheck)
	if err != nil {
		return res, fmt.Errorf("send from %s: %w", a.id, err)
	}
	return res, nil
}

// notActiveError refuses a send because the account is not Connected: nothing
// went out.
type notActiveError struct{ state State }

func (e notActiveError) Error() string {
	return fmt.Sprintf("%v: a message can be sent only while the account is Connected (it is %s)", ErrNotConnected, e.state)
}

func (e notActiveError) Unwrap() error { return ErrNotConnected }

func validateText(text string) error {
	switch {
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("%w: the message is empty", ErrInvalidMessage)
	case !utf8.ValidString(text):
		return fmt.Errorf("%w: the message is not valid text", ErrInvalidMessage)
	case utf8.RuneCountInString(text) > MaxTextLen:
		return fmt.Errorf("%w: the message is longer than %d characters", ErrInvalidMessage, MaxTextLen)
	}
	return nil
}

// noteSend records a send's outcome. A self-check that passed leaves no
// timeline note (it would be one every few minutes); it shows in the status.
func (m *Manager) noteSend(a *account, res SendResult, err error, selfCheck bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m.deleted {
		return
	}
	ev := Event{Account: a.id, At: res.AckedAt, From: a.m.State, To: a.m.State, Epoch: res.Epoch, MessageID: res.MessageID}
	what := "test message to " + MaskPhone(res.To)
	if selfCheck {
		what = "self-check message to the account's own number"
	}
	switch {
	case err != nil && selfCheck:
		ev.Cause, ev.Reason = CauseSelfCheckFailed, what+" not sent: "+SendErrorText(err)
	case err != nil:
		ev.Cause, ev.Reason = CauseSendFailed, what+" not sent: "+SendErrorText(err)
	case !selfCheck:
		ev.Cause, ev.Reason = CauseSent, fmt.Sprintf("%s acknowledged by WhatsApp in %s", what, roundLatency(res.Latency))
		ev.Latency = res.Latency
	}
	if selfCheck {
		check := SelfCheck{At: res.AckedAt}
		if err != nil {
			check.Err = SendErrorText(err)
		} else {
			check.Latency = res.Latency
		}
		a.m.LastCheck = check
		m.hub.publish(a.m.Status)
	}
	if err == nil && !selfCheck {
		m.noteSent(a, res.AckedAt)
		m.hub.publish(a.m.Status)
	}
	if err == nil {
		if len(a.pending) >= maxPending {
			a.pending = a.pending[1:]
		}
		a.pending = append(a.pending, pending{id: res.MessageID, to: res.To, sentAt: res.SentAt})
	}
	if ev.Cause != "" {
		m.apply(a, []action{{kind: actRecord, event: ev}})
	}
}

// delivered notes a delivery or read receipt for a message this account
// sent, once each: a message stays pending after its delivery receipt until
// it is read. It changes no state, so it is taken from any of the account's
// sessions: the server hands pending receipts to the next session after a
// drop.
func (m *Manager) delivered(id AccountID, ev SessionEvent) {
	a := m.lookup(id)
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m.deleted || a.closed {
		return
	}
	i := slices.IndexFunc(a.pending, func(p pending) bool { return p.id == ev.MessageID })
	if i < 0 {
		a.log.Debug("receipt for a message Warden did not send", "message", ev.MessageID, "kind", ev.Kind.String())
		return
	}
	p := a.pending[i]
	at := ev.At
	if at.IsZero() {
		at = m.now()
	}
	cause, what := CauseDelivered, "delivered to the phone"
	if ev.Kind == SessionRead {
		cause, what = CauseRead, "read"
		a.pending = slices.Delete(a.pending, i, i+1)
	} else if p.delivered {
		return // a repeated receipt
	} else {
		a.pending[i].delivered = true
	}
	m.apply(a, []action{{kind: actRecord, event: Event{
		Account: a.id, At: m.now(), From: a.m.State, To: a.m.State, Cause: cause, Epoch: a.m.Epoch,
		MessageID: p.id,
		Reason:    fmt.Sprintf("message to %s %s %s after it was sent", MaskPhone(p.to), what, roundLatency(at.Sub(p.sentAt))),
	}}})
}

// SendErrorText says why a send failed, in an operator's words.
func SendErrorText(err error) string {
	var inactive notActiveError
	switch {
	case errors.As(err, &inactive):
		return fmt.Sprintf("the account is %s, not Connected, so nothing was sent", inactive.state)
	case errors.Is(err, ErrNotOnWhatsApp):
		return "this number is not on WhatsApp"
	case errors.Is(err, ErrNoDevices):
		return "this number has no phone or linked device that can receive messages"
	case errors.Is(err, ErrRateLimited):
		return "WhatsApp is limiting how fast this account sends: wait a few minutes and try again"
	case errors.Is(err, ErrNoAck):
		return "WhatsApp did not confirm the message in time: it may or may not arrive"
	case errors.Is(err, ErrNotConnected):
		return "the connection was lost before WhatsApp confirmed the message"
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out before WhatsApp confirmed the message"
	}
	return err.Error()
}

// MaskPhone shows only a phone number's last four digits ("…4567"), for
// timelines and logs, which keep phone numbers out.
func MaskPhone(digits string) string {
	if len(digits) <= 4 {
		return "…"
	}
	return "…" + digits[len(digits)-4:]
}

func roundLatency(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}
