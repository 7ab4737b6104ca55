package whatsapp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

const contact = "15550100200"

func phoneOf(t testing.TB, jid string) string {
	t.Helper()
	parsed, err := types.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.User
}

// A message to a contact with two devices is encrypted for both (and for the
// account's own phone), acked, and confirmed by the contact's phone.
func TestSendTextReachesEveryDevice(t *testing.T) {
	srv := newServer(t, 301)
	if err := srv.AddContact(contact, 2); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)
	s, rec, acct := pair(t, srv, d, "a1")

	before := time.Now().Truncate(time.Second)
	sent, err := s.SendText(context.Background(), contact, "hello from Warden")
	if err != nil {
		t.Fatalf("SendText: %v", err)
	}
	if sent.ID == "" || sent.ServerTime.Before(before) || sent.ServerTime.After(time.Now()) {
		t.Errorf("Sent = %+v, want an ID and the server's ack time", sent)
	}
	got := srv.Received(contact)
	devices := map[string]bool{}
	for _, m := range got {
		if m.ID != sent.ID || m.Text != "hello from Warden" || m.From != acct.JID {
			t.Errorf("contact got %+v, want message %s from %s", m, sent.ID, acct.JID)
		}
		devices[m.Device] = true
	}
	if len(got) != 2 || len(devices) != 2 {
		t.Errorf("contact's devices decrypted %d messages on %d devices, want 1 on each of 2", len(got), len(devices))
	}
	if own := srv.Received(phoneOf(t, acct.JID)); len(own) != 1 || !own[0].Copy {
		t.Errorf("own phone got %+v, want one copy", own)
	}
	ev := rec.next(core.SessionDelivered)
	if ev.MessageID != sent.ID || ev.At.IsZero() {
		t.Errorf("delivered event = %+v, want message %s with a time", ev, sent.ID)
	}

	// To the account's own number: its phone gets it.
	me := phoneOf(t, acct.JID)
	self, err := s.SendText(context.Background(), me, "self-check")
	if err != nil {
		t.Fatalf("SendText to own number: %v", err)
	}
	if own := srv.Received(me); len(own) != 2 || own[1].ID != self.ID || own[1].Text != "self-check" {
		t.Errorf("own phone got %+v, want the self-check last", own)
	}
	if ev := rec.next(core.SessionDelivered); ev.MessageID != self.ID {
		t.Errorf("delivered %s, want %s", ev.MessageID, self.ID)
	}
}

// Each wrong answer of the server gives its own error, and none of them
// moves the session.
func TestSendTextFailures(t *testing.T) {
	srv := newServer(t, 302)
	if err := srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddContact("15550100300", 0); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)
	s, rec, acct := pair(t, srv, d, "a1")
	ctx := context.Background()

	cases := []struct {
		name  string
		to    string
		fault fakewa.SendFault
		want  error
	}{
		{"unknown number", "15550100404", 0, core.ErrNotOnWhatsApp},
		{"no devices", "15550100300", 0, core.ErrNoDevices},
		{"rate limited", contact, fakewa.SendRateLimited, core.ErrRateLimited},
		{"no ack", contact, fakewa.SendNoAck, core.ErrNoAck},
	}
	words := map[string]string{}
	for _, c := range cases {
		if c.fault != 0 {
			if err := srv.FailNextSend(acct.JID, c.fault); err != nil {
				t.Fatal(err)
			}
		}
		_, err := s.SendText(ctx, c.to, c.name)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		text := core.SendErrorText(err)
		if other, dup := words[text]; dup {
			t.Errorf("%s reads like %s: %q", c.name, other, text)
		}
		words[text] = c.name
	}
	if st := srv.SendStats(); st.Messages != 0 || len(srv.Received(contact)) != 0 {
		t.Errorf("failed sends delivered something: %+v", st)
	}
	if srv.LoggedIn(acct.JID) != 1 {
		t.Errorf("the session is not logged in after the failures")
	}
	rec.none(core.SessionDisconnected, 100*time.Millisecond)

	// And the next one goes through.
	if _, err := s.SendText(ctx, contact, "fine"); err != nil {
		t.Fatalf("SendText after the failures: %v", err)
	}
}

