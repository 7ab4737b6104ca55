package fakewa

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// Receiving. A simulated contact, or the account's own phone, sends a
// companion a message the way a phone does through the real server
// (SendText, SendMessage): its device 0 encrypts the message separately for
// each paired companion of the account with a real Signal session, built
// from the companion's uploaded prekey bundle the first time (consuming a
// one-time prekey, as the real server hands each out once) and reused
// after. As libsignal does, the sender keeps sending prekey messages (pkmsg)
// until it has decrypted a message of the companion's in that session, and
// plain messages (msg) after.
//
// Each copy waits in its device's outbox until the device confirms it with
// its delivery receipt (no type, or "inactive", "sender", "peer_msg"), which
// whatsmeow sends after its event handlers ran. A logged-in device gets its
// copy at once. A device that is away gets its outbox at its next login,
// after <success>, the way the real server delivers the offline queue: the
// <ib><offline_preview> with the queue's size, the messages marked offline,
// then <ib><offline count=N>. A copy the device got but did not confirm
// before its socket went away is in the outbox still, and goes again, with
// the same ID and ciphertext, at its next login, as the real server sends
// again what it holds. whatsmeow takes such a copy once: it cannot decrypt a
// ciphertext twice (the Signal counter is old) and only sends the receipt,
// unless it buffers decrypted events (EnableDecryptedEventBuffer), in which
// case it hands the buffered plaintext to its handlers again if they failed
// the first time.
//
// A companion that cannot decrypt its copy answers with a retry receipt; the
// sender then encrypts the message again, as whatsmeow itself answers one
// (retry.go, handleRetryReceipt): from the keys the receipt carries, from a
// fresh prekey bundle of the server when it has no session, or with the
// session it has, and sends it with <enc count=N>.
//
// Messages are addressed as the real server addresses them: from the
// sender's phone number before the account's LID migration, and from the
// sender's LID, with its phone number in sender_pn, once the companion is
// past it (Config.LIDMigration and its history sync). A message of the
// account's own phone comes from the account's own device 0, wrapped as a
// DeviceSentMessage to the account's own chat, as the phone sends its
// companions what it sends: whatsmeow takes it as IsFromMe.
//
// The outboxes live in memory only: a restarted server has forgotten what
// it had not delivered (the Signal sessions are kept, see state.go).

// maxRetries is how many retry receipts of a device the sender of a message
// answers: whatsmeow stops asking after 5.
const maxRetries = 5

// Receipt is a receipt a companion sent for a message a simulated device
// sent to it.
type Receipt struct {
	ID   string    // the message ID
	From string    // the companion device that sent it, as ScanQR returns it
	Type string    // as sent: "" for delivery, "inactive", "sender", "read", "retry", …
	At   time.Time // when the server got it
}

// ReceiveStats are the server's counters of messages simulated devices sent
// to companions. A message to an account with two companions counts two
// copies.
type ReceiveStats struct {
	PreKeyMessages int // copies encrypted as a prekey message (pkmsg), retries included
	SignalMessages int // copies encrypted as a plain message (msg), retries included
	Retries        int // copies encrypted again to answer a retry receipt
	Redelivered    int // copies sent again at a login because the device had not confirmed them
	Confirmed      int // copies the device confirmed with its delivery receipt
}

// outgoing is one message a simulated device sends to one companion device,
// kept until the device confirms it.
type outgoing struct {
	id        string
	from      *phone // the sender's account
	sender    *peer  // the sender's device that encrypts it: its phone
	t         string // the server time of the message, unix seconds
	typ       string // the <message> type: text or media
	mediaType string // the <enc> mediatype of a media message
	plain     []byte // the serialised message, to encrypt again on a retry

	attrs   waBinary.Attrs // the <message> attrs, set with enc
	enc     waBinary.Node  // the copy as last encrypted; no Tag until the device's keys allowed it
	sent    bool           // it went to a socket of the device at least once
	retries int            // retry receipts answered
}

// SendText makes the simulated phone from (digits of a phone number: a
// contact's, or the account's own, to write from the account's phone) send
// the text to the account to, whose companions get it. It returns the
// message ID.
func (s *Server) SendText(from, to, text string) (string, error) {
	return s.SendMessage(from, to, &waE2E.Message{Conversation: proto.String(text)})
}

