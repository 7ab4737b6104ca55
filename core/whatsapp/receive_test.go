package whatsapp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"warden/core"
	"warden/core/coretest"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

// A session hands core what whatsmeow decrypted: texts, the kind and size
// of media, and its own phone's messages as its own, whether the account
// is addressed by phone number or, past its LID migration, by LID.
func TestReceiveTextsAndMedia(t *testing.T) {
	for i, tc := range []struct {
		name     string
		migrated bool
	}{
		{"phone numbers", false},
		{"LIDs", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServerConfig(t, fakewa.Config{Seed: 500 + int64(i), LIDMigration: tc.migrated})
			if err := srv.AddContact(contact, 1); err != nil {
				t.Fatal(err)
			}
			d, _ := newDialer(t, srv)
			_, rec, acct := pair(t, srv, d, "a1")
			me := phoneOf(t, acct.JID)
			if tc.migrated {
				waitUntil(t, "the LID migration", func() bool {
					ts, err := whatsapp.LIDMigrationTime(context.Background(), d, acct)
					return err == nil && ts > 0
				})
			}

			id, err := srv.SendText(contact, me, "hello")
			if err != nil {
				t.Fatal(err)
			}
			got := *rec.next(core.SessionMessage).Message
			if got.ID != id || got.Kind != core.KindText || got.Text != "hello" || got.FromMe || got.Offline ||
				got.Sender != contact+"@s.whatsapp.net" || got.Chat != contact+"@s.whatsapp.net" || got.At.IsZero() {
				t.Errorf("text = %+v, want %s from %s", got, id, contact)
			}
			if hasLID := got.SenderLID != ""; hasLID != tc.migrated {
				t.Errorf("sender LID %q; want one only when addressed by LID", got.SenderLID)
			}

			photo := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				Caption: proto.String("look"), Mimetype: proto.String("image/jpeg"), FileLength: proto.Uint64(123_456)}}
			id, err = srv.SendMessage(contact, me, photo)
			if err != nil {
				t.Fatal(err)
			}
			got = *rec.next(core.SessionMessage).Message
			if got.ID != id || got.Kind != core.KindImage || got.Text != "look" || got.Size != 123_456 || got.MimeType != "image/jpeg" {
				t.Errorf("image = %+v, want its kind, caption, size and type", got)
			}

			id, err = srv.SendText(me, me, "note from my phone")
			if err != nil {
				t.Fatal(err)
			}
			got = *rec.next(core.SessionMessage).Message
			if got.ID != id || !got.FromMe || got.Text != "note from my phone" {
				t.Errorf("own phone's message = %+v, want it marked as the account's own", got)
			}
			// Each was confirmed to WhatsApp once core took it.
			waitUntil(t, "WhatsApp has every message confirmed", func() bool { return srv.Pending(acct.JID) == 0 })
		})
	}
}

// A message core could not store is not confirmed: WhatsApp keeps it and
// delivers it again at the next login, marked as kept while away.
func TestRefusedMessageIsDeliveredAgain(t *testing.T) {
	srv := newServer(t, 510)
	if err := srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)
	s, rec, acct := pair(t, srv, d, "a1")
	rec.mu.Lock()
	rec.refuse = errors.New("disk full")
	rec.mu.Unlock()
	id, err := srv.SendText(contact, phoneOf(t, acct.JID), "keep me")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.next(core.SessionMessage).Message; got.ID != id {
		t.Fatalf("got %s, want %s", got.ID, id)
	}
	s.Close()
	if n := srv.Pending(acct.JID); n != 1 {
		t.Fatalf("WhatsApp holds %d unconfirmed messages after the refusal, want 1", n)
	}

	_, rec2 := connect(t, d, acct)
	got := rec2.next(core.SessionMessage).Message
	if got.ID != id || got.Text != "keep me" || !got.Offline {
		t.Fatalf("redelivered %+v, want %s again, marked offline", got, id)
	}
	waitUntil(t, "WhatsApp has the message confirmed", func() bool { return srv.Pending(acct.JID) == 0 })
}

// Messages sent while the account was away come at its login, in order,
// marked as kept while away.
func TestOfflineMessagesComeAtLogin(t *testing.T) {
	srv := newServer(t, 520)
	if err := srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	var ids []string
	for _, text := range []string{"one", "two", "three"} {
		id, err := srv.SendText(contact, phoneOf(t, acct.JID), text)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// whatsmeow hands over the queue as it comes, before or after it
	// reports the login.
	_, rec := connect(t, d, acct)
	for i, want := range ids {
		got := rec.next(core.SessionMessage).Message
		if got.ID != want || !got.Offline {
			t.Fatalf("message %d = %+v, want %s marked offline (server: %+v)", i+1, got, want, srv.ReceiveStats())
		}
	}
	id, err := srv.SendText(contact, phoneOf(t, acct.JID), "live")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.next(core.SessionMessage).Message; got.ID != id || got.Offline {
		t.Fatalf("live message = %+v, want %s not marked offline", got, id)
	}
}

// The phone's history sync, which moves a new companion to LID addressing,
// is read while the session lives: a Delete right after pairing removes the
// device's keys for good. whatsmeow's own reading stored it on a goroutine
// of its own after the Delete and wrote the device's row back.
func TestDeleteRightAfterPairingLeavesNoKeys(t *testing.T) {
	for i := range 3 {
		srv := newServerConfig(t, fakewa.Config{Seed: 530 + int64(i), LIDMigration: true})
		r := &rig{t: t, srv: srv, store: coretest.NewStore(), policy: testPolicy()}
		r.d, r.path = newDialer(t, srv)
		r.start()
		acct := r.add("Fresh")
		if err := r.m.Delete(context.Background(), acct.ID); err != nil {
			t.Fatal(err)
		}
		// Nothing may write the keys back after the Delete returned.
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			if r.hasKeys(acct) {
				t.Fatalf("run %d: the device's keys are back after Delete", i+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
