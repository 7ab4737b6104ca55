package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
	"warden/core/outbox"
	"warden/core/store"
)

// rig is a Warden with its Manager on a fake WhatsApp and its outbox, both
// on one bbolt file.
type rig struct {
	t    testing.TB
	path string
	cfg  outbox.Config
	db   *store.DB
	d    *coretest.Dialer
	m    *core.Manager
	o    *outbox.Outbox

	phones int // the phone numbers paired gave
}

// fastRetries makes a failing receiver retried quickly.
func fastRetries() outbox.Config {
	return outbox.Config{MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, AttemptTimeout: time.Second}
}

// newRig opens the store and the outbox; startManager starts the Manager.
func newRig(t testing.TB, cfg outbox.Config) *rig {
	t.Helper()
	r := &rig{t: t, path: filepath.Join(t.TempDir(), store.DBFile), cfg: cfg, d: coretest.NewDialer()}
	r.open()
	t.Cleanup(r.close)
	return r
}

// open opens the store and the outbox on it.
func (r *rig) open() {
	r.t.Helper()
	db, err := store.Open(r.path, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		r.t.Fatal(err)
	}
	r.db = db
	cfg := r.cfg
	cfg.Store = db
	if r.o, err = outbox.Open(context.Background(), cfg); err != nil {
		r.t.Fatal(err)
	}
}

// startManager starts a Manager on the store, with the outbox following it
// from its first event.
func (r *rig) startManager() {
	r.t.Helper()
	m, err := core.NewManager(core.Config{Dialer: r.d, Store: r.db, Inbox: r.o.Inbox(r.db), Policy: noJitter()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.m = m
	if err := r.o.Follow(context.Background(), m); err != nil {
		r.t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// close stops the Manager, the outbox and the store, as Warden does.
func (r *rig) close() {
	ctx := context.Background()
	if r.m != nil {
		_ = r.m.Close(ctx)
		r.m = nil
	}
	if r.o != nil {
		_ = r.o.Close(ctx)
		r.o = nil
	}
	if r.db != nil {
		_ = r.db.Close()
		r.db = nil
	}
}

func noJitter() core.Policy {
	p := core.DefaultPolicy()
	p.Jitter, p.StartSpread = 0, 0
	return p
}

// paired stores a paired account that was running, so Start connects it.
func (r *rig) paired(name string) core.AccountID {
	r.t.Helper()
	id := core.AccountID("acct-" + name)
	r.phones++
	jid := fmt.Sprintf("1555%07d.0:3@s.whatsapp.net", r.phones)
	r.d.AddDevice(jid)
	err := r.db.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// waitState waits until the account is in the state.
func (r *rig) waitState(id core.AccountID, want core.State) {
	r.t.Helper()
	waitFor(r.t, fmt.Sprintf("%s in %v", id, want), func() bool {
		st, _ := r.m.Status(id)
		return st.State == want
	})
}

// receive plays a message on the account's session; it fails the test
// unless the Manager stored it.
func (r *rig) receive(id core.AccountID, msgID string) {
	r.t.Helper()
	msg := core.Message{ID: msgID, Chat: "447700900123@s.whatsapp.net", Sender: "447700900123@s.whatsapp.net",
		Kind: core.KindText, Text: "hello " + msgID, At: time.Now()}
	if err := r.d.Last(id).Receive(msg); err != nil {
		r.t.Fatalf("receive %s: %v", msgID, err)
	}
}

// webhook registers a webhook to url for the events of the types given
// (none: all).
func (r *rig) webhook(url string, types ...string) outbox.Webhook {
	r.t.Helper()
	w, err := r.o.Create(context.Background(), outbox.Webhook{URL: url, Types: types})
	if err != nil {
		r.t.Fatal(err)
	}
	return w
}

// waitFor polls cond until it holds, or fails the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// delivery is one request a receiver got.
type delivery struct {
	ev     outbox.Event
	keys   []string // the body's top-level keys, sorted
	sigErr error    // Verify's verdict
	answer int      // the status it answered
}

// receiver is a webhook's receiving end on 127.0.0.1. Its answer decides,
// per event, the status it answers; 0 stalls until the request ends.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string

	mu sync.Mutex
	// mu guards the following
	answer func(ev outbox.Event, n int) int // n: the deliveries of this event ID so far
	got    []delivery
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, answer: func(outbox.Event, int) int { return http.StatusOK }}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// setAnswer changes how the receiver answers.
func (rc *receiver) setAnswer(f func(ev outbox.Event, n int) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ev outbox.Event
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &ev) != nil || json.Unmarshal(body, &fields) != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	n := 0
	for _, d := range rc.got {
		if d.ev.ID == ev.ID {
			n++
		}
	}
	status := rc.answer(ev, n)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	})
	rc.got = append(rc.got, delivery{ev: ev, keys: keys, sigErr: outbox.Verify(rc.secret, req.Header, body, time.Minute), answer: status})
	rc.mu.Unlock()
	if status == 0 {
		<-req.Context().Done() // stalls
		return
	}
	w.WriteHeader(status)
}

// taken returns the events the receiver answered 2xx, in order.
func (rc *receiver) taken() []outbox.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []outbox.Event
	for _, d := range rc.got {
		if d.answer >= 200 && d.answer < 300 {
			out = append(out, d.ev)
		}
	}
	return out
}

// all returns every request the receiver got.
func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitTaken waits until the receiver took n events, and returns them.
func (rc *receiver) waitTaken(n int) []outbox.Event {
	rc.t.Helper()
	waitFor(rc.t, fmt.Sprintf("%d events taken", n), func() bool { return len(rc.taken()) >= n })
	return rc.taken()
}

// checkSigned fails the test unless every request was signed with the
// receiver's secret and carried the contract's five fields.
func (rc *receiver) checkSigned() {
	rc.t.Helper()
	want := []string{"account", "data", "id", "time", "type"}
	for _, d := range rc.all() {
		if d.sigErr != nil {
			rc.t.Errorf("delivery of %s: Verify = %v", d.ev.ID, d.sigErr)
		}
		if !slices.Equal(d.keys, want) {
			rc.t.Errorf("delivery of %s has fields %v, want %v", d.ev.ID, d.keys, want)
		}
	}
}

// perAccount splits events by account, in order.
func perAccount(evs []outbox.Event) map[core.AccountID][]string {
	out := map[core.AccountID][]string{}
	for _, ev := range evs {
		out[ev.Account] = append(out[ev.Account], ev.ID)
	}
	return out
}

// freeAddr returns an address on 127.0.0.1 nothing listens on.
func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// register makes the receiver a webhook of the rig's outbox, for the types
// given (none: all).
func (rc *receiver) register(r *rig, types ...string) outbox.Webhook {
	rc.t.Helper()
	w := r.webhook(rc.srv.URL+"/hook", types...)
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	return w
}