// SendMessage is SendText for any message. The message is encrypted for and
// queued to every companion of the account (see the comment on receiving):
// it fails for a sender the server does not know (or without a phone), an
// account it does not know, and an account with no paired companion.
func (s *Server) SendMessage(from, to string, msg *waE2E.Message) (string, error) {
	fromUser, toUser := digitsOnly(from), digitsOnly(to)
	s.mu.Lock()
	sender, account := s.phones[fromUser], s.phones[toUser]
	var devs []*device
	for _, d := range s.devices {
		if d.jid.User == toUser {
			devs = append(devs, d)
		}
	}
	s.mu.Unlock()
	switch {
	case sender == nil || len(sender.peers) == 0:
		return "", fmt.Errorf("fakewa: send from %s: %w", from, ErrUnknownSender)
	case account == nil:
		return "", fmt.Errorf("fakewa: send to %s: %w", to, ErrUnknownAccount)
	case len(devs) == 0:
		return "", fmt.Errorf("fakewa: send to %s: %w", to, ErrNoCompanion)
	}
	slices.SortFunc(devs, func(a, b *device) int { return int(a.jid.Device) - int(b.jid.Device) })

	typ, mediaType := messageKind(msg)
	if sender == account {
		msg = &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{
			DestinationJID: proto.String(types.JID{User: account.user, Server: types.DefaultUserServer}.String()),
			Message:        msg,
		}}
	}
	plain, err := proto.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("fakewa: send from %s to %s: marshal: %w", from, to, err)
	}
	id := newMessageID()
	t := strconv.FormatInt(time.Now().Unix(), 10)
	for _, dev := range devs {
		s.mu.Lock()
		dev.outbox = append(dev.outbox, &outgoing{id: id, from: sender, sender: sender.peers[0], t: t, typ: typ, mediaType: mediaType, plain: plain})
		s.mu.Unlock()
		s.push(dev)
	}
	return id, nil
}

// messageKind returns the <message> type of msg and, for media, the <enc>
// mediatype, as whatsmeow sets them when it sends.
func messageKind(msg *waE2E.Message) (typ, mediaType string) {
	switch {
	case msg.ImageMessage != nil:
		return "media", "image"
	case msg.VideoMessage != nil && msg.GetVideoMessage().GetGifPlayback():
		return "media", "gif"
	case msg.VideoMessage != nil:
		return "media", "video"
	case msg.AudioMessage != nil && msg.GetAudioMessage().GetPTT():
		return "media", "ptt"
	case msg.AudioMessage != nil:
		return "media", "audio"
	case msg.DocumentMessage != nil:
		return "media", "document"
	case msg.StickerMessage != nil:
		return "media", "sticker"
	}
	return "text", ""
}

// Pending returns how many messages are queued for, or were sent to, the
// companion device (a JID as ScanQR returns it) that it has not confirmed
// with its delivery receipt.
func (s *Server) Pending(jid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if dev := s.devices[normJID(jid)]; dev != nil {
		return len(dev.outbox)
	}
	return 0
}

// Receipts returns the receipts the companions of the account phone sent
// for messages simulated devices sent them, oldest first: one entry per
// message ID a receipt named.
func (s *Server) Receipts(phone string) []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ofUser(s.receipts, phone, func(r Receipt) string { return r.From })
}

// ReceiveStats returns the counters of messages sent to companions.
func (s *Server) ReceiveStats() ReceiveStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recvStats
}

// push encrypts what waits in the device's outbox and sends the copies that
// never went out to its live sockets, if it has any.
func (s *Server) push(dev *device) {
	dev.deliverMu.Lock()
	defer dev.deliverMu.Unlock()
	s.encryptQueued(dev)
	s.mu.Lock()
	socks := s.liveSocksLocked(dev.jid.String())
	var nodes []waBinary.Node
	for _, o := range dev.outbox {
		if len(socks) > 0 && o.enc.Tag != "" && !o.sent {
			o.sent = true
			nodes = append(nodes, o.node(false))
		}
	}
	s.mu.Unlock()
	for _, c := range socks {
		for _, n := range nodes {
			_ = c.sendNode(n)
		}
	}
}

// pushTo is push for the device with this JID, if the server knows it: its
// keys have arrived, so what waited for them can go.
func (s *Server) pushTo(jid string) {
	s.mu.Lock()
	dev := s.devices[jid]
	s.mu.Unlock()
	if dev != nil {
		s.push(dev)
	}
}

// deliverQueue sends a companion that just logged in on c what the server
// holds for its device, as the real server delivers the offline queue: the
// preview of its size, every copy not confirmed yet, then the end of the
// queue with its true count. From then on the socket gets new messages at
// once.
func (s *Server) deliverQueue(c *sock, dev *device) {
	dev.deliverMu.Lock()
	defer dev.deliverMu.Unlock()
	s.encryptQueued(dev)
	s.mu.Lock()
	var nodes []waBinary.Node
	for _, o := range dev.outbox {
		if o.enc.Tag == "" {
			break // the device has no keys on the server yet: the rest waits with it
		}
		if o.sent {
			s.recvStats.Redelivered++
		}
		o.sent = true
		nodes = append(nodes, o.node(true))
	}
	c.live = c.loggedIn
	s.mu.Unlock()

	n := strconv.Itoa(len(nodes))
	_ = c.sendNode(waBinary.Node{Tag: "ib", Content: []waBinary.Node{{Tag: "offline_preview", Attrs: waBinary.Attrs{
		"count": n, "appdata": "0", "message": n, "notification": "0", "receipt": "0",
	}}}})
	for _, node := range nodes {
		_ = c.sendNode(node)
	}
	_ = c.sendNode(waBinary.Node{Tag: "ib", Content: []waBinary.Node{{Tag: "offline", Attrs: waBinary.Attrs{"count": n}}}})
}

