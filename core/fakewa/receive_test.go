package fakewa_test

import (
	"context"
	"errors"
	"testing"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"warden/core/fakewa"
)

// waitMessage waits for the message event of the message id, skipping
// other events.
func waitMessage(t *testing.T, c *client, id string) *events.Message {
	t.Helper()
	for {
		if m := waitEvent[*events.Message](t, c); m.Info.ID == id {
			return m
		}
	}
}

// waitMessages waits for the message events of the messages ids, and fails
// if any other message, or one of them twice, comes first.
func waitMessages(t *testing.T, c *client, ids ...string) []*events.Message {
	t.Helper()
	out := make([]*events.Message, 0, len(ids))
	for _, id := range ids {
		m := waitEvent[*events.Message](t, c)
		if m.Info.ID != id {
			t.Fatalf("message %s (%q) came where %s was due", m.Info.ID, m.Message.GetConversation(), id)
		}
		out = append(out, m)
	}
	return out
}

// countMessages counts the message events of the message id until an event
// that ends the count, which it returns.
func countMessages(t *testing.T, c *client, id string, ends func(evt any) bool) (int, any) {
	t.Helper()
	timeout := time.After(eventWait)
	n := 0
	for {
		select {
		case evt := <-c.events:
			if m, ok := evt.(*events.Message); ok && m.Info.ID == id {
				n++
			}
			if ends(evt) {
				return n, evt
			}
		case <-timeout:
			t.Fatalf("counting messages %s: the end did not come within %v", id, eventWait)
			return n, nil
		}
	}
}

// waitPreKeys waits until the companion has uploaded its prekeys, so that a
// message to it can be encrypted at once.
func waitPreKeys(t *testing.T, c *client) {
	t.Helper()
	waitUntil(t, "the companion uploaded its prekeys", func() bool {
		resp, err := sendIQ(t, c, "encrypt", "get", waBinary.Node{Tag: "count"})
		count := resp.GetChildByTag("count")
		return err == nil && count.AttrGetter().Int("value") > 0
	})
}

// waitPending waits until the device has n messages it has not confirmed.
func waitPending(t *testing.T, s *fakewa.Server, jid string, n int) {
	t.Helper()
	waitUntil(t, "the device has confirmed all but the pending messages", func() bool { return s.Pending(jid) == n })
}

// A contact's text reaches a logged-in companion at once, from the contact;
// a text of the account's own phone comes from the account's own device, as
// the companion's own message; a media message comes with its kind and
// size. The companion confirms each.
func TestReceiveWhileOnline(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 80})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)

	id, err := s.SendText(contact, me, "hello")
	if err != nil {
		t.Fatalf("SendText: %v", err)
	}
	m := waitMessage(t, c, id)
	if m.Message.GetConversation() != "hello" || m.Info.IsFromMe || m.Info.Sender.User != contact || m.Info.Chat != userJID(contact) {
		t.Errorf("got %q from %s in chat %s (from me %v), want \"hello\" from the contact in its chat",
			m.Message.GetConversation(), m.Info.Sender, m.Info.Chat, m.Info.IsFromMe)
	}

	id, err = s.SendText(me, me, "note to self")
	if err != nil {
		t.Fatalf("SendText from the account's own phone: %v", err)
	}
	m = waitMessage(t, c, id)
	if m.Message.GetConversation() != "note to self" || !m.Info.IsFromMe || m.Info.Sender.User != me || m.Info.Sender.Device != 0 {
		t.Errorf("got %q from %s (from me %v), want the text from the account's phone", m.Message.GetConversation(), m.Info.Sender, m.Info.IsFromMe)
	}

	id, err = s.SendMessage(contact, me, &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
		FileLength: proto.Uint64(123456), Mimetype: proto.String("image/jpeg"), Caption: proto.String("a view"),
	}})
	if err != nil {
		t.Fatalf("SendMessage of an image: %v", err)
	}
	m = waitMessage(t, c, id)
	if img := m.Message.GetImageMessage(); img.GetFileLength() != 123456 || img.GetCaption() != "a view" || m.Info.Type != "media" || m.Info.MediaType != "image" {
		t.Errorf("got %v of type %q/%q, want the image of 123456 bytes", m.Message, m.Info.Type, m.Info.MediaType)
	}
	waitPending(t, s, jid, 0)
	if st := s.ReceiveStats(); st.Confirmed != 3 || st.Redelivered != 0 {
		t.Errorf("stats = %+v, want 3 confirmed, none redelivered", st)
	}
}

