package core

import (
	"context"
	"time"
)

// This file holds receiving: what an account's session decrypted, kept by
// Warden until the business's software takes it (the HTTP API and webhooks).
//
// A message is stored before WhatsApp is told it was delivered: the session
// hands it to the Manager (a SessionMessage event, whose emit returns the
// store's answer) before it sends the delivery receipt, and withholds the
// receipt when the store failed. WhatsApp keeps a message nobody confirmed
// and delivers it again at the next login, so a crash between the decryption
// and the store loses nothing; a redelivered message is recognised by its
// chat, sender and ID and stored once.

// Kinds of incoming messages (Message.Kind).
const (
	KindText     = "text"
	KindImage    = "image"
	KindVideo    = "video"
	KindAudio    = "audio"
	KindDocument = "document"
	KindSticker  = "sticker"
	KindLocation = "location"
	KindContact  = "contact"
	KindReaction = "reaction"
	KindOther    = "other" // anything else WhatsApp sends as a message
)

// Message is one message an account received.
type Message struct {
	// Seq is the account's sequence number of the message, given by the
	// store: 1 for the first message the account received, then one more
	// for each. It orders an account's messages and never repeats.
	Seq     uint64    `json:"seq"`
	Account AccountID `json:"account"`
	// ID is WhatsApp's ID of the message, chosen by the sender's device.
	ID string `json:"id"`
	// Chat is the chat the message belongs to: the other party's JID for a
	// one-to-one message (phone-number address when WhatsApp gave it, else
	// LID), the group's JID for a group message.
	Chat string `json:"chat"`
	// Sender is the sending user's JID, without device (phone-number
	// address when WhatsApp gave it, else LID).
	Sender string `json:"sender"`
	// SenderLID is the sender's LID when WhatsApp gave both addresses.
	SenderLID string `json:"sender_lid,omitempty"`
	// PushName is the name the sender gave themselves, when sent.
	PushName string `json:"push_name,omitempty"`
	// FromMe is set on a message the account's own phone (or another of its
	// devices) sent: a copy, not something another person wrote.
	FromMe bool `json:"from_me,omitempty"`
	// Kind is one of the Kind constants.
	Kind string `json:"kind"`
	// Text is the text of a text message, or the caption of media.
	Text string `json:"text,omitempty"`
	// Size is the size in bytes of the media a message carries (0 for none).
	// Warden does not download media.
	Size int64 `json:"size,omitempty"`
	// MimeType is the media's type, when it has one.
	MimeType string `json:"mime_type,omitempty"`
	// At is WhatsApp's timestamp of the message.
	At time.Time `json:"at"`
	// Received is when Warden got it.
	Received time.Time `json:"received"`
	// Offline is set on a message WhatsApp kept while the account was not
	// connected and delivered at its login.
	Offline bool `json:"offline,omitempty"`
}

// Key identifies a message across redeliveries: WhatsApp message IDs are
// chosen by the sender, unique per sender and chat.
func (m Message) Key() string { return m.Chat + "\x00" + m.Sender + "\x00" + m.ID }

// Inbox keeps the messages accounts received. Both stores implement it, and
// keep each account's messages within a retention (at most a number of
// messages, none older than an age by Received; the newest is always kept).
// Deleting an account deletes its messages.
type Inbox interface {
	// PutMessage stores m (its Seq is ignored) and returns it with the Seq it
	// got. A nil error means the message is durable (committed and synced).
	// When the account already has a message with the same Key (WhatsApp
	// delivered it again), nothing is stored: the stored message is returned
	// with dup true. A message of an account the store does not have is
	// refused with an error wrapping ErrUnknownAccount.
	PutMessage(ctx context.Context, m Message) (stored Message, dup bool, err error)
	// Messages returns the account's messages with a Seq above after, oldest
	// first, at most limit.
	Messages(ctx context.Context, id AccountID, after uint64, limit int) ([]Message, error)
	// LastMessages returns the account's newest messages, at most limit,
	// newest last.
	LastMessages(ctx context.Context, id AccountID, limit int) ([]Message, error)
}

// Retention limits of the inbox, per account: the store keeps at most
// DefaultMaxMessages messages, none older than DefaultMessageMaxAge. Until
// the business's software takes messages (the HTTP API), the inbox is their
// only copy, so the limits are generous; an operator changes them in the
// store's options.
const (
	DefaultMaxMessages   = 10_000
	DefaultMessageMaxAge = 30 * 24 * time.Hour
)
