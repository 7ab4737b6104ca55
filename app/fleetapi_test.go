package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/outbox"
	"warden/core/store/postgres"
)

// The HTTP API and the webhooks of a fleet of node processes (the rig of
// fleetproc_test.go): any node's API serves every account, its commands
// going to the node that runs the account; the outbox lives in PostgreSQL,
// and the node that owns an account delivers its events, until it dies and
// another takes the account and its deliveries over.

// fleetDB opens the fleet's PostgreSQL for the test, as an operator's tool
// would.
func fleetDB(t *testing.T, dsn string) *postgres.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fleetKey stores an API key in the fleet's database and returns its token.
func fleetKey(t *testing.T, db *postgres.DB) string {
	t.Helper()
	k, token, err := api.NewKey("fleet e2e", false, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return token
}

// call makes an API request with the key and returns the status and body.
func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, got
}

// phoneOf returns the phone number of a device's JID.
func phoneOf(jid string) string {
	phone, _, _ := strings.Cut(jid, ".")
	phone, _, _ = strings.Cut(phone, ":")
	phone, _, _ = strings.Cut(phone, "@")
	return phone
}

// A command through one node's API for an account the other node runs
// reaches the owner's session: a message sent reaches the contact on
// WhatsApp (and the account stays where it ran), and a disconnect and a
// connect close and open the device's one session.
func TestFleetAPICommandGoesToOwner(t *testing.T) {
	r := newFleetRig(t, 1, 2)
	if err := r.srv.AddContact(apiContact, 1); err != nil {
		t.Fatal(err)
	}
	token := fleetKey(t, fleetDB(t, r.dsn))
	addrs := map[string]string{}
	for _, name := range []string{"a", "b"} {
		p := r.addNode(t, name)
		addrs[name] = freeAddr(t)
		p.extra = []string{"--api", addrs[name]}
	}
	r.startFleet(t, "a", "b")
	acct := r.accts[0]
	owners, _, err := r.view()
	if err != nil {
		t.Fatal(err)
	}
	owner := owners[acct.id]
	other := map[string]string{"a": "b", "b": "a"}[owner]
	base := "http://" + addrs[other] + "/v1/accounts/" + string(acct.id)

	status, body := call(t, http.MethodPost, base+"/messages", token, map[string]string{"to": "+" + apiContact, "text": "sent through b"})
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("send through node %s's API = %d %s", other, status, body)
	}
	var sent struct{ ID string }
	if err := json.Unmarshal(body, &sent); err != nil || sent.ID == "" {
		t.Fatalf("send answered %s, %v; want the message's id", body, err)
	}
	r.waitFor(t, "the contact receives the message", 30*time.Second, func() error {
		for _, m := range r.srv.Received(apiContact) {
			if m.ID == sent.ID && m.Text == "sent through b" {
				return nil
			}
		}
		return fmt.Errorf("the contact received %+v", r.srv.Received(apiContact))
	})
	if owners, _, err := r.view(); err != nil || owners[acct.id] != owner {
		t.Fatalf("the account is owned by %q (%v), want still %s: %s must not have run it", owners[acct.id], err, owner, other)
	}

	if status, body := call(t, http.MethodPost, base+"/disconnect", token, nil); status/100 != 2 {
		t.Fatalf("disconnect through node %s's API = %d %s", other, status, body)
	}
	r.waitFor(t, "node "+owner+"'s session closes", 30*time.Second, func() error {
		if n := r.srv.LoggedIn(acct.jid); n != 0 {
			return fmt.Errorf("%d clients logged in", n)
		}
		return nil
	})
	before := r.srv.Logins(acct.jid)
	if status, body := call(t, http.MethodPost, base+"/connect", token, nil); status/100 != 2 {
		t.Fatalf("connect through node %s's API = %d %s", other, status, body)
	}
	r.waitFor(t, "the account logs in again", 30*time.Second, func() error {
		if r.srv.Logins(acct.jid) <= before || r.srv.LoggedIn(acct.jid) != 1 {
			return fmt.Errorf("%d logins since, %d logged in", r.srv.Logins(acct.jid)-before, r.srv.LoggedIn(acct.jid))
		}
		return nil
	})
	// The account runs where a command put it (on either node: the
	// disconnect may have let it go); once, in any case (waitFor checks).
}