func TestSendTextErrors(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 81})
	const lonely = "15550100300"
	for _, add := range []struct {
		phone   string
		devices int
	}{{contact, 1}, {lonely, 1}, {"15550100500", 0}} {
		if err := s.AddContact(add.phone, add.devices); err != nil {
			t.Fatal(err)
		}
	}
	_, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	for _, tc := range []struct {
		from, to string
		want     error
	}{
		{"15550100404", me, fakewa.ErrUnknownSender},
		{"15550100500", me, fakewa.ErrUnknownSender}, // on WhatsApp, but without a phone
		{contact, "15550100404", fakewa.ErrUnknownAccount},
		{contact, lonely, fakewa.ErrNoCompanion},
	} {
		if _, err := s.SendText(tc.from, tc.to, "hi"); !errors.Is(err, tc.want) {
			t.Errorf("SendText(%s, %s): %v, want %v", tc.from, tc.to, err, tc.want)
		}
	}
}

// Messages to a companion that is away wait for it, and come at its next
// login, in order, once each, between the offline preview and the end of
// the offline queue, which both tell their true number.
func TestReceiveWhileOfflineComesAtLogin(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 82})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	waitPreKeys(t, c)
	c.Disconnect()
	waitUntil(t, "the companion is offline", func() bool { return s.LoggedIn(jid) == 0 })

	var ids []string
	for _, body := range []string{"one", "two", "three"} {
		id, err := s.SendText(contact, me, body)
		if err != nil {
			t.Fatalf("SendText(%q): %v", body, err)
		}
		ids = append(ids, id)
	}
	if n := s.Pending(jid); n != 3 {
		t.Fatalf("Pending = %d, want 3 queued", n)
	}

	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if p := waitEvent[*events.OfflineSyncPreview](t, c); p.Total != 3 || p.Messages != 3 {
		t.Errorf("OfflineSyncPreview = %+v, want 3 messages", p)
	}
	for i, m := range waitMessages(t, c, ids...) {
		if want := []string{"one", "two", "three"}[i]; m.Message.GetConversation() != want || m.Info.Sender.User != contact {
			t.Errorf("message %d = %q from %s, want %q from the contact", i, m.Message.GetConversation(), m.Info.Sender, want)
		}
	}
	if done := waitEvent[*events.OfflineSyncCompleted](t, c); done.Count != 3 {
		t.Errorf("OfflineSyncCompleted = %+v, want a count of 3", done)
	}
	waitPending(t, s, jid, 0)

	// A message sent now comes next: none of the three came twice.
	id, err := s.SendText(contact, me, "four")
	if err != nil {
		t.Fatal(err)
	}
	waitMessages(t, c, id)
}

