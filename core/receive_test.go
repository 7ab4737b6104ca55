package core_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// incoming is a text from a contact, as the adapter hands it over.
func incoming(id, text string) core.Message {
	return core.Message{ID: id, Chat: "447700900123@s.whatsapp.net", Sender: "447700900123@s.whatsapp.net",
		Kind: core.KindText, Text: text, At: time.Now()}
}

// receive plays a message on the account's current session and fails the
// test unless the Manager stored it.
func (r *rig) receive(id core.AccountID, m core.Message) {
	r.t.Helper()
	if err := r.d.Last(id).Receive(m); err != nil {
		r.t.Fatalf("receive %s: %v", m.ID, err)
	}
}

func TestReceivedMessageIsStoredAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("alfa", "15550001111")
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connected)

		r.receive(id, incoming("M1", "hello"))
		time.Sleep(time.Minute)
		r.receive(id, incoming("M2", "again"))
		// WhatsApp delivers M1 again: stored once, counted once.
		r.receive(id, incoming("M1", "hello"))

		msgs, err := r.s.Messages(context.Background(), id, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || msgs[0].ID != "M1" || msgs[0].Text != "hello" || msgs[0].Seq != 1 || msgs[1].ID != "M2" || msgs[1].Seq != 2 {
			t.Fatalf("stored messages = %+v, want M1 and M2 once each", msgs)
		}
		if msgs[0].Account != id || msgs[0].Received.IsZero() {
			t.Errorf("stored message %+v lacks its account or its time of arrival", msgs[0])
		}
		st := r.status(id)
		in, out := st.Traffic.Today(time.Now())
		if in != 2 || out != 0 || !st.Traffic.LastIn.Equal(msgs[1].Received) {
			t.Fatalf("traffic = %+v (in %d, out %d), want 2 in, the last at %v", st.Traffic, in, out, msgs[1].Received)
		}
		// One note: the session's first message. The second, a minute later,
		// and the redelivery leave none.
		notes := r.notes(id, core.CauseReceived)
		if len(notes) != 1 || notes[0].MessageID != "M1" || !strings.Contains(notes[0].Reason, "first message since the account connected") {
			t.Fatalf("received notes = %+v, want one for M1", notes)
		}
		if strings.Contains(notes[0].Reason, "7700900123") || strings.Contains(notes[0].Reason, "hello") {
			t.Errorf("the note %q shows the whole number or the text", notes[0].Reason)
		}
	})
}

func TestReceivedAfterSilenceIsNoted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("bravo", "15550002222")
		r.startManager()
		synctest.Wait()

		r.receive(id, incoming("M1", "one"))
		time.Sleep(core.SilenceGap - time.Minute)
		r.receive(id, incoming("M2", "two")) // not silent long enough
		time.Sleep(2*time.Hour + 5*time.Minute)
		photo := incoming("M3", "")
		photo.Kind, photo.Size = core.KindImage, 1_234_567
		r.receive(id, photo)

		notes := r.notes(id, core.CauseReceived)
		if len(notes) != 2 || notes[1].MessageID != "M3" {
			t.Fatalf("received notes = %+v, want M1 and M3", notes)
		}
		if want := "first message in 2 h 5 min: an image of 1.2 MB from …0123"; notes[1].Reason != want {
			t.Errorf("note after the silence = %q, want %q", notes[1].Reason, want)
		}
	})
}

func TestFirstMessageOfEachSessionIsNoted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("charlie", "15550003333")
		r.startManager()
		synctest.Wait()
		r.receive(id, incoming("M1", "one"))

		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected, Reason: "stream error 503"})
		synctest.Wait()
		time.Sleep(4 * time.Second) // the first retry comes after 3 s
		synctest.Wait()
		r.wantState(id, core.Connected)
		r.receive(id, incoming("M2", "two"))

		notes := r.notes(id, core.CauseReceived)
		if len(notes) != 2 || notes[1].MessageID != "M2" {
			t.Fatalf("received notes = %+v, want one per session", notes)
		}
	})
}

// A message the store cannot take is refused: the adapter then withholds
// the delivery receipt, and WhatsApp delivers it again.
func TestMessageTheStoreRefusesIsNotAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("delta", "15550004444")
		r.startManager()
		synctest.Wait()

		full := errors.New("no space left on device")
		r.s.SetErr(full)
		if err := r.d.Last(id).Receive(incoming("M1", "lost?")); !errors.Is(err, full) {
			t.Fatalf("Receive with a failing store = %v, want the store's error", err)
		}
		r.s.SetErr(nil)
		if in, _ := r.status(id).Traffic.Today(time.Now()); in != 0 {
			t.Fatalf("a refused message was counted: in = %d", in)
		}
		// The redelivery is stored.
		r.receive(id, incoming("M1", "lost?"))
		if msgs, _ := r.s.Messages(context.Background(), id, 0, 10); len(msgs) != 1 {
			t.Fatalf("after the redelivery the store has %d messages, want 1", len(msgs))
		}
	})
}