// hookReceiver is a webhook receiver: it checks every delivery's signature,
// keeps the events it took (answered 200), and while stalling holds each
// request until its sender goes away.
type hookReceiver struct {
	secret string

	mu      sync.Mutex
	taken   []outbox.Event
	bodies  map[string]string // an event's body, by ID: a redelivery carries the same
	bad     []string          // what was wrong with a delivery
	stall   bool
	holding []string // the IDs of the requests held
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ev outbox.Event
	h.mu.Lock()
	if err := outbox.Verify(h.secret, req.Header, body, 5*time.Minute); err != nil {
		h.bad = append(h.bad, fmt.Sprintf("a delivery's signature: %v", err))
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != req.Header.Get("Warden-Event-Id") {
		h.bad = append(h.bad, fmt.Sprintf("a delivery's body %s (%v) and event ID header %q", body, err, req.Header.Get("Warden-Event-Id")))
	}
	if was, ok := h.bodies[ev.ID]; ok && was != string(body) {
		h.bad = append(h.bad, fmt.Sprintf("event %s delivered again with another body: %s, then %s", ev.ID, was, body))
	}
	if h.stall {
		h.holding = append(h.holding, ev.ID)
		h.mu.Unlock()
		<-req.Context().Done() // until the sender goes away
		return
	}
	h.bodies[ev.ID] = string(body)
	h.taken = append(h.taken, ev)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) setStall(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stall = on
}

// state returns the events taken and the requests held so far.
func (h *hookReceiver) state() (taken []outbox.Event, holding []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.taken), slices.Clone(h.holding)
}

// tookID reports whether an event of the ID was taken.
func (h *hookReceiver) tookID(id string) bool {
	taken, _ := h.state()
	return slices.ContainsFunc(taken, func(ev outbox.Event) bool { return ev.ID == id })
}

