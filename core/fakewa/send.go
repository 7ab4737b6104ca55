package fakewa

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// Sending: messages from a companion. (Receiving, messages to a companion
// from simulated devices, is in receive.go.) A companion sends a one-to-one message the way it does to the real
// server: it asks usync for the devices of the recipient and of its own
// account, fetches a prekey bundle for every device it has no Signal session
// with, encrypts the message for each, and sends one <message> with an <enc>
// per device. The server decrypts each <enc> with the simulated device's keys
// (see peer), acks the message, and after Config.DeliveryDelay the
// recipient's phone sends the delivery receipt.
//
// A client addresses a device by phone number (PN:dev@s.whatsapp.net) or,
// past its account's LID migration, by LID (LID:dev@lid): the server takes
// both for the same device. A simulated device keys its Signal sessions by
// the sender's phone-number address whichever address the client used, as
// the ciphertext does not depend on it.
//
// Device lists hold every device of an account (see deviceListLocked): its
// phone (device 0), its simulated devices, and its paired companions, so that
// a companion's other companions get a copy of what it sends. A simulated
// device decrypts its copy; a companion's logged-in sockets get theirs as an
// incoming <message> (a companion that is offline misses it: the server
// does not queue a companion's copies of its own sends, only what simulated
// devices send it, see receive.go).

// Defaults of the sending simulation.
const (
	defaultDeliveryDelay = 50 * time.Millisecond
	maxReceived          = 10_000 // Received keeps the newest this many
)

// SendFault is a wrong answer of the server to a companion's next message.
type SendFault int

// The send faults.
const (
	// SendRateLimited answers with <ack error="429">: nothing is delivered.
	SendRateLimited SendFault = iota + 1
	// SendNoAck swallows the message: no ack, nothing delivered.
	SendNoAck
	// SendDrop closes the socket the moment the message arrives, before any
	// ack: nothing is delivered.
	SendDrop
	// SendNoReceipt delivers and acks the message, but the recipient's phone
	// never confirms it.
	SendNoReceipt
)

var sendFaultNames = map[SendFault]string{
	SendRateLimited: "rate limited (429)",
	SendNoAck:       "no ack",
	SendDrop:        "drop before the ack",
	SendNoReceipt:   "no delivery receipt",
}

func (f SendFault) String() string {
	if name, ok := sendFaultNames[f]; ok {
		return name
	}
	return "SendFault(" + strconv.Itoa(int(f)) + ")"
}

// Message is one message as a simulated device decrypted it.
type Message struct {
	ID     string    // the message ID the companion chose
	From   string    // the sending device's JID
	To     string    // the chat as addressed: the recipient's JID or LID (for a copy on the sender's own phone, still the recipient)
	Device string    // the device that decrypted it
	Text   string    // the text of the message
	Copy   bool      // the sender's own phone got it as a copy (DeviceSentMessage)
	At     time.Time // when the server got it
}

// SendStats are the server's counters of messages.
type SendStats struct {
	Messages        int // <message> stanzas accepted and acked, duplicates not counted
	Duplicates      int // a message ID the device had sent already: acked again, not delivered again
	Decrypted       int // <enc> nodes a simulated device decrypted
	DecryptFailures int // <enc> nodes a simulated device could not decrypt
	Undeliverable   int // <enc> nodes for a device the server does not know
}

// AddContact makes phone (digits, any punctuation ignored) a WhatsApp user
// with the given number of devices: its phone (device 0) and devices-1
// companions of its own, each with Signal keys, that decrypt what they get and
// confirm delivery. With 0 devices the number is on WhatsApp but nothing can
// receive: usync lists no device of it, and a message sent to it anyway is
// acked, as by the real server, but never delivered or confirmed. Calling it
// again changes the number of devices.
func (s *Server) AddContact(phone string, devices int) error {
	user := digitsOnly(phone)
	if len(user) < 7 || len(user) > 15 {
		return fmt.Errorf("fakewa: add contact %q: want a phone number of 7 to 15 digits", phone)
	}
	if devices < 0 || devices > 16 {
		return fmt.Errorf("fakewa: add contact %q: %d devices, want 0 to 16", phone, devices)
	}
	s.mu.Lock()
	p := s.phoneLocked(user)
	p.setDevices(devices)
	s.mu.Unlock()
	s.saveState()
	return nil
}

