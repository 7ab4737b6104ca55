package whatsapp

import (
	"context"
	"errors"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"warden/core"
)

// Receiving. whatsmeow decrypts a message, dispatches it to the event
// handlers, and then sends WhatsApp the delivery receipt that tells the
// server it may forget the message. The session runs whatsmeow with
// SynchronousAck, so that the receipt waits for the handlers, and its
// handler returns only once core stored the message: a handler that fails
// (the store refused, or the session is closing) makes whatsmeow withhold
// the receipt, and WhatsApp delivers the message again at the next login.
//
// A message whatsmeow decrypted but Warden did not store cannot be
// decrypted twice: the Signal session has moved on. EnableDecryptedEventBuffer
// makes whatsmeow keep the plaintext of each message, in the device
// database and in the decryption's own transaction, until its handlers
// succeeded; a redelivery is then read from that buffer. Together they
// make a crash at any point lose nothing, and core's inbox recognises a
// redelivered message that it did store (its chat, sender and ID) and
// keeps it once.

// errSessionClosing refuses a message that arrives while the session closes:
// WhatsApp keeps it for the next session.
var errSessionClosing = errors.New("the session is closing")

// lidLookupTimeout bounds the device database lookup of a LID's phone number.
const lidLookupTimeout = 5 * time.Second

// receive hands a decrypted message to core and reports whether whatsmeow
// may tell WhatsApp it was delivered. What is not a message a person sent
// (protocol messages, key distribution, status updates) is let through
// without storing.
func (s *Session) receive(e *events.Message) bool {
	msg, ok := messageOf(e)
	if !ok {
		return true
	}
	s.resolvePN(&msg, e.Info)
	s.mu.Lock()
	msg.Offline = s.offlineLeft > 0
	if s.offlineLeft > 0 {
		s.offlineLeft--
	}
	s.mu.Unlock()
	if err := s.deliverMessage(msg); err != nil {
		s.log.Warn("message not stored; WhatsApp will deliver it again", "message", msg.ID, "err", err)
		return false
	}
	return true
}

// deliverMessage passes a message to core and returns its answer.
func (s *Session) deliverMessage(msg core.Message) error {
	s.emitMu.RLock()
	defer s.emitMu.RUnlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errSessionClosing
	}
	return s.emitFn(core.SessionEvent{Kind: core.SessionMessage, Message: &msg})
}

// offlineSync follows WhatsApp's delivery of what it kept while the account
// was away: the preview counts the messages to come, which are marked
// Offline, and the completion ends them.
func (s *Session) offlineSync(evt any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e := evt.(type) {
	case *events.OfflineSyncPreview:
		s.offlineLeft = e.Messages
		if e.Messages > 0 {
			s.log.Info("WhatsApp kept messages while the account was away; they come now", "messages", e.Messages)
		}
	case *events.OfflineSyncCompleted:
		s.offlineLeft = 0
		s.log.Debug("WhatsApp delivered everything it kept", "count", e.Count)
	}
}

// resolvePN gives the chat and the sender by phone number when WhatsApp
// addressed them by LID and the phone number is known: in the message's
// own attributes, or in the device database's LID map.
func (s *Session) resolvePN(msg *core.Message, info types.MessageInfo) {
	sender := info.Sender.ToNonAD()
	if sender.Server != types.HiddenUserServer {
		return
	}
	pn := info.SenderAlt.ToNonAD()
	if pn.Server != types.DefaultUserServer && s.cli.Store.LIDs != nil {
		ctx, cancel := context.WithTimeout(s.ctx, lidLookupTimeout)
		found, err := s.cli.Store.LIDs.GetPNForLID(ctx, sender)
		cancel()
		if err == nil {
			pn = found.ToNonAD()
		}
	}
	if pn.Server != types.DefaultUserServer || pn.User == "" {
		return
	}
	msg.SenderLID, msg.Sender = sender.String(), pn.String()
	if !info.IsGroup && !info.IsFromMe {
		msg.Chat = pn.String()
	}
}

// messageOf reads what core keeps of a decrypted message: false for what
// is not a message a person sent.
func messageOf(e *events.Message) (core.Message, bool) {
	info := e.Info
	if info.Chat.Server == types.BroadcastServer || info.Chat.Server == types.NewsletterServer {
		return core.Message{}, false // status updates and channels: not messages to the account
	}
	msg := core.Message{
		ID:       info.ID,
		Chat:     info.Chat.ToNonAD().String(),
		Sender:   info.Sender.ToNonAD().String(),
		PushName: info.PushName,
		FromMe:   info.IsFromMe,
		At:       info.Timestamp,
	}
	if info.IsFromMe && !info.IsGroup && info.Chat.Server == types.HiddenUserServer && info.RecipientAlt.Server == types.DefaultUserServer {
		msg.Chat = info.RecipientAlt.ToNonAD().String()
	}
	if !kindOf(e.Message, &msg) {
		return core.Message{}, false
	}
	return msg, true
}

// kindOf fills in the kind, text, size and type of a message's content;
// false for content that is no message a person wrote.
func kindOf(m *waE2E.Message, msg *core.Message) bool {
	if m == nil {
		return false
	}
	type media interface {
		GetFileLength() uint64
		GetMimetype() string
	}
	setMedia := func(kind string, md media, caption string) {
		msg.Kind, msg.Text, msg.Size, msg.MimeType = kind, caption, int64(md.GetFileLength()), md.GetMimetype()
	}
	switch {
	case m.Conversation != nil:
		msg.Kind, msg.Text = core.KindText, m.GetConversation()
	case m.ExtendedTextMessage != nil:
		msg.Kind, msg.Text = core.KindText, m.GetExtendedTextMessage().GetText()
	case m.ImageMessage != nil:
		setMedia(core.KindImage, m.GetImageMessage(), m.GetImageMessage().GetCaption())
	case m.VideoMessage != nil:
		setMedia(core.KindVideo, m.GetVideoMessage(), m.GetVideoMessage().GetCaption())
	case m.PtvMessage != nil:
		setMedia(core.KindVideo, m.GetPtvMessage(), m.GetPtvMessage().GetCaption())
	case m.AudioMessage != nil:
		setMedia(core.KindAudio, m.GetAudioMessage(), "")
	case m.DocumentMessage != nil:
		setMedia(core.KindDocument, m.GetDocumentMessage(), m.GetDocumentMessage().GetCaption())
	case m.StickerMessage != nil:
		setMedia(core.KindSticker, m.GetStickerMessage(), "")
	case m.LocationMessage != nil, m.LiveLocationMessage != nil:
		msg.Kind = core.KindLocation
	case m.ContactMessage != nil, m.ContactsArrayMessage != nil:
		msg.Kind = core.KindContact
	case m.ReactionMessage != nil:
		msg.Kind, msg.Text = core.KindReaction, m.GetReactionMessage().GetText()
	case m.ProtocolMessage != nil, m.SenderKeyDistributionMessage != nil:
		// whatsmeow's own business: history sync, keys, revokes, edits. A
		// group member's first message carries its sender key beside the
		// content, which the cases above took.
		return false
	default:
		msg.Kind = core.KindOther
	}
	return true
}
