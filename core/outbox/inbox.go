package outbox

import (
	"context"

	"warden/core"
)

// MessageStore is the store's side of Inbox: core/store implements it.
type MessageStore interface {
	core.Inbox
	// PutMessageEvent is PutMessage, and stores in the same commit the
	// event that event makes of the stored message, unless its ID is
	// stored; it returns the event when it stored it, with its Seq.
	PutMessageEvent(ctx context.Context, m core.Message, event func(core.Message) (Event, error)) (
		stored core.Message, dup bool, fresh []Event, err error)
}

// Inbox returns the Manager's inbox (core.Config.Inbox): s, storing each
// message's message.received event in the very commit that stores the
// message, so that a message is never stored without its event, whatever
// crash comes. A redelivered message whose event is stored already (always,
// unless the message came before the outbox) leaves the outbox as it was:
// the event's ID is the account's and the message's inbox Seq.
func (o *Outbox) Inbox(s MessageStore) core.Inbox { return inbox{MessageStore: s, o: o} }

// inbox is what Inbox returns.
type inbox struct {
	MessageStore
	o *Outbox
}

// PutMessage implements core.Inbox.
func (in inbox) PutMessage(ctx context.Context, m core.Message) (core.Message, bool, error) {
	stored, dup, fresh, err := in.PutMessageEvent(ctx, m, messageEvent)
	if err != nil {
		return core.Message{}, false, err
	}
	if len(fresh) > 0 {
		in.o.published(fresh)
	}
	return stored, dup, nil
}