// FailNextSend makes the next message the device (a JID as ScanQR returns it)
// sends get f instead of the normal answer. It fails for a device the server
// does not know.
func (s *Server) FailNextSend(jid string, f SendFault) error {
	if _, ok := sendFaultNames[f]; !ok {
		return fmt.Errorf("fakewa: fail next send: unknown fault %v", f)
	}
	key := normJID(jid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.devices[key] == nil {
		return fmt.Errorf("fakewa: fail next send of %s: %w", jid, ErrUnknownDevice)
	}
	s.failSend[key] = f
	return nil
}

// Received returns the messages the devices of phone decrypted, oldest first:
// one entry per device and message.
func (s *Server) Received(phone string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ofUser(s.received, phone, func(m Message) string { return m.Device })
}

// ofUser returns the entries of list whose device (a JID, read by jid)
// belongs to the user with this phone number.
func ofUser[T any](list []T, phone string, jid func(T) string) []T {
	user := digitsOnly(phone)
	var out []T
	for _, e := range list {
		if dev, err := types.ParseJID(jid(e)); err == nil && dev.User == user {
			out = append(out, e)
		}
	}
	return out
}

// SendStats returns the message counters.
func (s *Server) SendStats() SendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendStats
}

func digitsOnly(phone string) string {
	var b strings.Builder
	for _, r := range phone {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// setDevices gives the phone n simulated devices, keeping those it has.
func (p *phone) setDevices(n int) {
	for len(p.peers) < n {
		p.peers = append(p.peers, newPeer(p, uint16(len(p.peers))))
	}
	p.peers = p.peers[:n]
}

// peerLocked returns the simulated device with this JID, by phone number or
// by LID ("LID:2@lid" is the same device as "PN:2@s.whatsapp.net"), or nil.
// s.mu must be held.
func (s *Server) peerLocked(jid types.JID) *peer {
	p := s.accountLocked(jid)
	if p == nil || int(jid.Device) >= len(p.peers) {
		return nil
	}
	return p.peers[jid.Device]
}

// accountLocked returns the simulated phone of the account of jid, a phone
// number or a LID, or nil. s.mu must be held.
func (s *Server) accountLocked(jid types.JID) *phone {
	switch jid.Server {
	case types.DefaultUserServer:
		return s.phones[jid.User]
	case types.HiddenUserServer:
		return s.lids[jid.User]
	}
	return nil
}

// pnLocked returns jid by phone number: the same device of the same account
// when jid is a known LID, else jid. s.mu must be held.
func (s *Server) pnLocked(jid types.JID) types.JID {
	if jid.Server != types.HiddenUserServer {
		return jid
	}
	if p := s.lids[jid.User]; p != nil {
		return types.JID{User: p.user, Device: jid.Device, Server: types.DefaultUserServer}
	}
	return jid
}

// lidLocked returns jid by LID: the same device of the same account when
// jid is a known phone number, else jid. s.mu must be held.
func (s *Server) lidLocked(jid types.JID) types.JID {
	if jid.Server != types.DefaultUserServer {
		return jid
	}
	if p := s.phones[jid.User]; p != nil {
		return types.JID{User: p.lid, Device: jid.Device, Server: types.HiddenUserServer}
	}
	return jid
}

// usync answers a usync query: the devices, the contact (is the number on
// WhatsApp) and the LID of each user asked about, by phone number or by LID.
func (s *Server) usync(id string, q waBinary.Node) waBinary.Node {
	query := q.GetChildByTag("query")
	var users []waBinary.Node
	seen := make(map[types.JID]bool)
	now := s.now()
	s.mu.Lock()
	list := q.GetChildByTag("list")
	for _, u := range list.GetChildren() {
		jid, _ := u.Attrs["jid"].(types.JID)
		var contact string
		if c, ok := u.GetOptionalChildByTag("contact"); ok {
			switch v := c.Content.(type) {
			case []byte:
				contact = string(v)
			case string:
				contact = v
			}
			jid = types.JID{User: digitsOnly(strings.TrimSuffix(contact, "@"+types.LegacyUserServer)), Server: types.DefaultUserServer}
		}
		jid = jid.ToNonAD()
		if jid.User == "" || seen[jid] {
			continue
		}
		seen[jid] = true
		p := s.accountLocked(jid)
		var content []waBinary.Node
		for _, want := range query.GetChildren() {
			switch want.Tag {
			case "devices":
				if p == nil {
					content = append(content, waBinary.Node{Tag: "devices", Content: []waBinary.Node{{Tag: "device-list"}}})
				} else {
					content = append(content, s.deviceListLocked(p, now))
				}
			case "contact":
				typ := "out"
				if p != nil {
					typ = "in"
				}
				content = append(content, waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}, Content: []byte(contact)})
			case "lid":
				if p != nil {
					content = append(content, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": types.JID{User: p.lid, Server: types.HiddenUserServer}}})
				}
			}
		}
		users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: content})
	}
	s.mu.Unlock()
	attrs := waBinary.Attrs{}
	for _, k := range []string{"sid", "mode", "context", "index", "last"} {
		if v, ok := q.Attrs[k]; ok {
			attrs[k] = v
		}
	}
	return resultNode(id, waBinary.Node{Tag: "usync", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "result"},
		{Tag: "list", Content: users},
	}})
}

