package fakewa_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"warden/core/fakewa"
)

const contact = "15550100200"

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func userJID(phone string) types.JID { return types.NewJID(phone, types.DefaultUserServer) }

// ownUser returns the phone number of a device JID.
func ownUser(t *testing.T, jid string) string {
	t.Helper()
	parsed, err := types.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.User
}

// waitReceipt waits for the delivery receipt of the message id.
func waitReceipt(t *testing.T, c *client, id string) *events.Receipt {
	t.Helper()
	for {
		r := waitEvent[*events.Receipt](t, c)
		if len(r.MessageIDs) > 0 && r.MessageIDs[0] == id {
			return r
		}
	}
}

func TestSendIsDecryptedByEveryDeviceAndConfirmed(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 40})
	if err := s.AddContact("+1 555 0100 200", 2); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	ctx := context.Background()

	// Two messages: the first builds Signal sessions from prekey bundles
	// (pkmsg), the second uses them (msg).
	var ids []string
	for _, body := range []string{"hello", "again"} {
		before := time.Now().Truncate(time.Second)
		resp, err := c.SendMessage(ctx, userJID(contact), text(body))
		if err != nil {
			t.Fatalf("SendMessage(%q): %v", body, err)
		}
		if resp.Timestamp.Before(before) || resp.Timestamp.After(time.Now()) {
			t.Errorf("ack time %v is not the server's time of now", resp.Timestamp)
		}
		r := waitReceipt(t, c, resp.ID)
		if r.Type != types.ReceiptTypeDelivered || r.Chat.User != contact {
			t.Errorf("receipt = type %q chat %s, want a delivery receipt from %s", r.Type, r.Chat, contact)
		}
		ids = append(ids, resp.ID)
	}

	got := s.Received(contact)
	if len(got) != 4 {
		t.Fatalf("contact's devices decrypted %d messages, want 2 devices × 2: %+v", len(got), got)
	}
	perDevice := map[string][]string{}
	for _, m := range got {
		if m.From != jid || m.Copy {
			t.Errorf("message %+v: want from %s, not a copy", m, jid)
		}
		perDevice[m.Device] = append(perDevice[m.Device], m.Text)
	}
	for _, dev := range []string{contact + "@s.whatsapp.net", contact + ":1@s.whatsapp.net"} {
		if strings.Join(perDevice[dev], ",") != "hello,again" {
			t.Errorf("device %s decrypted %q, want hello,again", dev, perDevice[dev])
		}
	}

	// The sender's own phone got a copy of each, addressed to the contact.
	own := s.Received(ownUser(t, jid))
	if len(own) != 2 || !own[0].Copy || own[0].Text != "hello" || !strings.HasPrefix(own[0].To, contact) || own[0].ID != ids[0] {
		t.Errorf("own phone got %+v, want copies of both messages to %s", own, contact)
	}
	if st := s.SendStats(); st.Messages != 2 || st.Decrypted != 6 || st.DecryptFailures != 0 || st.Duplicates != 0 {
		t.Errorf("stats = %+v, want 2 messages, 6 decrypted, no failures", st)
	}
}

func TestSendToOwnNumberReachesThePhone(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 41})
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	resp, err := c.SendMessage(context.Background(), userJID(me), text("self-check"))
	if err != nil {
		t.Fatalf("SendMessage to own number: %v", err)
	}
	got := s.Received(me)
	if len(got) != 1 || got[0].Text != "self-check" || got[0].Device != me+"@s.whatsapp.net" {
		t.Fatalf("own phone got %+v, want the message on device 0", got)
	}
	waitReceipt(t, c, resp.ID)
}

