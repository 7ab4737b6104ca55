package outbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"warden/core"
)

// The event types. A receiver should ignore a type it does not know: new ones
// may come.
const (
	// TypeMessageReceived: an account received a message; data is the
	// stored core.Message (its seq is the account's inbox Seq).
	TypeMessageReceived = "message.received"
	// TypeMessageSent: WhatsApp acknowledged a message an account sent;
	// data is the timeline event (message_id, reason).
	TypeMessageSent = "message.sent"
	// TypeMessageDelivered: the recipient's phone received a sent message.
	TypeMessageDelivered = "message.delivered"
	// TypeMessageRead: the recipient read a sent message (when their
	// privacy settings send read receipts).
	TypeMessageRead = "message.read"
	// TypeAccountState: an account changed state; data is the timeline
	// event (from, to, cause, reason).
	TypeAccountState = "account.state"
	// TypeAccountPaired: an account was paired to a phone.
	TypeAccountPaired = "account.paired"
	// TypeAccountLoggedOut: an account's device was unlinked: it needs
	// pairing again.
	TypeAccountLoggedOut = "account.logged_out"
	// TypeAccountNeedsAction: an account entered a state it will not leave
	// by itself (core.Status.NeedsAction).
	TypeAccountNeedsAction = "account.needs_action"
)

// Types lists every event type, for filters and their checks.
var Types = []string{TypeMessageReceived, TypeMessageSent, TypeMessageDelivered, TypeMessageRead,
	TypeAccountState, TypeAccountPaired, TypeAccountLoggedOut, TypeAccountNeedsAction}

// Event is one event of the outbox. Its JSON is exactly the body of a
// webhook delivery and the data of a Server-Sent Event:
// {"id","type","account","time","data"}.
type Event struct {
	// Seq is the event's place in the outbox, given when it is stored: it
	// orders every event of every account, never repeats, and is the
	// Server-Sent Events id a stream resumes after (Last-Event-ID).
	Seq uint64 `json:"-"`
	// ID names the event for ever, derived from where it comes from (see
	// MessageEventID, TimelineEventID): the same event stored twice, after a
	// crash, keeps its ID, and a receiver drops a repeated delivery by it.
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Account core.AccountID  `json:"account"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

// MessageEventID is the ID of the message.received event of the account's
// message of inbox Seq seq.
func MessageEventID(id core.AccountID, seq uint64) string {
	return fmt.Sprintf("%s:m%d", id, seq)
}

// TimelineEventID is the ID of the event of type typ derived from the
// account's timeline event of Seq seq: one timeline event may give several
// (a logout gives account.state, account.logged_out and account.needs_action).
func TimelineEventID(id core.AccountID, seq uint64, typ string) string {
	return fmt.Sprintf("%s:t%d:%s", id, seq, typ)
}

// messageEvent returns the message.received event of a stored message.
func messageEvent(msg core.Message) (Event, error) {
	data, err := json.Marshal(msg)
	if err != nil {
		return Event{}, fmt.Errorf("encode message %d of %s: %w", msg.Seq, msg.Account, err)
	}
	return Event{ID: MessageEventID(msg.Account, msg.Seq), Type: TypeMessageReceived, Account: msg.Account,
		Time: msg.Received.UTC(), Data: data}, nil
}

// timelineEvents returns the events a timeline event gives: none for most
// notes, one per type for a transition.
func timelineEvents(ev core.Event) ([]Event, error) {
	types := timelineTypes(ev)
	if len(types) == 0 {
		return nil, nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode timeline event %d of %s: %w", ev.Seq, ev.Account, err)
	}
	out := make([]Event, len(types))
	for i, typ := range types {
		out[i] = Event{ID: TimelineEventID(ev.Account, ev.Seq, typ), Type: typ, Account: ev.Account,
			Time: ev.At.UTC(), Data: data}
	}
	return out, nil
}

// pairedCause is the cause of the transition a pairing makes.
var pairedCause = core.SessionPairSuccess.String()

// timelineTypes says which event types a timeline event gives.
func timelineTypes(ev core.Event) []string {
	switch ev.Cause {
	case core.CauseSent:
		return []string{TypeMessageSent}
	case core.CauseDelivered:
		return []string{TypeMessageDelivered}
	case core.CauseRead:
		return []string{TypeMessageRead}
	}
	if ev.From == ev.To {
		return nil
	}
	types := []string{TypeAccountState}
	if ev.Cause == pairedCause {
		types = append(types, TypeAccountPaired)
	}
	if ev.To == core.LoggedOut {
		types = append(types, TypeAccountLoggedOut)
	}
	st := core.Status{State: ev.To}
	if ev.Delay > 0 {
		st.NextAttempt = ev.At.Add(ev.Delay)
	}
	if st.NeedsAction() {
		types = append(types, TypeAccountNeedsAction)
	}
	return types
}

// ValidType reports whether typ is one of Types.
func ValidType(typ string) bool { return slices.Contains(Types, typ) }