// prekeyBundles answers <iq xmlns="encrypt" type="get"><key>: a bundle for each
// simulated device or companion asked for, by phone number or by LID, an
// error for any other.
func (s *Server) prekeyBundles(id string, key waBinary.Node) waBinary.Node {
	var users []waBinary.Node
	for _, u := range key.GetChildren() {
		jid, _ := u.Attrs["jid"].(types.JID)
		s.mu.Lock()
		pr := s.peerLocked(jid)
		var companion waBinary.Node
		if dev := s.devices[s.pnLocked(jid).String()]; pr == nil && dev != nil && dev.keys != nil {
			companion = dev.keys.bundleNode(jid)
			dev.prekeys = len(dev.keys.prekeys)
		}
		s.mu.Unlock()
		if companion.Tag != "" {
			users = append(users, companion)
			continue
		}
		if pr == nil {
			users = append(users, waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: []waBinary.Node{
				{Tag: "error", Attrs: waBinary.Attrs{"code": "404", "text": "item-not-found"}},
			}})
			continue
		}
		users = append(users, pr.bundleNode(jid))
	}
	s.saveState()
	return resultNode(id, waBinary.Node{Tag: "list", Content: users})
}

// handleMessage takes a <message> from a logged-in companion: it decrypts
// every <enc> meant for a simulated device, acks, and schedules the delivery
// receipt, unless a send fault says otherwise.
func (s *Server) handleMessage(c *sock, node *waBinary.Node) {
	id, _ := node.Attrs["id"].(string)
	to, _ := node.Attrs["to"].(types.JID)
	now := time.Now()

	s.mu.Lock()
	if !c.loggedIn || id == "" {
		s.mu.Unlock()
		return
	}
	sender := c.jid
	fault := s.failSend[sender]
	delete(s.failSend, sender)
	key := sender + " " + id
	if t, dup := s.acked[key]; dup && fault == 0 {
		s.sendStats.Duplicates++
		s.mu.Unlock()
		c.log.Debug("fakewa: duplicate message, acked again", "from", sender, "id", id)
		_ = c.sendNode(ackNode(id, to, t, 0))
		return
	}
	type target struct {
		peer *peer
		enc  waBinary.Node
	}
	type forward struct {
		from  types.JID // the sender, in the addressing of dest
		dest  types.JID
		socks []*sock
		enc   waBinary.Node
	}
	var targets []target
	var forwards []forward
	participants := node.GetChildByTag("participants")
	for _, dest := range participants.GetChildren() {
		jid, _ := dest.Attrs["jid"].(types.JID)
		if pr := s.peerLocked(jid); pr != nil {
			targets = append(targets, target{pr, dest.GetChildByTag("enc")})
			continue
		}
		if pn := s.pnLocked(jid).String(); s.devices[pn] != nil && pn != sender {
			// A companion of a paired account, such as another companion
			// of the sender's phone: its logged-in sockets get the copy,
			// from the sender's LID when it was addressed by LID.
			from, _ := types.ParseJID(sender)
			if dev := s.devices[sender]; dev != nil && jid.Server == types.HiddenUserServer {
				from = dev.lid
			}
			var socks []*sock
			for o := range s.socks {
				if o.loggedIn && o.jid == pn {
					socks = append(socks, o)
				}
			}
			forwards = append(forwards, forward{from, jid, socks, dest.GetChildByTag("enc")})
			continue
		}
		s.sendStats.Undeliverable++
	}
	toPN, toLID := s.pnLocked(to), s.lidLocked(to)
	s.mu.Unlock()

	senderJID, _ := types.ParseJID(sender)
	switch fault {
	case SendRateLimited:
		c.log.Debug("fakewa: message refused on command: rate limited", "from", sender, "id", id)
		_ = c.sendNode(ackNode(id, to, now, 429))
		return
	case SendNoAck:
		c.log.Debug("fakewa: message swallowed on command", "from", sender, "id", id)
		return
	case SendDrop:
		c.log.Debug("fakewa: socket dropped on command as a message arrived", "from", sender, "id", id)
		c.closeNow()
		return
	}

	var got []Message
	var decrypted, failures int
	have := make(map[types.JID]bool) // a device listed twice decrypts both, keeps one
	for _, t := range targets {
		plain, err := t.peer.decrypt(senderJID, t.enc)
		if err != nil {
			failures++
			c.log.Warn("fakewa: a simulated device could not decrypt a message", "device", t.peer.jid.String(), "from", sender, "id", id, "err", err)
			continue
		}
		decrypted++
		m := Message{ID: id, From: sender, To: to.String(), Device: t.peer.jid.String(), At: now}
		if err := readText(plain, &m); err != nil {
			failures++
			c.log.Warn("fakewa: a simulated device got a message it could not parse", "device", m.Device, "id", id, "err", err)
			continue
		}
		if !have[t.peer.jid] {
			have[t.peer.jid] = true
			got = append(got, m)
		}
	}

	s.mu.Lock()
	s.acked[key] = now
	s.sendStats.Messages++
	s.sendStats.Decrypted += decrypted
	s.sendStats.DecryptFailures += failures
	s.received = append(s.received, got...)
	if len(s.received) > maxReceived {
		s.received = append(s.received[:0], s.received[len(s.received)-maxReceived/2:]...)
	}
	s.mu.Unlock()
	s.saveState()

	_ = c.sendNode(ackNode(id, to, now, 0))
	for _, f := range forwards {
		msg := incomingNode(node, f.from, senderJID, to, toPN, toLID, f.dest, now, f.enc)
		for _, o := range f.socks {
			_ = o.sendNode(msg)
		}
	}
	// The recipient's phone confirms once one of its devices has the message;
	// to one's own number, that is the sender's own phone.
	delivered := false
	for _, m := range got {
		if dev, _ := types.ParseJID(m.Device); dev.User == toPN.User {
			delivered = true
		}
	}
	if delivered && fault != SendNoReceipt && s.deliveryDelay >= 0 {
		s.receiptAfter(sender, to.ToNonAD(), id, s.deliveryDelay)
	}
}