func TestResentMessageIsAckedButNotDeliveredTwice(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 42})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, _ := pairByQR(t, s, 1)
	ctx := context.Background()
	first, err := c.SendMessage(ctx, userJID(contact), text("once"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.SendMessage(ctx, userJID(contact), text("once"), whatsmeow.SendRequestExtra{ID: first.ID})
	if err != nil {
		t.Fatalf("resend: %v", err)
	}
	if !second.Timestamp.Equal(first.Timestamp) {
		t.Errorf("resend acked at %v, first at %v: want the first ack's time", second.Timestamp, first.Timestamp)
	}
	if got := s.Received(contact); len(got) != 1 {
		t.Errorf("contact got %d messages, want 1", len(got))
	}
	if st := s.SendStats(); st.Messages != 1 || st.Duplicates != 1 {
		t.Errorf("stats = %+v, want 1 message and 1 duplicate", st)
	}
}

func TestSendFaults(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 43})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	ctx := context.Background()
	send := func(f fakewa.SendFault) (whatsmeow.SendResponse, error) {
		t.Helper()
		if err := s.FailNextSend(jid, f); err != nil {
			t.Fatal(err)
		}
		return c.SendMessage(ctx, userJID(contact), text(f.String()), whatsmeow.SendRequestExtra{Timeout: 500 * time.Millisecond})
	}

	if _, err := send(fakewa.SendRateLimited); !errors.Is(err, whatsmeow.ErrServerReturnedError) || !strings.HasSuffix(err.Error(), " 429") {
		t.Errorf("rate limited: err = %v, want server error 429", err)
	}
	if _, err := send(fakewa.SendNoAck); !errors.Is(err, whatsmeow.ErrMessageTimedOut) {
		t.Errorf("no ack: err = %v, want ErrMessageTimedOut", err)
	}
	if got := s.Received(contact); len(got) != 0 {
		t.Errorf("refused messages were delivered: %+v", got)
	}

	// The next message goes through normally.
	resp, err := c.SendMessage(ctx, userJID(contact), text("fine"))
	if err != nil {
		t.Fatalf("send after the faults: %v", err)
	}
	waitReceipt(t, c, resp.ID)

	// Acked and delivered, but the phone never confirms.
	resp, err = send(fakewa.SendNoReceipt)
	if err != nil {
		t.Fatalf("no receipt: %v", err)
	}
	timeout := time.After(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case evt := <-c.events:
			if r, ok := evt.(*events.Receipt); ok && r.MessageIDs[0] == resp.ID {
				t.Fatalf("got a receipt for a message whose phone never confirms: %+v", r)
			}
		case <-timeout:
			done = true
		}
	}
	if got := s.Received(contact); len(got) != 2 || got[1].Text != "no delivery receipt" {
		t.Errorf("contact got %+v, want the normal message and the unconfirmed one", got)
	}

	// A drop as the message arrives: the send fails and nothing arrives.
	if _, err := send(fakewa.SendDrop); err == nil {
		t.Error("send on a dropped socket succeeded")
	}
	waitEvent[*events.Disconnected](t, c)
	if got := s.Received(contact); len(got) != 2 {
		t.Errorf("a dropped message was delivered: %+v", got)
	}

	if err := s.FailNextSend("19990000000:1@s.whatsapp.net", fakewa.SendNoAck); !errors.Is(err, fakewa.ErrUnknownDevice) {
		t.Errorf("FailNextSend of an unknown device: %v, want ErrUnknownDevice", err)
	}
	if err := s.FailNextSend(jid, fakewa.SendFault(99)); err == nil {
		t.Error("FailNextSend accepted an unknown fault")
	}
}