// A contact's device sends prekey messages until it has heard from the
// companion in the session, and plain messages after: the companion's
// answer, which the contact decrypts, completes the session.
func TestReceivePreKeyMessagesUntilTheCompanionAnswers(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 83})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	waitPreKeys(t, c)

	send := func(body string) {
		t.Helper()
		id, err := s.SendText(contact, me, body)
		if err != nil {
			t.Fatalf("SendText(%q): %v", body, err)
		}
		if m := waitMessage(t, c, id); m.Message.GetConversation() != body {
			t.Fatalf("got %q, want %q", m.Message.GetConversation(), body)
		}
	}
	send("first")
	send("second")
	if st := s.ReceiveStats(); st.PreKeyMessages != 2 || st.SignalMessages != 0 {
		t.Errorf("before the answer: stats = %+v, want 2 pkmsg, no msg", st)
	}

	if _, err := c.SendMessage(context.Background(), userJID(contact), text("answer")); err != nil {
		t.Fatalf("SendMessage to the contact: %v", err)
	}
	if got := s.Received(contact); len(got) != 1 || got[0].Text != "answer" || got[0].From != jid {
		t.Fatalf("contact got %+v, want the answer", got)
	}
	send("third")
	if st := s.ReceiveStats(); st.PreKeyMessages != 2 || st.SignalMessages != 1 {
		t.Errorf("after the answer: stats = %+v, want 2 pkmsg and 1 msg", st)
	}
	if st := s.SendStats(); st.DecryptFailures != 0 {
		t.Errorf("send stats = %+v, want no decrypt failures", st)
	}
}

// A companion that lost its Signal session cannot decrypt the next message
// and answers with retry receipts; the contact encrypts the message again,
// at last from the keys the receipt carries, and the companion gets it once.
func TestReceiveRetryReceiptIsAnswered(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 84})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	waitPreKeys(t, c)
	ctx := context.Background()

	// The first message and an answer: the session is complete, and the
	// next message is a plain msg.
	id, err := s.SendText(contact, me, "before")
	if err != nil {
		t.Fatal(err)
	}
	waitMessage(t, c, id)
	if _, err := c.SendMessage(ctx, userJID(contact), text("answer")); err != nil {
		t.Fatal(err)
	}

	// The companion forgets its session with the contact's phone, by
	// whichever address whatsmeow keeps it.
	addrs := []string{userJID(contact).SignalAddress().String()}
	if lid, err := c.Store.LIDs.GetLIDForPN(ctx, userJID(contact)); err == nil && !lid.IsEmpty() {
		addrs = append(addrs, lid.SignalAddress().String())
	}
	for _, addr := range addrs {
		if err := c.Store.Sessions.DeleteSession(ctx, addr); err != nil {
			t.Fatalf("delete session %s: %v", addr, err)
		}
	}

	before := s.ReceiveStats()
	id, err = s.SendText(contact, me, "after the loss")
	if err != nil {
		t.Fatal(err)
	}
	m := waitMessage(t, c, id)
	// whatsmeow's first retry receipt carries no keys, and the contact
	// answers with its session (a msg again); the second carries them, and
	// the contact builds a new session from them (a pkmsg).
	if m.Message.GetConversation() != "after the loss" || m.RetryCount != 2 {
		t.Errorf("got %q at retry %d, want the text, at the second retry", m.Message.GetConversation(), m.RetryCount)
	}
	waitPending(t, s, jid, 0)
	st := s.ReceiveStats()
	if st.SignalMessages-before.SignalMessages != 2 || st.Retries != 2 || st.PreKeyMessages-before.PreKeyMessages != 1 {
		t.Errorf("stats before %+v, after %+v: want a msg, a msg on the first retry, a pkmsg on the second", before, st)
	}
	retries := 0
	for _, r := range s.Receipts(me) {
		if r.ID == id && r.Type == "retry" {
			retries++
		}
	}
	if retries != st.Retries {
		t.Errorf("%d retry receipts recorded, %d answered", retries, st.Retries)
	}

	// The next message comes next: the retried one did not come twice.
	id, err = s.SendText(contact, me, "next")
	if err != nil {
		t.Fatal(err)
	}
	waitMessages(t, c, id)
}