// A Manager whose store keeps no messages refuses them: nothing is lost,
// WhatsApp keeps them.
func TestNoInboxRefusesMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, s := coretest.NewDialer(), storeOnly{coretest.NewStore()}
		m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		d.AddDevice("15550005555.0:3@s.whatsapp.net")
		_ = s.PutAccount(context.Background(), core.Account{ID: "e", Name: "echo", JID: "15550005555.0:3@s.whatsapp.net", CreatedAt: time.Now(), AutoStart: true})
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := d.Last("e").Receive(incoming("M1", "x")); !errors.Is(err, core.ErrNoInbox) {
			t.Fatalf("Receive without an inbox = %v, want ErrNoInbox", err)
		}
	})
}

// storeOnly hides the inbox of a store.
type storeOnly struct{ core.Store }

func TestTrafficCountsOutAndResetsAtMidnight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("foxtrot", "15550006666")
		r.startManager()
		synctest.Wait()

		if _, err := r.m.SendText(context.Background(), id, "447700900123", "hi"); err != nil {
			t.Fatal(err)
		}
		// The account's own phone wrote: a copy, counted out, not in.
		own := incoming("M1", "from my phone")
		own.FromMe = true
		r.receive(id, own)
		r.receive(id, incoming("M2", "reply"))
		// A self-check is not traffic.
		r.m.SetPolicy(func() core.Policy { p := noJitter(); p.SelfCheckEvery = time.Hour; return p }())
		time.Sleep(time.Hour + time.Minute)
		synctest.Wait()
		if r.status(id).LastCheck.At.IsZero() {
			t.Fatal("no self-check ran")
		}

		now := time.Now()
		if in, out := r.status(id).Traffic.Today(now); in != 1 || out != 2 {
			t.Fatalf("today: in %d, out %d; want 1 in (the reply) and 2 out (the send and the phone's)", in, out)
		}
		tomorrow := now.Add(24 * time.Hour)
		if in, out := r.status(id).Traffic.Today(tomorrow); in != 0 || out != 0 {
			t.Fatalf("tomorrow, before any traffic: in %d, out %d; want 0, 0", in, out)
		}
	})
}

// A restart counts today's traffic again from the store.
func TestTrafficSurvivesRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("golf", "15550007777")
		r.startManager()
		synctest.Wait()
		if _, err := r.m.SendText(context.Background(), id, "447700900123", "hi"); err != nil {
			t.Fatal(err)
		}
		r.receive(id, incoming("M1", "one"))
		r.receive(id, incoming("M2", "two"))
		before := r.status(id).Traffic
		if err := r.m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}

		m, err := core.NewManager(core.Config{Dialer: r.d, Store: r.s, Policy: noJitter()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		st, _ := m.Status(id)
		in, out := st.Traffic.Today(time.Now())
		if in != 2 || out != 1 || !st.Traffic.LastIn.Equal(before.LastIn) {
			t.Fatalf("after a restart: %+v (in %d, out %d); before it: %+v", st.Traffic, in, out, before)
		}
	})
}

func TestQuietAccounts(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	conn := func(id string, connectedAgo, lastInAgo time.Duration) core.Status {
		s := core.Status{Account: core.Account{ID: core.AccountID(id)}, State: core.Connected, Since: now.Add(-connectedAgo)}
		if lastInAgo > 0 {
			s.Traffic.LastIn = now.Add(-lastInAgo)
		}
		return s
	}
	busy := func(n int) []core.Status {
		var out []core.Status
		for i := range n {
			out = append(out, conn(fmt.Sprint("busy", i), 5*time.Hour, time.Duration(i+1)*time.Minute))
		}
		return out
	}
	silent := conn("silent", 5*time.Hour, 2*time.Hour)
	cases := []struct {
		name string
		sts  []core.Status
		want map[core.AccountID]core.Quiet
	}{
		{"three peers receive", append(busy(3), silent), map[core.AccountID]core.Quiet{"silent": {For: 2 * time.Hour, Active: 3, Peers: 3}}},
		{"two peers are not enough", append(busy(2), silent), nil},
		{"connected less than the window", append(busy(3), conn("new", 50*time.Minute, 0)), nil},
		{"never received, connected long", append(busy(4), conn("never", 3*time.Hour, 0)), map[core.AccountID]core.Quiet{"never": {For: 3 * time.Hour, Active: 4, Peers: 4}}},
		{"most peers are silent too", append(busy(3), silent, conn("s2", 5*time.Hour, 0), conn("s3", 5*time.Hour, 0), conn("s4", 5*time.Hour, 0), conn("s5", 5*time.Hour, 0)), nil},
		{"a waiting account is no peer and not quiet", append(busy(3), silent, core.Status{Account: core.Account{ID: "w"}, State: core.Waiting}), map[core.AccountID]core.Quiet{"silent": {For: 2 * time.Hour, Active: 3, Peers: 3}}},
	}
	for _, c := range cases {
		if got := core.QuietAccounts(c.sts, now); !maps.Equal(got, c.want) {
			t.Errorf("%s: QuietAccounts = %v, want %v", c.name, got, c.want)
		}
	}
}