func TestUsyncTellsUnknownNumbersAndDevicelessOnes(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 44})
	if err := s.AddContact(contact, 3); err != nil {
		t.Fatal(err)
	}
	if err := s.AddContact("15550100300", 0); err != nil {
		t.Fatal(err)
	}
	c, _, _ := pairByQR(t, s, 1)
	ctx := context.Background()

	on, err := c.IsOnWhatsApp(ctx, []string{"+" + contact, "+15550100404", "+15550100300"})
	if err != nil {
		t.Fatalf("IsOnWhatsApp: %v", err)
	}
	want := map[string]bool{contact: true, "15550100404": false, "15550100300": true}
	if len(on) != 3 {
		t.Fatalf("IsOnWhatsApp answered %d users, want 3: %+v", len(on), on)
	}
	for _, r := range on {
		if r.IsIn != want[r.JID.User] || r.Query != "+"+r.JID.User {
			t.Errorf("IsOnWhatsApp: %+v, want in=%v", r, want[r.JID.User])
		}
	}

	devices, err := c.GetUserDevices(ctx, []types.JID{userJID(contact), userJID("15550100300"), userJID("15550100404")})
	if err != nil {
		t.Fatalf("GetUserDevices: %v", err)
	}
	if len(devices) != 3 || devices[0].User != contact || devices[2].Device != 2 {
		t.Errorf("devices = %v, want the contact's 3 and none of the others", devices)
	}

	info, err := c.GetUserInfo(ctx, []types.JID{userJID(contact)})
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if lid := info[userJID(contact)].LID; lid.Server != types.HiddenUserServer || lid.User == "" {
		t.Errorf("contact's LID = %v, want a LID", lid)
	}

	for _, bad := range []struct {
		phone   string
		devices int
	}{{"12", 1}, {contact, -1}, {contact, 17}} {
		if err := s.AddContact(bad.phone, bad.devices); err == nil {
			t.Errorf("AddContact(%q, %d) accepted", bad.phone, bad.devices)
		}
	}
}

func TestNoDeliveryReceiptsWhenDelayIsNegative(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 45, DeliveryDelay: -1})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, _ := pairByQR(t, s, 1)
	if _, err := c.SendMessage(context.Background(), userJID(contact), text("unconfirmed")); err != nil {
		t.Fatal(err)
	}
	noEvent[*events.Receipt](t, c, 300*time.Millisecond)
	if got := s.Received(contact); len(got) != 1 {
		t.Errorf("contact got %d messages, want 1", len(got))
	}
}

func TestSignalSessionsSurviveARestart(t *testing.T) {
	for i, tc := range []struct {
		name         string
		lidMigration bool
	}{
		{"by phone number", false},
		{"by LID", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "fakewa.json")
			cfg := fakewa.Config{Seed: 46 + 100*int64(i), StatePath: path, LIDMigration: tc.lidMigration}
			first := newServer(t, cfg)
			if err := first.AddContact(contact, 1); err != nil {
				t.Fatal(err)
			}
			c, container, jid := pairByQR(t, first, 1)
			if tc.lidMigration {
				waitUntil(t, "the phone's history sync set the LID migration time", func() bool {
					return c.Store.LIDMigrationTimestamp > 0
				})
			}
			ctx := context.Background()
			if _, err := c.SendMessage(ctx, userJID(contact), text("before")); err != nil {
				t.Fatal(err)
			}
			c.Disconnect()
			first.Close()

			second := newServer(t, cfg)
			dev, err := container.GetFirstDevice(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c2 := newClient(t, second, dev)
			if err := c2.Connect(); err != nil {
				t.Fatal(err)
			}
			waitEvent[*events.Connected](t, c2)
			// The client keeps its Signal sessions and sends a plain msg
			// (by LID when it had migrated): the restarted server must
			// still know the addresses and decrypt it.
			if _, err := c2.SendMessage(ctx, userJID(contact), text("after")); err != nil {
				t.Fatal(err)
			}
			got := second.Received(contact)
			if len(got) != 1 || got[0].Text != "after" || got[0].From != jid {
				t.Errorf("after the restart the contact got %+v, want \"after\" from %s", got, jid)
			}
			if byLID := len(got) == 1 && strings.HasSuffix(got[0].To, "@"+types.HiddenUserServer); byLID != tc.lidMigration {
				t.Errorf("after the restart the message went to %+v, want by LID %v", got, tc.lidMigration)
			}
			if st := second.SendStats(); st.DecryptFailures != 0 {
				t.Errorf("decrypt failures after the restart: %+v", st)
			}
		})
	}
}