// The server records the companion's delivery receipt and, once the client
// marks the message read, its read receipt.
func TestReceiveRecordsReceipts(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 85})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	id, err := s.SendText(contact, me, "read me")
	if err != nil {
		t.Fatal(err)
	}
	m := waitMessage(t, c, id)
	waitPending(t, s, jid, 0)
	if err := c.MarkRead(context.Background(), []types.MessageID{id}, time.Now(), m.Info.Chat, m.Info.Sender); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}
	waitUntil(t, "the read receipt is recorded", func() bool { return len(s.Receipts(me)) == 2 })
	got := s.Receipts(me)
	// whatsmeow's delivery receipt is "inactive" while it is not marked online.
	if got[0].ID != id || got[0].From != jid || got[0].Type != "inactive" || got[0].At.IsZero() {
		t.Errorf("first receipt = %+v, want the delivery receipt of %s from %s", got[0], id, jid)
	}
	if got[1].ID != id || got[1].From != jid || got[1].Type != "read" {
		t.Errorf("second receipt = %+v, want the read receipt of %s from %s", got[1], id, jid)
	}
	if other := s.Receipts(contact); len(other) != 0 {
		t.Errorf("the contact's account has receipts %+v, want none", other)
	}
}

// A message the companion got but did not confirm before its socket went
// away is sent again at its next login. whatsmeow hands it to its handlers
// once: it cannot decrypt the same ciphertext twice, and only confirms it.
func TestReceiveUnconfirmedMessageIsSentAgainAtLogin(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 86})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	entered, release := make(chan struct{}), make(chan struct{})
	c.AddEventHandler(func(evt any) {
		if m, ok := evt.(*events.Message); ok && m.Message.GetConversation() == "hold" {
			close(entered)
			<-release // whatsmeow sends its receipt once the handlers return
		}
	})
	id, err := s.SendText(contact, me, "hold")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(eventWait):
		t.Fatal("the message never reached the handler")
	}
	if err := s.Inject(jid, fakewa.Fault{Kind: fakewa.FaultDrop}); err != nil {
		t.Fatal(err)
	}
	first, _ := countMessages(t, c, id, func(evt any) bool { _, ok := evt.(*events.Disconnected); return ok })
	close(release)
	if n := s.Pending(jid); n != 1 {
		t.Fatalf("Pending = %d after the drop, want the unconfirmed message", n)
	}

	if err := c.Connect(); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	again, end := countMessages(t, c, id, func(evt any) bool { _, ok := evt.(*events.OfflineSyncCompleted); return ok })
	if done := end.(*events.OfflineSyncCompleted); done.Count != 1 {
		t.Errorf("OfflineSyncCompleted = %+v, want the message again", done)
	}
	waitPending(t, s, jid, 0)
	if st := s.ReceiveStats(); st.Redelivered != 1 || st.Confirmed != 1 {
		t.Errorf("stats = %+v, want 1 redelivered and confirmed", st)
	}
	if first+again != 1 {
		t.Errorf("the handlers got the message %d times, then %d times, want once in all", first, again)
	}
	next, err := s.SendText(contact, me, "next")
	if err != nil {
		t.Fatal(err)
	}
	waitMessages(t, c, next)
}