// A session that is not logged in, or closed, refuses at once and sends
// nothing.
func TestSendTextRefusedWithoutALoggedInSocket(t *testing.T) {
	srv := newServer(t, 303)
	if err := srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)

	// Pairing: connected, not logged in.
	p, prec := connect(t, d, core.Account{ID: "p"})
	prec.next(core.SessionQR)
	if _, err := p.SendText(context.Background(), contact, "too early"); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("SendText while pairing = %v, want ErrNotConnected", err)
	}

	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	start := time.Now()
	if _, err := s.SendText(context.Background(), contact, "too late"); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("SendText after Close = %v, want ErrNotConnected", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %v: it must not wait", took)
	}
	if st := srv.SendStats(); st.Messages != 0 {
		t.Errorf("a refused send reached the server: %+v", st)
	}
	waitUntil(t, "the closed session is logged out", func() bool { return srv.LoggedIn(acct.JID) == 0 })
}

// Sending while the account is anything but Connected is refused by the
// Manager, and nothing reaches the server.
func TestManagerSendRefusedUnlessConnected(t *testing.T) {
	p := testPolicy()
	p.Schedule = []core.Backoff{{UpTo: 1, Delay: 30 * time.Second}}
	p.TakeoverDelay = 30 * time.Second
	r := newRig(t, 304, p)
	if err := r.srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	pairing, err := r.m.Add(ctx, "Pairing")
	if err != nil {
		t.Fatal(err)
	}
	r.waitState(pairing.ID, core.Pairing, func(st core.Status) bool { return st.QRCode != "" })
	if _, err := r.m.SendText(ctx, pairing.ID, contact, "hi"); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("SendText while Pairing = %v, want ErrNotConnected", err)
	}

	dropped := r.add("Dropped")
	r.inject(dropped.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(dropped.ID, core.Waiting)
	_, err = r.m.SendText(ctx, dropped.ID, contact, "hi")
	if !errors.Is(err, core.ErrNotConnected) || !strings.Contains(core.SendErrorText(err), "Waiting") {
		t.Errorf("SendText while Waiting = %v (%q), want ErrNotConnected naming the state", err, core.SendErrorText(err))
	}

	replaced := r.add("Replaced")
	r.inject(replaced.JID, fakewa.Fault{Kind: fakewa.FaultReplaced})
	r.waitState(replaced.ID, core.Replaced)
	if _, err := r.m.SendText(ctx, replaced.ID, contact, "hi"); !errors.Is(err, core.ErrNotConnected) {
		t.Errorf("SendText while Replaced = %v, want ErrNotConnected", err)
	}

	if st := r.srv.SendStats(); st.Messages != 0 || st.Duplicates != 0 {
		t.Errorf("refused sends reached the server: %+v", st)
	}
}

// A send, its ack and the phone's confirmation leave notes on the timeline,
// with the message ID, and the account stays Connected.
func TestManagerSendNotesAndDelivery(t *testing.T) {
	r := newRig(t, 305, testPolicy())
	if err := r.srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	acct := r.add("Alice")
	res, err := r.m.SendText(context.Background(), acct.ID, "+1 (555) 010-0200", "hello")
	if err != nil {
		t.Fatalf("SendText: %v", err)
	}
	if res.To != contact || res.MessageID == "" || res.Latency <= 0 || res.ServerTime.IsZero() {
		t.Errorf("result = %+v, want the number, an ID, a latency and the server's time", res)
	}
	if got := r.srv.Received(contact); len(got) != 1 || got[0].ID != res.MessageID {
		t.Fatalf("contact got %+v, want message %s", got, res.MessageID)
	}
	waitUntil(t, "the delivery note", func() bool {
		for _, ev := range r.events(acct.ID) {
			if ev.Cause == core.CauseDelivered && ev.MessageID == res.MessageID {
				return true
			}
		}
		return false
	})
	var sentNote bool
	for _, ev := range r.events(acct.ID) {
		if ev.Cause == core.CauseSent && ev.MessageID == res.MessageID && strings.Contains(ev.Reason, "…0200") {
			sentNote = true
		}
		if strings.Contains(ev.Reason, contact) {
			t.Errorf("the timeline shows the whole number: %q", ev.Reason)
		}
	}
	if !sentNote {
		t.Errorf("no sent note for %s; timeline:\n%s", res.MessageID, r.timeline(acct.ID))
	}
	r.stays(acct.ID, core.Connected, 100*time.Millisecond)
}