// Messages to fresh devices from several senders, and again to the same
// devices, all decrypt whether the devices have one-time prekeys to spare,
// run out of them (one each: handed out once, then topped up as the device
// reads), or have none (bundles with the signed prekey alone). The sender's
// own phone, listed twice when it sends to its own number, reads every
// message too.
func TestRepeatedSendsToFreshDevicesAllDecrypt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		preKeys int
	}{
		{"default pool", 0},
		{"one prekey each", 1},
		{"no one-time prekeys", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, fakewa.Config{Seed: 43, OneTimePreKeys: tc.preKeys, DeliveryDelay: -1})
			if err := s.AddContact(contact, 2); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for i := range 3 {
				c, _, jid := pairByQR(t, s, 1)
				me := ownUser(t, jid)
				for _, to := range []string{contact, me, contact, me} {
					if _, err := c.SendMessage(ctx, userJID(to), text("again")); err != nil {
						t.Fatalf("sender %d: SendMessage to %s: %v", i, to, err)
					}
				}
				if got := len(s.Received(me)); got != 4 {
					t.Errorf("sender %d: own phone decrypted %d messages, want 4 (2 to it, 2 copies)", i, got)
				}
			}
			if got := len(s.Received(contact)); got != 12 {
				t.Errorf("contact's devices decrypted %d messages, want 3 senders × 2 messages × 2 devices", got)
			}
			if st := s.SendStats(); st.DecryptFailures != 0 || st.Messages != 12 {
				t.Errorf("stats = %+v, want 12 messages and no decrypt failures", st)
			}
		})
	}
}

// pairByCode links a new companion to the phone with this number, by phone
// code, and waits until it is logged in.
func pairByCode(t *testing.T, s *fakewa.Server, phone string) (*client, string) {
	t.Helper()
	c := newClient(t, s, newContainer(t).NewDevice())
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.QR](t, c)
	code, err := c.PairPhone(context.Background(), phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := s.EnterPhoneCode(phone, code); err != nil {
		t.Fatalf("EnterPhoneCode: %v", err)
	}
	jid := waitEvent[*events.PairSuccess](t, c).ID.String()
	waitEvent[*events.Connected](t, c)
	return c, jid
}

// A device list holds every device of the account, each companion with its
// key index, and the key index list the account signed; and a message reaches
// all of them: the contact's two devices, the sender's phone, and the
// sender's other companion, which decrypts its copy itself.
func TestSendReachesTheContactsAndTheSendersOwnDevices(t *testing.T) {
	const me = "15551230000"
	s := newServer(t, fakewa.Config{Seed: 54, DeliveryDelay: -1})
	if err := s.AddContact(contact, 2); err != nil {
		t.Fatal(err)
	}
	a, aJID := pairByCode(t, s, me)
	b, bJID := pairByCode(t, s, me)
	waitUntil(t, "the second companion uploaded its prekeys", func() bool {
		resp, err := sendIQ(t, b, "encrypt", "get", waBinary.Node{Tag: "count"})
		count := resp.GetChildByTag("count")
		return err == nil && count.AttrGetter().Int("value") > 0
	})

	ctx := context.Background()
	devices, err := a.GetUserDevices(ctx, []types.JID{userJID(me), userJID(contact)})
	if err != nil {
		t.Fatalf("GetUserDevices: %v", err)
	}
	var got []string
	for _, d := range devices {
		got = append(got, d.String())
	}
	slices.Sort(got)
	want := []string{contact + ":1@s.whatsapp.net", contact + "@s.whatsapp.net", aJID, bJID, me + "@s.whatsapp.net"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("GetUserDevices = %q, want %q", got, want)
	}

	resp, err := a.SendMessage(ctx, userJID(contact), text("to all my devices"))
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if n := len(s.Received(contact)); n != 2 {
		t.Errorf("contact's devices decrypted %d copies, want 2", n)
	}
	if own := s.Received(me); len(own) != 1 || !own[0].Copy {
		t.Errorf("sender's phone got %+v, want one copy", own)
	}
	for {
		m := waitEvent[*events.Message](t, b)
		if m.Info.ID != resp.ID {
			continue
		}
		if m.Message.GetConversation() != "to all my devices" || !m.Info.IsFromMe || m.Info.Chat.User != contact {
			t.Errorf("second companion got %q from me %v in chat %s, want the text, from me, in the contact's chat",
				m.Message.GetConversation(), m.Info.IsFromMe, m.Info.Chat)
		}
		break
	}
	if st := s.SendStats(); st.DecryptFailures != 0 || st.Undeliverable != 0 {
		t.Errorf("stats = %+v, want every copy delivered", st)
	}
}

