package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
)

// Every event type reaches a webhook, signed, with the
// contract's body.
func TestEveryEventTypeIsDelivered(t *testing.T) {
	r := newRig(t, fastRetries())
	rc := newReceiver(t)
	rc.register(r)
	id := r.paired("alfa")
	r.startManager()
	r.waitState(id, core.Connected)

	r.receive(id, "M1")
	res, err := r.m.SendText(context.Background(), id, "447700900123", "hi")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []core.SessionEventKind{core.SessionDelivered, core.SessionRead} {
		if err := r.d.Last(id).Emit(core.SessionEvent{Kind: kind, MessageID: res.MessageID, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	// A new account pairs, then its phone unlinks it.
	acct, err := r.m.Add(context.Background(), "bravo")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.m.Connect(context.Background(), acct.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a QR code", func() bool {
		st, _ := r.m.Status(acct.ID)
		return st.State == core.Pairing && st.QRCode != ""
	})
	r.d.Last(acct.ID).Pair()
	r.waitState(acct.ID, core.Connected)
	if err := r.d.Last(acct.ID).Emit(core.SessionEvent{Kind: core.SessionLoggedOut, Code: 401}); err != nil {
		t.Fatal(err)
	}

	want := []string{outbox.TypeMessageReceived, outbox.TypeMessageSent, outbox.TypeMessageDelivered, outbox.TypeMessageRead,
		outbox.TypeAccountState, outbox.TypeAccountPaired, outbox.TypeAccountLoggedOut, outbox.TypeAccountNeedsAction}
	waitFor(t, "every event type", func() bool {
		seen := map[string]bool{}
		for _, ev := range rc.taken() {
			seen[ev.Type] = true
		}
		return len(seen) == len(want)
	})
	rc.checkSigned()
	for _, ev := range rc.taken() {
		switch ev.Type {
		case outbox.TypeMessageReceived:
			var msg core.Message
			if err := json.Unmarshal(ev.Data, &msg); err != nil || msg.ID != "M1" || msg.Text != "hello M1" || ev.ID != outbox.MessageEventID(id, msg.Seq) {
				t.Errorf("message.received %s carries %+v (%v), want M1 and its text", ev.ID, msg, err)
			}
		case outbox.TypeMessageSent, outbox.TypeMessageDelivered, outbox.TypeMessageRead:
			var tl core.Event
			if err := json.Unmarshal(ev.Data, &tl); err != nil || tl.MessageID != res.MessageID {
				t.Errorf("%s carries %+v (%v), want message %s", ev.Type, tl, err, res.MessageID)
			}
		case outbox.TypeAccountLoggedOut, outbox.TypeAccountNeedsAction:
			var tl core.Event
			if err := json.Unmarshal(ev.Data, &tl); err != nil || ev.Account != acct.ID || tl.To != core.LoggedOut || tl.Reason == "" {
				t.Errorf("%s carries %+v (%v), want %s logged out, with the reason", ev.Type, tl, err, acct.ID)
			}
		}
	}
	// Every change of state, with its reason, in order.
	var states []string
	for _, ev := range rc.taken() {
		if ev.Type == outbox.TypeAccountState && ev.Account == id {
			var tl core.Event
			_ = json.Unmarshal(ev.Data, &tl)
			states = append(states, tl.From.String()+">"+tl.To.String())
		}
	}
	if !slices.Equal(states, []string{"Idle>Waiting", "Waiting>Connecting", "Connecting>Connected"}) {
		var all []string
		for _, d := range rc.all() {
			all = append(all, d.ev.ID)
		}
		t.Errorf("account.state of %s: %v, want Idle>Waiting, Waiting>Connecting, Connecting>Connected (all: %v)", id, states, all)
	}
}

// A receiver that answers 500, then stalls, then recovers gets every event,
// in order per account; another account's events go on meanwhile.
func TestFailingReceiverGetsEverythingInOrder(t *testing.T) {
	r := newRig(t, fastRetries())
	rc := newReceiver(t)
	a, b := r.paired("alfa"), r.paired("bravo")
	rc.register(r, outbox.TypeMessageReceived)
	r.startManager()
	r.waitState(a, core.Connected)
	r.waitState(b, core.Connected)

	// alfa's first message is refused three times, then stalls twice.
	first := outbox.MessageEventID(a, 1)
	rc.setAnswer(func(ev outbox.Event, n int) int {
		if ev.ID != first {
			return http.StatusOK
		}
		switch {
		case n < 3:
			return http.StatusInternalServerError
		case n < 5:
			return 0
		}
		return http.StatusOK
	})
	for i := range 5 {
		r.receive(a, fmt.Sprintf("A%d", i))
		r.receive(b, fmt.Sprintf("B%d", i))
	}
	// bravo is not held up by alfa's failing event.
	waitFor(t, "bravo's events", func() bool { return len(perAccount(rc.taken())[b]) == 5 })
	taken := rc.waitTaken(10)
	got := perAccount(taken)
	for _, id := range []core.AccountID{a, b} {
		want := []string{}
		for seq := range 5 {
			want = append(want, outbox.MessageEventID(id, uint64(seq+1)))
		}
		if !slices.Equal(got[id], want) {
			t.Errorf("%s's events arrived as %v, want %v", id, got[id], want)
		}
	}
	if n := len(rc.all()); n != 15 {
		t.Errorf("the receiver got %d requests, want 10 events and 5 failed attempts", n)
	}
	rc.checkSigned()
	infos, err := r.o.Webhooks(context.Background())
	if err != nil || len(infos) != 1 || !infos[0].Last.OK() || infos[0].Secret != "" {
		t.Errorf("Webhooks() = %+v, %v; want one, its last delivery fine, no secret", infos, err)
	}
}

// A receiver that is down, then comes up on its address, gets every event.
func TestReceiverDownThenUp(t *testing.T) {
	r := newRig(t, fastRetries())
	addr := freeAddr(t)
	rc := newReceiver(t)
	rc.srv.Close()
	w, err := r.o.Create(context.Background(), outbox.Webhook{URL: "http://" + addr + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = w.Secret
	id := r.paired("alfa")
	r.startManager()
	r.waitState(id, core.Connected)
	for i := range 3 {
		r.receive(id, fmt.Sprintf("M%d", i))
	}
	waitFor(t, "a failed attempt", func() bool {
		infos, _ := r.o.Webhooks(context.Background())
		return len(infos) == 1 && infos[0].Retrying == 1 && strings.Contains(infos[0].Last.Error, "no answer")
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewUnstartedServer(rc.srv.Config.Handler)
	up.Listener.Close()
	up.Listener = l
	up.Start()
	t.Cleanup(up.Close)

	var got []string
	for _, ev := range rc.waitTaken(6) { // three account.state, three messages
		got = append(got, ev.ID)
	}
	want := []string{outbox.MessageEventID(id, 1), outbox.MessageEventID(id, 2), outbox.MessageEventID(id, 3)}
	var msgs []string
	for _, g := range got {
		if strings.Contains(g, ":m") {
			msgs = append(msgs, g)
		}
	}
	if !slices.Equal(msgs, want) {
		t.Errorf("messages arrived as %v, want %v", msgs, want)
	}
	rc.checkSigned()
}

// An outbox closed while a delivery is in flight, and its file reopened,
// delivers that event again with the same ID.
func TestRestartMidDeliveryRedelivers(t *testing.T) {
	r := newRig(t, outbox.Config{AttemptTimeout: time.Minute, MinBackoff: 5 * time.Millisecond})
	rc := newReceiver(t)
	rc.setAnswer(func(ev outbox.Event, n int) int { return 0 }) // it stalls
	rc.register(r, outbox.TypeMessageReceived)
	id := r.paired("alfa")
	r.startManager()
	r.waitState(id, core.Connected)
	r.receive(id, "M1")
	waitFor(t, "the delivery in flight", func() bool { return len(rc.all()) == 1 })

	rc.setAnswer(func(outbox.Event, int) int { return http.StatusOK })
	r.close()
	r.open()
	taken := rc.waitTaken(1)
	all := rc.all()
	if taken[0].ID != all[0].ev.ID || taken[0].ID != outbox.MessageEventID(id, 1) {
		t.Fatalf("after the restart the receiver took %s, first got %s; want %s both times",
			taken[0].ID, all[0].ev.ID, outbox.MessageEventID(id, 1))
	}
	rc.checkSigned()
}

// An event the receiver refuses for the whole retry window is kept as a
// failure, the lane moves on, and a retry delivers it.
func TestFailedDeliveryIsListedAndRetried(t *testing.T) {
	cfg := fastRetries()
	cfg.RetryWindow = 200 * time.Millisecond
	r := newRig(t, cfg)
	rc := newReceiver(t)
	w := rc.register(r, outbox.TypeMessageReceived)
	id := r.paired("alfa")
	r.startManager()
	r.waitState(id, core.Connected)
	doomed := outbox.MessageEventID(id, 1)
	rc.setAnswer(func(ev outbox.Event, n int) int {
		if ev.ID == doomed {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r.receive(id, "M1")
	r.receive(id, "M2")
	rc.waitTaken(1)

	ctx := context.Background()
	fails, err := r.o.Failures(ctx, w.ID)
	if err != nil || len(fails) != 1 || fails[0].Event.ID != doomed || fails[0].Attempts < 2 ||
		!strings.Contains(fails[0].Last.Error, "503") {
		t.Fatalf("Failures = %+v, %v; want %s, tried several times, its last error the 503", fails, err, doomed)
	}
	if _, err := r.o.Retry(ctx, w.ID, doomed); !errors.Is(err, outbox.ErrDeliveryFailed) {
		t.Fatalf("Retry of a still refused event = %v, want ErrDeliveryFailed", err)
	}
	rc.setAnswer(func(outbox.Event, int) int { return http.StatusOK })
	if res, err := r.o.Retry(ctx, w.ID, doomed); err != nil || !res.OK() {
		t.Fatalf("Retry = %+v, %v; want it delivered", res, err)
	}
	if fails, err := r.o.Failures(ctx, w.ID); err != nil || len(fails) != 0 {
		t.Fatalf("Failures after the retry = %+v, %v; want none", fails, err)
	}
	taken := rc.taken()
	if len(taken) != 2 || taken[1].ID != doomed {
		t.Fatalf("taken %v, want M2's event then the retried M1's", taken)
	}
	rc.checkSigned()
}

// A stream gives the stored events after a Seq, then the live ones, in the
// outbox's order; a client resumes after the last Seq it saw.
func TestSubscribeResumes(t *testing.T) {
	r := newRig(t, fastRetries())
	id := r.paired("alfa")
	r.startManager()
	r.waitState(id, core.Connected)
	r.receive(id, "M1")

	ctx, cancel := context.WithCancel(context.Background())
	stream, err := r.o.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := readUntil(t, stream, outbox.MessageEventID(id, 1))
	r.receive(id, "M2") // live
	seen = append(seen, readUntil(t, stream, outbox.MessageEventID(id, 2))...)
	cancel()
	for i := 1; i < len(seen); i++ {
		if seen[i].Seq <= seen[i-1].Seq {
			t.Fatalf("stream order: %d then %d", seen[i-1].Seq, seen[i].Seq)
		}
	}

	r.receive(id, "M3")
	last := seen[len(seen)-2] // the client saw up to the event before M2's
	resumed, err := r.o.Subscribe(context.Background(), last.Seq)
	if err != nil {
		t.Fatal(err)
	}
	got := readUntil(t, resumed, outbox.MessageEventID(id, 3))
	if got[0].ID != outbox.MessageEventID(id, 2) {
		t.Fatalf("resumed after %d with %s, want M2's event", last.Seq, got[0].ID)
	}
}

// readUntil reads the stream up to the event id, and returns what it read.
func readUntil(t *testing.T, stream <-chan outbox.Event, id string) []outbox.Event {
	t.Helper()
	var out []outbox.Event
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-stream:
			if !ok {
				t.Fatalf("the stream ended before %s", id)
			}
			out = append(out, ev)
			if ev.ID == id {
				return out
			}
		case <-timeout:
			t.Fatalf("no %s on the stream", id)
		}
	}
}

// A webhook gets only its accounts' events of its types; Test reaches it
// without storing anything; a deleted webhook gets nothing more; a bad URL
// or type is refused.
func TestWebhookFiltersTestAndDelete(t *testing.T) {
	r := newRig(t, fastRetries())
	ctx := context.Background()
	a, b := r.paired("alfa"), r.paired("bravo")
	rc := newReceiver(t)
	w, err := r.o.Create(ctx, outbox.Webhook{URL: rc.srv.URL, Accounts: []core.AccountID{b}, Types: []string{outbox.TypeMessageReceived}})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = w.Secret
	for _, bad := range []outbox.Webhook{{URL: "ftp://127.0.0.1/"}, {URL: rc.srv.URL, Types: []string{"message.exploded"}}} {
		if _, err := r.o.Create(ctx, bad); !errors.Is(err, outbox.ErrInvalidWebhook) {
			t.Errorf("Create(%+v) = %v, want ErrInvalidWebhook", bad, err)
		}
	}
	if res, err := r.o.Test(ctx, w.ID); err != nil || !res.OK() {
		t.Fatalf("Test = %+v, %v; want it taken", res, err)
	}
	r.startManager()
	r.waitState(a, core.Connected)
	r.waitState(b, core.Connected)
	r.receive(a, "A1")
	r.receive(b, "B1")
	taken := rc.waitTaken(2)
	if taken[0].Type != outbox.TypeTest || taken[1].ID != outbox.MessageEventID(b, 1) {
		t.Fatalf("taken %+v, want the test event, then bravo's message only", taken)
	}
	if err := r.o.Delete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.o.Test(ctx, w.ID); !errors.Is(err, outbox.ErrUnknownWebhook) {
		t.Fatalf("Test of a deleted webhook = %v, want ErrUnknownWebhook", err)
	}
	// A second webhook, for everything, gets bravo's next message; the
	// deleted one does not.
	rc2 := newReceiver(t)
	rc2.register(r, outbox.TypeMessageReceived)
	r.receive(b, "B2")
	rc2.waitTaken(1)
	if n := len(rc.all()); n != 2 {
		t.Fatalf("the deleted webhook got %d requests, want the 2 from before", n)
	}
	rc.checkSigned()
}