// A send racing a drop either is acked on the old session or fails; it is
// never delivered twice, and never goes out on the new session.
func TestManagerSendRacingADrop(t *testing.T) {
	r := newRig(t, 306, testPolicy())
	if err := r.srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	acct := r.add("Alice")
	ctx := context.Background()

	// The socket drops the moment the message arrives: the send fails at
	// once, as the Manager closes the dropped session, and the account
	// reconnects on a new one.
	if err := r.srv.FailNextSend(acct.JID, fakewa.SendDrop); err != nil {
		t.Fatal(err)
	}
	epoch := r.status(acct.ID).Epoch
	start := time.Now()
	_, err := r.m.SendText(ctx, acct.ID, contact, "dropped")
	if !errors.Is(err, core.ErrNotConnected) {
		t.Fatalf("SendText over a dropping socket = %v, want ErrNotConnected", err)
	}
	took := time.Since(start)
	r.waitState(acct.ID, core.Connected, func(st core.Status) bool { return st.Epoch > epoch })
	// whatsmeow would resend within 5 s if its client reconnected; the old
	// client never does, so nothing arrives on the new session.
	time.Sleep(5*time.Second - took + 200*time.Millisecond)
	if st := r.srv.SendStats(); st.Messages != 0 || len(r.srv.Received(contact)) != 0 {
		t.Errorf("the dropped message was delivered after all: %+v", st)
	}

	// Sends racing a drop injected at moments spread over the send.
	acked := 0
	for i := range 10 {
		r.waitState(acct.ID, core.Connected)
		done := make(chan error, 1)
		go func() {
			_, err := r.m.SendText(ctx, acct.ID, contact, "race")
			done <- err
		}()
		time.Sleep(time.Duration(i) * 300 * time.Microsecond)
		r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
		switch err := <-done; {
		case err == nil:
			acked++
		case !errors.Is(err, core.ErrNotConnected):
			t.Errorf("race %d: %v, want success or ErrNotConnected", i, err)
		}
	}
	r.waitState(acct.ID, core.Connected)
	got := r.srv.Received(contact)
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.ID] {
			t.Errorf("message %s delivered twice", m.ID)
		}
		seen[m.ID] = true
	}
	if len(seen) < acked {
		t.Errorf("%d sends were acked but %d messages arrived", acked, len(seen))
	}
	t.Logf("%d of 10 racing sends were acked, %d messages arrived", acked, len(seen))
	if st := r.srv.SendStats(); st.Duplicates != 0 {
		t.Errorf("a message was sent twice: %+v", st)
	}
	r.oneClient(acct.JID)
}