// The key index list of a device list is signed by the account: the key a
// companion got at pairing verifies it, and it lists every companion's key
// index.
func TestDeviceListKeyIndexesAreSignedByTheAccount(t *testing.T) {
	const me = "15551230000"
	s := newServer(t, fakewa.Config{Seed: 55})
	a, _ := pairByCode(t, s, me)
	pairByCode(t, s, me)
	resp, err := sendIQ(t, a, "usync", "get", waBinary.Node{Tag: "usync", Attrs: waBinary.Attrs{
		"sid": "1", "mode": "query", "last": "true", "index": "0", "context": "message",
	}, Content: []waBinary.Node{
		{Tag: "query", Content: []waBinary.Node{{Tag: "devices", Attrs: waBinary.Attrs{"version": "2"}}}},
		{Tag: "list", Content: []waBinary.Node{{Tag: "user", Attrs: waBinary.Attrs{"jid": userJID(me)}}}},
	}})
	if err != nil {
		t.Fatalf("usync: %v", err)
	}
	devices := resp.GetChildByTag("usync", "list", "user", "devices")
	deviceList := devices.GetChildByTag("device-list")
	var listed []string
	for _, d := range deviceList.GetChildren() {
		ag := d.AttrGetter()
		listed = append(listed, ag.String("id")+"/"+ag.OptionalString("key-index"))
	}
	if want := []string{"0/", "1/1", "2/2"}; !slices.Equal(listed, want) {
		t.Errorf("device-list id/key-index = %q, want %q", listed, want)
	}
	kil := devices.GetChildByTag("key-index-list")
	raw, _ := kil.Content.([]byte)
	var signed waAdv.ADVSignedKeyIndexList
	if err := proto.Unmarshal(raw, &signed); err != nil {
		t.Fatalf("key-index-list: %v", err)
	}
	if len(signed.GetAccountSignature()) != 64 {
		t.Fatalf("key-index-list %x has no account signature", raw)
	}
	accountKey := [32]byte(a.Store.Account.GetAccountSignatureKey())
	msg := append([]byte{6, 2}, signed.GetDetails()...)
	if !ecc.VerifySignature(ecc.NewDjbECPublicKey(accountKey), msg, [64]byte(signed.GetAccountSignature())) {
		t.Error("the key index list's signature does not verify with the account's key")
	}
	var details waAdv.ADVKeyIndexList
	if err := proto.Unmarshal(signed.GetDetails(), &details); err != nil {
		t.Fatalf("key index list details: %v", err)
	}
	if !slices.Equal(details.GetValidIndexes(), []uint32{1, 2}) || details.GetCurrentIndex() != 2 ||
		strconv.FormatUint(details.GetTimestamp(), 10) != kil.AttrGetter().String("ts") {
		t.Errorf("key index list = %v (ts attr %v), want indexes 1 and 2, current 2, its ts", &details, kil.Attrs["ts"])
	}
}