// encryptQueued encrypts the device's queued messages, oldest first, until
// one cannot be: the sender has no session with the device and the device
// has uploaded no keys yet. dev.deliverMu must be held.
func (s *Server) encryptQueued(dev *device) {
	encrypted := false
	for {
		s.mu.Lock()
		i := slices.IndexFunc(dev.outbox, func(o *outgoing) bool { return o.enc.Tag == "" })
		if i < 0 {
			s.mu.Unlock()
			break
		}
		o := dev.outbox[i]
		bundle, ok := s.bundleForLocked(dev, o.sender)
		attrs := s.incomingAttrsLocked(dev, o)
		s.mu.Unlock()
		if !ok {
			break
		}
		enc, err := o.sender.encrypt(dev.jid, bundle, o.plain)
		s.mu.Lock()
		if err != nil {
			// A sender that cannot encrypt would block the queue for
			// good: the message is dropped, loudly.
			dev.outbox = slices.DeleteFunc(dev.outbox, func(x *outgoing) bool { return x == o })
			s.mu.Unlock()
			s.log.Error("fakewa: a simulated device could not encrypt a message, dropped", "from", o.sender.jid, "to", dev.jid, "id", o.id, "err", err)
			continue
		}
		s.sealLocked(o, attrs, enc)
		s.mu.Unlock()
		encrypted = true
	}
	if encrypted {
		s.saveState() // the sender's sessions changed
	}
}

// bundleForLocked returns the prekey bundle sender builds its session with
// the device from: none (and true) when it has a session to reuse, none and
// false when the device has uploaded no keys yet. The bundle takes one of
// the device's one-time prekeys. s.mu must be held.
func (s *Server) bundleForLocked(dev *device, sender *peer) (waBinary.Node, bool) {
	if sender.hasSession(dev.jid) {
		return waBinary.Node{}, true
	}
	if dev.keys == nil {
		return waBinary.Node{}, false
	}
	bundle := dev.keys.bundleNode(dev.jid)
	dev.prekeys = len(dev.keys.prekeys)
	return bundle, true
}

// sealLocked makes enc the copy of o that goes out, and counts it. s.mu must
// be held.
func (s *Server) sealLocked(o *outgoing, attrs waBinary.Attrs, enc waBinary.Node) {
	if o.mediaType != "" {
		enc.Attrs["mediatype"] = o.mediaType
	}
	o.attrs, o.enc = attrs, enc
	if enc.Attrs["type"] == "pkmsg" {
		s.recvStats.PreKeyMessages++
	} else {
		s.recvStats.SignalMessages++
	}
}

// incomingAttrsLocked returns the attrs of the <message> that carries o to
// the device: from the sender's phone number, or from its LID with the phone
// number in sender_pn once the device is past its account's LID migration.
// The account's own phone writes from the account's own device 0, which
// whatsmeow recognises by either address. s.mu must be held.
func (s *Server) incomingAttrsLocked(dev *device, o *outgoing) waBinary.Attrs {
	pn := types.JID{User: o.from.user, Server: types.DefaultUserServer}
	attrs := waBinary.Attrs{"from": pn, "id": o.id, "t": o.t, "type": o.typ}
	if s.lidMigration && dev.historySynced {
		attrs["from"] = types.JID{User: o.from.lid, Server: types.HiddenUserServer}
		if o.from.user != dev.jid.User {
			attrs["sender_pn"] = pn
		}
	}
	return attrs
}

// node is the <message> stanza of o's current copy; offline marks one the
// server delivers from the offline queue at a login, with the attribute
// the real server sets on those (whatsmeow does not read it).
func (o *outgoing) node(offline bool) waBinary.Node {
	attrs := make(waBinary.Attrs, len(o.attrs)+1)
	for k, v := range o.attrs {
		attrs[k] = v
	}
	if offline {
		attrs["offline"] = "1"
	}
	return waBinary.Node{Tag: "message", Attrs: attrs, Content: []waBinary.Node{o.enc}}
}

// liveSocksLocked returns the live sockets of the device. s.mu must be held.
func (s *Server) liveSocksLocked(jid string) []*sock {
	var out []*sock
	for c := range s.socks {
		if c.live && c.loggedIn && c.jid == jid {
			out = append(out, c)
		}
	}
	return out
}