// incomingNode is the <message> a companion gets of a message another device
// sent: the sender (from, as dest was addressed; senderPN by phone number),
// the chat (recipient, when the sender is another device of the companion
// dest's own account, with the chat's other address as the real server adds
// it), and the <enc> meant for it, with the sender's device identity when the
// sender included it.
func incomingNode(sent *waBinary.Node, from, senderPN, to, toPN, toLID, dest types.JID, at time.Time, enc waBinary.Node) waBinary.Node {
	attrs := waBinary.Attrs{"from": from, "id": sent.Attrs["id"], "t": strconv.FormatInt(at.Unix(), 10), "type": "text"}
	if dest.User == from.User {
		attrs["recipient"] = to.ToNonAD()
		if to.Server == types.HiddenUserServer && toPN.Server == types.DefaultUserServer {
			attrs["peer_recipient_pn"] = toPN.ToNonAD()
		} else if to.Server == types.DefaultUserServer && toLID.Server == types.HiddenUserServer {
			attrs["peer_recipient_lid"] = toLID.ToNonAD()
		}
	} else if from.Server == types.HiddenUserServer {
		attrs["sender_pn"] = senderPN.ToNonAD()
	}
	if typ, ok := sent.Attrs["type"]; ok {
		attrs["type"] = typ
	}
	content := []waBinary.Node{enc}
	if ident, ok := sent.GetOptionalChildByTag("device-identity"); ok {
		content = append(content, ident)
	}
	return waBinary.Node{Tag: "message", Attrs: attrs, Content: content}
}

// readText fills in m's text from a decrypted message.
func readText(plain []byte, m *Message) error {
	msg := &waE2E.Message{}
	if err := proto.Unmarshal(plain, msg); err != nil {
		return err
	}
	if dsm := msg.GetDeviceSentMessage(); dsm != nil {
		m.Copy = true
		m.To = dsm.GetDestinationJID()
		msg = dsm.GetMessage()
	}
	switch {
	case msg.Conversation != nil:
		m.Text = msg.GetConversation()
	case msg.ExtendedTextMessage != nil:
		m.Text = msg.GetExtendedTextMessage().GetText()
	default:
		return errors.New("not a text message")
	}
	return nil
}

// receiptAfter sends the recipient's delivery receipt to the sender's
// logged-in sockets after d: the sockets it has then, as the real server
// routes a receipt to the device, not to the socket that sent.
func (s *Server) receiptAfter(sender string, from types.JID, id string, d time.Duration) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		var socks []*sock
		for c := range s.socks {
			if c.loggedIn && c.jid == sender {
				socks = append(socks, c)
			}
		}
		s.mu.Unlock()
		receipt := waBinary.Node{Tag: "receipt", Attrs: waBinary.Attrs{
			"from": from,
			"id":   id,
			"t":    strconv.FormatInt(time.Now().Unix(), 10),
		}}
		for _, c := range socks {
			_ = c.sendNode(receipt)
		}
	}()
}

func ackNode(id string, to types.JID, t time.Time, code int) waBinary.Node {
	attrs := waBinary.Attrs{"class": "message", "id": id, "t": strconv.FormatInt(t.Unix(), 10)}
	if !to.IsEmpty() {
		attrs["from"] = to
	}
	if code != 0 {
		attrs["error"] = strconv.Itoa(code)
	}
	return waBinary.Node{Tag: "ack", Attrs: attrs}
}