// A handler that fails (returns false) keeps whatsmeow from confirming the
// message, so the server sends it again at the next login. With
// EnableDecryptedEventBuffer whatsmeow kept the plaintext and hands the
// message to the handlers again; without it the copy cannot be decrypted
// again, and whatsmeow confirms it without a second event: the message is
// lost to the handlers. SynchronousAck changes none of it: whatsmeow sends
// a message's receipt after its handlers returned either way.
func TestReceiveAfterAFailedHandler(t *testing.T) {
	for i, tc := range []struct {
		name     string
		buffer   bool
		syncAcks bool
		events   int
	}{
		{"with the decrypted event buffer", true, false, 2},
		{"with the buffer and synchronous acks", true, true, 2},
		{"without the buffer", false, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, fakewa.Config{Seed: 87 + 100*int64(i)})
			if err := s.AddContact(contact, 1); err != nil {
				t.Fatal(err)
			}
			c, _, jid := pairByQR(t, s, 1)
			c.EnableDecryptedEventBuffer = tc.buffer
			c.SynchronousAck = tc.syncAcks
			me := ownUser(t, jid)
			failed := false
			c.AddEventHandlerWithSuccessStatus(func(evt any) bool {
				if m, ok := evt.(*events.Message); ok && m.Message.GetConversation() == "store me" && !failed {
					failed = true
					return false
				}
				return true
			})
			id, err := s.SendText(contact, me, "store me")
			if err != nil {
				t.Fatal(err)
			}
			waitMessage(t, c, id)
			// No receipt comes: a message sent after it is confirmed
			// while it stays pending.
			next, err := s.SendText(contact, me, "after")
			if err != nil {
				t.Fatal(err)
			}
			waitMessage(t, c, next)
			waitPending(t, s, jid, 1)

			c.Disconnect()
			if err := c.Connect(); err != nil {
				t.Fatalf("Connect: %v", err)
			}
			again, _ := countMessages(t, c, id, func(evt any) bool { _, ok := evt.(*events.OfflineSyncCompleted); return ok })
			seen := 1 + again
			waitPending(t, s, jid, 0)
			if seen != tc.events {
				t.Errorf("the handlers got the message %d times, want %d", seen, tc.events)
			}
		})
	}
}

// An account past its LID migration gets messages from the contact's LID,
// with its phone number beside it, and its own phone's from its own LID.
func TestReceiveByLID(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 88, LIDMigration: true})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	c, _, jid := pairByQR(t, s, 1)
	me := ownUser(t, jid)
	waitUntil(t, "the phone's history sync set the LID migration time", func() bool {
		return c.Store.LIDMigrationTimestamp > 0
	})
	ctx := context.Background()

	id, err := s.SendText(contact, me, "by lid")
	if err != nil {
		t.Fatal(err)
	}
	m := waitMessage(t, c, id)
	if m.Message.GetConversation() != "by lid" || m.Info.Sender.Server != types.HiddenUserServer ||
		m.Info.SenderAlt.User != contact || m.Info.Chat != m.Info.Sender.ToNonAD() || m.Info.IsFromMe {
		t.Errorf("got %q from %s (alt %s) in chat %s, want it from the contact's LID in its chat",
			m.Message.GetConversation(), m.Info.Sender, m.Info.SenderAlt, m.Info.Chat)
	}
	if pn, err := c.Store.LIDs.GetPNForLID(ctx, m.Info.Sender.ToNonAD()); err != nil || pn.User != contact {
		t.Errorf("the client maps the sender's LID to %v (%v), want the contact's number", pn, err)
	}

	id, err = s.SendText(me, me, "mine")
	if err != nil {
		t.Fatal(err)
	}
	m = waitMessage(t, c, id)
	if m.Message.GetConversation() != "mine" || !m.Info.IsFromMe || m.Info.Sender.Server != types.HiddenUserServer {
		t.Errorf("got %q from %s (from me %v), want it from the account's own LID", m.Message.GetConversation(), m.Info.Sender, m.Info.IsFromMe)
	}
	waitPending(t, s, jid, 0)
}

// A message to an account with two companions reaches both.
func TestReceiveReachesEveryCompanion(t *testing.T) {
	const me = "15551230000"
	s := newServer(t, fakewa.Config{Seed: 89})
	if err := s.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	a, aJID := pairByCode(t, s, me)
	b, bJID := pairByCode(t, s, me)
	for _, from := range []string{contact, me} {
		id, err := s.SendText(from, me, "to both from "+from)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []*client{a, b} {
			if m := waitMessage(t, c, id); m.Message.GetConversation() != "to both from "+from || m.Info.IsFromMe != (from == me) {
				t.Errorf("got %q (from me %v), want the text from %s", m.Message.GetConversation(), m.Info.IsFromMe, from)
			}
		}
	}
	waitPending(t, s, aJID, 0)
	waitPending(t, s, bJID, 0)
}