// handleReceipt takes a <receipt> from a logged-in companion: it records it,
// takes the messages a delivery receipt confirms off the device's outbox,
// acks it as the real server does, and has the sender answer a retry
// receipt.
func (s *Server) handleReceipt(c *sock, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	typ, _ := node.Attrs["type"].(string)
	ids := receiptIDs(id, node)
	now := time.Now()

	s.mu.Lock()
	if !c.loggedIn || id == "" {
		s.mu.Unlock()
		return
	}
	dev := s.devices[c.jid]
	for _, rid := range ids {
		s.receipts = append(s.receipts, Receipt{ID: rid, From: c.jid, Type: typ, At: now})
	}
	if len(s.receipts) > maxReceived {
		s.receipts = append(s.receipts[:0], s.receipts[len(s.receipts)-maxReceived/2:]...)
	}
	if dev != nil && confirmsDelivery(typ) {
		before := len(dev.outbox)
		dev.outbox = slices.DeleteFunc(dev.outbox, func(o *outgoing) bool { return o.sent && slices.Contains(ids, o.id) })
		s.recvStats.Confirmed += before - len(dev.outbox)
	}
	s.mu.Unlock()

	ack := waBinary.Attrs{"class": "receipt", "id": id}
	if to, ok := node.Attrs["to"]; ok {
		ack["from"] = to
	}
	if typ != "" {
		ack["type"] = typ
	}
	_ = c.sendNode(waBinary.Node{Tag: "ack", Attrs: ack})
	if typ == "retry" && dev != nil {
		if err := s.answerRetry(dev, node); err != nil {
			c.log.Warn("fakewa: a retry receipt went unanswered", "device", c.jid, "id", id, "err", err)
		}
	}
}

// receiptIDs returns the message IDs a receipt names: its id, and those of
// its <list> of items when it names several.
func receiptIDs(id string, node *waBinary.Node) []string {
	ids := []string{id}
	if list, ok := node.GetOptionalChildByTag("list"); ok {
		for _, item := range list.GetChildren() {
			if itemID, ok := item.Attrs["id"].(string); ok && item.Tag == "item" {
				ids = append(ids, itemID)
			}
		}
	}
	return ids
}

// confirmsDelivery reports whether a receipt of this type tells that the
// device has the message: whatsmeow's delivery receipt has no type, or
// "inactive" when the client is not marked online, or "sender" (and
// "peer_msg") for a message of the account's own device.
func confirmsDelivery(typ string) bool {
	switch typ {
	case "", "inactive", "sender", "peer_msg":
		return true
	}
	return false
}

// answerRetry has the sender of a message the device could not decrypt
// encrypt it again, as whatsmeow answers a retry receipt: with a session
// built from the keys the receipt carries, from a fresh prekey bundle when
// it has no session with the device, or else with the session it has; and
// sends it with the retry count on its <enc>.
func (s *Server) answerRetry(dev *device, receipt *waBinary.Node) error {
	retry, ok := receipt.GetOptionalChildByTag("retry")
	if !ok {
		return fmt.Errorf("retry receipt without <retry>")
	}
	ag := retry.AttrGetter()
	id, count := ag.String("id"), ag.Int("count")
	if !ag.OK() {
		return fmt.Errorf("retry receipt: %w", ag.Error())
	}

	dev.deliverMu.Lock()
	defer dev.deliverMu.Unlock()
	s.mu.Lock()
	i := slices.IndexFunc(dev.outbox, func(o *outgoing) bool { return o.id == id && o.sent })
	if i < 0 {
		s.mu.Unlock()
		return fmt.Errorf("message %s is not pending for the device", id)
	}
	o := dev.outbox[i]
	if o.retries >= maxRetries {
		s.mu.Unlock()
		return fmt.Errorf("message %s: %d retries answered already", id, o.retries)
	}
	o.retries++
	var bundle waBinary.Node
	if keys, ok := receipt.GetOptionalChildByTag("keys"); ok {
		bundle = waBinary.Node{Tag: "user", Content: append([]waBinary.Node{receipt.GetChildByTag("registration")}, keys.GetChildren()...)}
	} else {
		bundle, _ = s.bundleForLocked(dev, o.sender)
	}
	attrs := s.incomingAttrsLocked(dev, o)
	s.mu.Unlock()

	enc, err := o.sender.encrypt(dev.jid, bundle, o.plain)
	if err != nil {
		return fmt.Errorf("encrypt message %s again: %w", id, err)
	}
	enc.Attrs["count"] = strconv.Itoa(count)
	s.mu.Lock()
	s.sealLocked(o, attrs, enc)
	s.recvStats.Retries++
	msg := o.node(false)
	socks := s.liveSocksLocked(dev.jid.String())
	s.mu.Unlock()
	s.saveState()
	for _, c := range socks {
		_ = c.sendNode(msg)
	}
	return nil
}