// A message to a number without devices, or not on WhatsApp, is acked like
// any other, as the real server does (whatsmeow returns no error: its
// SendMessage errs only on an ack with an error code, and clients learn of
// such numbers from usync, not from the send), but no device of the number
// gets it and no delivery receipt comes; the sender's own phone gets its copy.
func TestSendToANumberWithoutDevicesIsAckedButNeverDelivered(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 56})
	const deviceless, unknown = "15550100300", "15550100404"
	if err := s.AddContact(deviceless, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	ctx := context.Background()
	var lost []string
	for _, to := range []string{deviceless, unknown} {
		resp, err := c.SendMessage(ctx, userJID(to), text("into the void"))
		if err != nil {
			t.Fatalf("SendMessage to %s: %v, want the server's ack", to, err)
		}
		lost = append(lost, resp.ID)
		if got := s.Received(to); len(got) != 0 {
			t.Errorf("%s got %+v, want nothing", to, got)
		}
	}
	if own := s.Received(ownUser(t, jid)); len(own) != 2 || !own[0].Copy || !own[1].Copy {
		t.Errorf("sender's phone got %+v, want a copy of each", own)
	}
	// A message to a contact, sent after them, is confirmed; by then no
	// receipt came for the others.
	resp, err := c.SendMessage(ctx, userJID(contact), text("hello"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		r := waitEvent[*events.Receipt](t, c)
		if slices.ContainsFunc(r.MessageIDs, func(id string) bool { return slices.Contains(lost, id) }) {
			t.Fatalf("a delivery receipt %+v for a message no device got", r)
		}
		if slices.Contains(r.MessageIDs, resp.ID) {
			break
		}
	}
	if st := s.SendStats(); st.Messages != 3 || st.DecryptFailures != 0 {
		t.Errorf("stats = %+v, want 3 messages acked", st)
	}
}

// The phone's Signal identity is the account's key, which the companion
// learnt at pairing and trusts: a client that does not trust changed
// identities on its own still sends to its phone.
func TestThePhonesIdentityIsTheAccountKey(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 57})
	c, _, jid := pairByQR(t, s, 1)
	c.AutoTrustIdentity = false
	me := ownUser(t, jid)
	if _, err := c.SendMessage(context.Background(), userJID(me), text("to my phone")); err != nil {
		t.Fatalf("SendMessage to own number: %v", err)
	}
	if got := s.Received(me); len(got) != 1 {
		t.Errorf("own phone got %d messages, want 1", len(got))
	}
}