// A webhook (stored in the fleet's database, as any node's API would) is
// delivered the events of an account by the node that owns it. That node is
// killed (SIGKILL) while the receiver holds a delivery; another node takes
// the account over and delivers: the receiver gets every event of the
// account at least once, with the same IDs and bodies, in order, signed;
// and the timeline of the new owner's reconnection comes as events too.
func TestFleetWebhookSurvivesKilledNode(t *testing.T) {
	r := newFleetRig(t, 1, 1)
	const contact = "447700900456"
	if err := r.srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	db := fleetDB(t, r.dsn)
	token := fleetKey(t, db)
	addrs := map[string]string{}
	for _, name := range []string{"a", "b"} {
		p := r.addNode(t, name)
		addrs[name] = freeAddr(t)
		p.extra = []string{"--api", addrs[name]}
	}
	r.startFleet(t, "a", "b")
	acct := r.accts[0]
	owners, _, err := r.view()
	if err != nil {
		t.Fatal(err)
	}
	first := owners[acct.id]
	second := map[string]string{"a": "b", "b": "a"}[first]

	rc := &hookReceiver{bodies: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rc}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	// The webhook is registered through the API of the node that does not
	// run the account: the fleet's webhooks are every node's.
	status, body := call(t, http.MethodPost, "http://"+addrs[second]+"/v1/webhooks", token, map[string]string{"url": "http://" + ln.Addr().String() + "/hook"})
	var created struct{ ID, Secret string }
	if err := json.Unmarshal(body, &created); status != http.StatusCreated || err != nil || created.Secret == "" {
		t.Fatalf("POST /v1/webhooks on node %s = %d %s", second, status, body)
	}
	rc.mu.Lock()
	rc.secret = created.Secret
	rc.mu.Unlock()
	hooks, err := db.Webhooks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(hooks, func(w outbox.Webhook) bool { return w.ID == created.ID })
	if i < 0 {
		t.Fatalf("webhook %s is not in the fleet's database: %+v", created.ID, hooks)
	}
	w := hooks[i]
	// And an event stream on that node, which outlives the owner.
	stream := openStream(t, "http://"+addrs[second]+"/v1/events", token)

	phone := phoneOf(acct.jid)
	send := func(text string) string {
		t.Helper()
		id, err := r.srv.SendText(contact, phone, text)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// waitMessage waits until the message's event is stored, and returns
	// its ID.
	waitMessage := func(msgID string) string {
		t.Helper()
		var evID string
		r.waitFor(t, "message "+msgID+" stored with its event", 30*time.Second, func() error {
			evs, err := db.OutboxAccountEvents(context.Background(), acct.id, w.After, 1000)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				var m core.Message
				if ev.Type == outbox.TypeMessageReceived && json.Unmarshal(ev.Data, &m) == nil && m.ID == msgID {
					evID = ev.ID
					return nil
				}
			}
			return fmt.Errorf("not among %d events", len(evs))
		})
		return evID
	}

	// The owner delivers, once the webhook reached it.
	m1 := waitMessage(send("before the crash"))
	r.waitFor(t, "the receiver takes the first message's event", 30*time.Second, func() error {
		if !rc.tookID(m1) {
			return fmt.Errorf("taken so far: %d", len(rc.taken))
		}
		return nil
	})

	// The receiver stalls; the owner is killed while it waits for an
	// answer.
	rc.setStall(true)
	m2 := waitMessage(send("during the crash"))
	r.waitFor(t, "the owner posts an event the receiver holds", 30*time.Second, func() error {
		if _, holding := rc.state(); len(holding) == 0 {
			return fmt.Errorf("nothing held")
		}
		return nil
	})
	before := r.logins()
	killed := time.Now()
	r.kill(t, first)
	rc.setStall(false)
	r.back(t, []rigAccount{acct}, before, 30*time.Second)
	r.waitFor(t, "node "+second+" owns the account", 30*time.Second, func() error { return r.settled([]string{second}, false) })
	m3 := waitMessage(send("after the crash"))

	// Every event of the account stored since the webhook, delivered.
	var want []outbox.Event
	r.waitFor(t, "the receiver takes every event of the account", time.Minute, func() error {
		evs, err := db.OutboxAccountEvents(context.Background(), acct.id, w.After, 10000)
		if err != nil {
			return err
		}
		want = evs
		for _, ev := range evs {
			if !rc.tookID(ev.ID) {
				return fmt.Errorf("event %s (%s) not taken", ev.ID, ev.Type)
			}
		}
		return nil
	})
	taken, holding := rc.state()
	t.Logf("%d events stored; %d deliveries taken; held when node %s was killed: %v", len(want), len(taken), first, holding)
	for _, id := range []string{m1, m2, m3} {
		if !slices.ContainsFunc(want, func(ev outbox.Event) bool { return ev.ID == id }) {
			t.Errorf("message event %s is not among the account's events", id)
		}
	}
	// In order: each event's first delivery comes after the previous one's.
	var firsts []string
	seen := map[string]bool{}
	for _, ev := range taken {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			firsts = append(firsts, ev.ID)
		}
	}
	var wantIDs []string
	for _, ev := range want {
		wantIDs = append(wantIDs, ev.ID)
	}
	if !slices.Equal(firsts[:min(len(firsts), len(wantIDs))], wantIDs) {
		t.Errorf("first deliveries in the order\n%v\nwant the outbox's\n%v", firsts, wantIDs)
	}
	rc.mu.Lock()
	if len(rc.bad) > 0 {
		t.Errorf("bad deliveries: %v", rc.bad)
	}
	rc.mu.Unlock()

	// The new owner turned its reconnection into events: every state
	// change of the account's timeline since the kill is an account.state
	// event (no gap where the follower changed nodes).
	timeline, err := db.Events(context.Background(), acct.id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, ev := range timeline {
		if ev.At.Before(killed) || ev.From == ev.To {
			continue
		}
		changes++
		if id := outbox.TimelineEventID(acct.id, ev.Seq, outbox.TypeAccountState); !seen[id] {
			t.Errorf("timeline event %d (%v → %v) was not delivered as %s", ev.Seq, ev.From, ev.To, id)
		}
	}
	if changes == 0 {
		t.Errorf("no state change in the timeline since the kill; want the takeover's")
	}
	// The stream on node `second` carried the account's events, the
	// ones its dead owner stored among them.
	r.waitFor(t, "node "+second+"'s event stream carries every message's event", 30*time.Second, func() error {
		for _, id := range []string{m1, m2, m3} {
			if !stream.has(id) {
				return fmt.Errorf("event %s not streamed", id)
			}
		}
		return nil
	})
}

// eventStream reads a Server-Sent Events stream of the API in the
// background and keeps the IDs of the events it carried.
type eventStream struct {
	mu  sync.Mutex
	ids map[string]bool
}

func openStream(t *testing.T, url, token string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	s := &eventStream{ids: map[string]bool{}}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var ev outbox.Event
			if json.Unmarshal([]byte(data), &ev) == nil {
				s.mu.Lock()
				s.ids[ev.ID] = true
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *eventStream) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}