// Several messages in a row to the same fresh devices (the account's own
// phone, a contact's two devices) all decrypt: the first ones open Signal
// sessions with one-time prekeys, and the simulated devices keep what they
// need to read the messages that follow, which whatsmeow keeps sending as
// prekey messages until the other side answers.
func TestSendTextRepeatedToFreshDevices(t *testing.T) {
	srv := newServer(t, 305)
	if err := srv.AddContact(contact, 2); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	me := phoneOf(t, acct.JID)
	for i := range 3 {
		for _, to := range []string{me, contact} {
			if _, err := s.SendText(context.Background(), to, "again"); err != nil {
				t.Fatalf("send %d to %s: %v", i, to, err)
			}
		}
	}
	if got := len(srv.Received(me)); got != 6 {
		t.Errorf("own phone decrypted %d messages, want 6 (3 sent to it, 3 copies)", got)
	}
	if got := len(srv.Received(contact)); got != 6 {
		t.Errorf("contact's devices decrypted %d messages, want 6 (3 on each of 2)", got)
	}
	if st := srv.SendStats(); st.DecryptFailures != 0 {
		t.Errorf("SendStats = %+v, want no decrypt failures", st)
	}
}

// pairByCode pairs a new account to the phone with this number by phone code
// and returns its session, connected (its keys uploaded), and the account.
func pairByCode(t *testing.T, srv *fakewa.Server, d *whatsapp.Dialer, id core.AccountID, phone string) (core.Session, *recorder, core.Account) {
	t.Helper()
	acct := core.Account{ID: id, Name: string(id)}
	s, rec := connect(t, d, acct)
	code, err := s.PairPhone(context.Background(), phone)
	if err != nil {
		t.Fatalf("PairPhone: %v", err)
	}
	if err := srv.EnterPhoneCode(phone, code); err != nil {
		t.Fatalf("EnterPhoneCode: %v", err)
	}
	acct.JID = rec.next(core.SessionPairSuccess).JID
	rec.next(core.SessionConnected)
	return s, rec, acct
}

// A message reaches the contact's two devices, the account's phone and its
// other linked device whether the account's phone is past its LID migration
// (whatsmeow then addresses the message by LID) or not (by phone number).
func TestSendTextByPhoneNumberOrLID(t *testing.T) {
	for i, tc := range []struct {
		name     string
		migrated bool
	}{
		{"phone numbers", false},
		{"LIDs", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const me = "15551230000"
			srv := newServerConfig(t, fakewa.Config{Seed: 330 + int64(i), LIDMigration: tc.migrated})
			if err := srv.AddContact(contact, 2); err != nil {
				t.Fatal(err)
			}
			d, _ := newDialer(t, srv)
			ctx := context.Background()
			s, rec, acct := pairByCode(t, srv, d, "a1", me)
			_, _, other := pairByCode(t, srv, d, "a2", me)
			if tc.migrated {
				for _, a := range []core.Account{acct, other} {
					waitUntil(t, "the phone's history sync set the LID migration time of "+string(a.ID), func() bool {
						ts, err := whatsapp.LIDMigrationTime(ctx, d, a)
						return err == nil && ts > 0
					})
				}
			}

			sent, err := s.SendText(ctx, contact, "hello")
			if err != nil {
				t.Fatalf("SendText: %v", err)
			}
			got := srv.Received(contact)
			if len(got) != 2 {
				t.Errorf("contact's devices decrypted %d messages, want 2: %+v", len(got), got)
			}
			for _, m := range got {
				if byLID := strings.HasSuffix(m.To, "@"+types.HiddenUserServer); byLID != tc.migrated || m.ID != sent.ID {
					t.Errorf("contact got %+v: addressed to %s, want by LID %v", m, m.To, tc.migrated)
				}
			}
			if own := srv.Received(me); len(own) != 1 || !own[0].Copy || own[0].ID != sent.ID {
				t.Errorf("own phone got %+v, want a copy", own)
			}
			if st := srv.SendStats(); st.DecryptFailures != 0 || st.Undeliverable != 0 || st.Decrypted != 3 {
				t.Errorf("stats = %+v, want 3 decrypted and the other device's copy routed", st)
			}
			if ev := rec.next(core.SessionDelivered); ev.MessageID != sent.ID {
				t.Errorf("delivered %s, want %s", ev.MessageID, sent.ID)
			}
		})
	}
}