// A message reaches every device whether the client addresses it by phone
// number (before the account's LID migration) or by LID (after it, which is
// how whatsmeow sends once LIDMigrationTimestamp is set, by the phone's
// history sync or by hand): the contact's two devices and the sender's phone
// decrypt it, and the sender's other companion gets its copy in the chat as
// addressed.
func TestSendByPhoneNumberOrLIDReachesEveryDevice(t *testing.T) {
	for i, tc := range []struct {
		name         string
		migrated     bool // the client sets LIDMigrationTimestamp itself
		lidMigration bool // the phone's history sync sets it
	}{
		{"phone numbers", false, false},
		{"LIDs", true, false},
		{"LIDs after the phone's history sync", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const me = "15551230000"
			s := newServer(t, fakewa.Config{Seed: 60 + int64(i), DeliveryDelay: -1, LIDMigration: tc.lidMigration})
			if err := s.AddContact(contact, 2); err != nil {
				t.Fatal(err)
			}
			a, _ := pairByCode(t, s, me)
			b, _ := pairByCode(t, s, me)
			waitUntil(t, "the second companion uploaded its prekeys", func() bool {
				resp, err := sendIQ(t, b, "encrypt", "get", waBinary.Node{Tag: "count"})
				count := resp.GetChildByTag("count")
				return err == nil && count.AttrGetter().Int("value") > 0
			})
			ctx := context.Background()
			info, err := a.GetUserInfo(ctx, []types.JID{userJID(contact)})
			if err != nil {
				t.Fatalf("GetUserInfo: %v", err)
			}
			contactLID := info[userJID(contact)].LID
			if contactLID.Server != types.HiddenUserServer {
				t.Fatalf("contact's LID = %v, want a LID", contactLID)
			}
			wantChat := userJID(contact)
			if tc.migrated {
				a.Store.LIDMigrationTimestamp = time.Now().Unix()
				wantChat = contactLID
			}
			if tc.lidMigration {
				waitUntil(t, "the phone's history sync set the LID migration time", func() bool {
					return a.Store.LIDMigrationTimestamp > 0
				})
				wantChat = contactLID
			}

			for n, body := range []string{"first", "second"} {
				resp, err := a.SendMessage(ctx, userJID(contact), text(body))
				if err != nil {
					t.Fatalf("SendMessage(%q): %v", body, err)
				}
				if got := s.Received(contact); len(got) != 2*(n+1) {
					t.Errorf("after %q the contact's devices decrypted %d messages, want %d: %+v", body, len(got), 2*(n+1), got)
				}
				if own := s.Received(me); len(own) != n+1 || !own[n].Copy || own[n].Text != body {
					t.Errorf("after %q the sender's phone got %+v, want a copy of each", body, own)
				}
				for {
					m := waitEvent[*events.Message](t, b)
					if m.Info.ID != resp.ID {
						continue
					}
					if m.Message.GetConversation() != body || !m.Info.IsFromMe || m.Info.Chat != wantChat {
						t.Errorf("second companion got %q from me %v in chat %s, want %q, from me, in chat %s",
							m.Message.GetConversation(), m.Info.IsFromMe, m.Info.Chat, body, wantChat)
					}
					break
				}
			}
			if st := s.SendStats(); st.DecryptFailures != 0 || st.Undeliverable != 0 || st.Decrypted != 6 {
				t.Errorf("stats = %+v, want 6 decrypted and every copy delivered", st)
			}
		})
	}
}

// The protocol under whatsmeow's LID addressing: usync tells a user's LID, a
// prekey bundle request for a device by LID gets the same device's bundle as
// by phone number, and a LID the server does not know gets 404.
func TestPreKeyBundlesByLID(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 70})
	if err := s.AddContact(contact, 2); err != nil {
		t.Fatal(err)
	}
	c, _, _ := pairByQR(t, s, 1)
	info, err := c.GetUserInfo(context.Background(), []types.JID{userJID(contact)})
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	lid := info[userJID(contact)].LID
	if lid.Server != types.HiddenUserServer {
		t.Fatalf("contact's LID = %v, want a LID", lid)
	}
	identity := func(jid types.JID) []byte {
		t.Helper()
		resp, err := sendIQ(t, c, "encrypt", "get", waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}},
		}})
		if err != nil {
			t.Fatalf("prekey bundle of %s: %v", jid, err)
		}
		user := resp.GetChildByTag("list", "user")
		if e, ok := user.GetOptionalChildByTag("error"); ok {
			t.Logf("prekey bundle of %s: error %v", jid, e.Attrs)
			return nil
		}
		b, _ := user.GetChildByTag("identity").Content.([]byte)
		return b
	}
	byLID := identity(types.JID{User: lid.User, Device: 1, Server: types.HiddenUserServer})
	byPN := identity(types.JID{User: contact, Device: 1, Server: types.DefaultUserServer})
	if len(byLID) != 32 || !slices.Equal(byLID, byPN) {
		t.Errorf("identity in the bundle of device 1 by LID = %x, by phone number %x: want the same key", byLID, byPN)
	}
	if got := identity(types.JID{User: "999999999999999", Server: types.HiddenUserServer}); got != nil {
		t.Errorf("an unknown LID got a bundle with identity %x, want 404", got)
	}
}
