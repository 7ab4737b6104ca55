package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
	"warden/core/pgserver"
	"warden/core/store/postgres"
)

// Two nodes' outboxes on one PostgreSQL, as in a fleet: each delivers the
// accounts it owns (Config.Owns, which core/cluster answers in Warden).

// fleetNode is one node: its connection to the database, its outbox, and
// its timeline.
type fleetNode struct {
	name string
	db   *postgres.DB
	o    *outbox.Outbox
	tl   *liveTimeline
}

// liveTimeline is a node's Manager's timeline as the outbox follows it: the
// events this node records, live, and the fleet's stored timeline.
type liveTimeline struct {
	db       *postgres.DB
	accounts []core.AccountID
	live     chan core.Event
}

func (tl *liveTimeline) SubscribeEvents() (<-chan core.Event, func()) { return tl.live, func() {} }

func (tl *liveTimeline) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	return tl.db.Events(ctx, id, limit)
}

func (tl *liveTimeline) Statuses() []core.Status {
	var out []core.Status
	for _, id := range tl.accounts {
		out = append(out, core.Status{Account: core.Account{ID: id}})
	}
	return out
}

// record stores a state change of the account in the fleet's timeline, as
// the node's Manager does, and shows it live to the node's follower.
func (n *fleetNode) record(t *testing.T, id core.AccountID, seq uint64) {
	t.Helper()
	from, to := core.Connecting, core.Connected
	if seq%2 == 0 {
		from, to = to, from
	}
	ev := core.Event{Account: id, Seq: seq, At: time.Now(), From: from, To: to, Cause: "test"}
	if err := n.db.AppendEvents(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	n.tl.live <- ev
}

// fleetReceiver takes deliveries, noting which node made each; while it
// stalls it holds them until their sender goes away.
type fleetReceiver struct {
	mu      sync.Mutex
	taken   []outbox.Event
	by      []string // the node of each taken event
	held    []string // the node of each held request
	stall   bool
	secret  string
	badSigs int
}

func (rc *fleetReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var ev outbox.Event
	_ = json.Unmarshal(body, &ev)
	node := req.Header.Get("X-Test-Node")
	rc.mu.Lock()
	if rc.secret != "" && outbox.Verify(rc.secret, req.Header, body, time.Minute) != nil {
		rc.badSigs++
	}
	if rc.stall {
		rc.held = append(rc.held, node)
		rc.mu.Unlock()
		<-req.Context().Done()
		return
	}
	rc.taken, rc.by = append(rc.taken, ev), append(rc.by, node)
	rc.mu.Unlock()
}

// tagged is a transport that names the node in each request.
type tagged struct{ node string }

func (tg tagged) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Test-Node", tg.node)
	return http.DefaultTransport.RoundTrip(req)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A webhook created on node b is delivered by node a, which owns the
// account; the account moves to b while a's delivery is held: a makes no
// attempt after, b delivers from the stored place, every event once at
// least, in order. The timeline is turned into events by the owner only,
// the events a recorded after it lost the account by b, none twice; and
// an event stream on b carries what a stored.
// openFleetNodes opens nodes a and b on a new database holding the account,
// each owning it while owner names it.
func openFleetNodes(t *testing.T, owner *atomic.Value, acct core.AccountID) (a, b *fleetNode) {
	t.Helper()
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	ctx := context.Background()
	nodes := map[string]*fleetNode{}
	for _, name := range []string{"a", "b"} {
		var db *postgres.DB
		if name == "a" {
			db = openDatabase(t, admin, dsn, "fleet")
			if err := db.PutAccount(ctx, core.Account{ID: acct, Name: "X", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
		} else if db, err = postgres.Open(ctx, dsnOf(dsn, "fleet"), nil); err != nil {
			t.Fatal(err)
		} else {
			t.Cleanup(func() { _ = db.Close() })
		}
		o, err := outbox.Open(ctx, outbox.Config{Store: db, Client: &http.Client{Transport: tagged{name}},
			Owns: func(core.AccountID) bool { return owner.Load() == name }, Poll: 20 * time.Millisecond,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, AttemptTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = o.Close(ctx) })
		n := &fleetNode{name: name, db: db, o: o, tl: &liveTimeline{db: db, accounts: []core.AccountID{acct}, live: make(chan core.Event, 100)}}
		if err := o.Follow(ctx, n.tl); err != nil {
			t.Fatal(err)
		}
		nodes[name] = n
	}
	return nodes["a"], nodes["b"]
}

// message stores the account's message i on node n, with its event.
func (n *fleetNode) message(t *testing.T, acct core.AccountID, i int) {
	t.Helper()
	m := core.Message{Account: acct, ID: "3EB0" + string(rune('A'+i)), Chat: "15550001111@s.whatsapp.net",
		Sender: "15550001111@s.whatsapp.net", Kind: core.KindText, Text: "hi", At: time.Now(), Received: time.Now()}
	if _, _, err := n.o.Inbox(n.db).PutMessage(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxFleetHandover(t *testing.T) {
	ctx := context.Background()
	const acct = core.AccountID("x")
	var owner atomic.Value
	owner.Store("a")
	a, b := openFleetNodes(t, &owner, acct)

	stream, err := b.o.Subscribe(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}

	rc := &fleetReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	w, err := b.o.Create(ctx, outbox.Webhook{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = w.Secret
	rc.mu.Unlock()
	taken := func() ([]outbox.Event, []string, []string) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return slices.Clone(rc.taken), slices.Clone(rc.by), slices.Clone(rc.held)
	}

	// a owns the account: its messages and timeline become events, which
	// a delivers.
	a.message(t, acct, 1)
	a.record(t, acct, 1)
	a.record(t, acct, 2)
	waitUntil(t, "the receiver takes a's first 2 events", func() bool { evs, _, _ := taken(); return len(evs) >= 2 })

	rc.mu.Lock()
	rc.stall = true
	rc.mu.Unlock()
	a.message(t, acct, 2)
	waitUntil(t, "a's delivery is held", func() bool { _, _, held := taken(); return len(held) > 0 })
	// The receiver answers again (a's held request stays held), and the
	// account moves to b; a, still running, records one more timeline
	// event (its yield) that it must leave to b.
	rc.mu.Lock()
	rc.stall = false
	rc.mu.Unlock()
	owner.Store("b")
	a.record(t, acct, 3)
	b.record(t, acct, 4)
	b.message(t, acct, 3)

	var all []outbox.Event
	waitUntil(t, "every event stored and taken", func() bool {
		all, err = b.db.OutboxAccountEvents(ctx, acct, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3+4 { // 3 messages, 4 timeline changes
			return false
		}
		evs, _, _ := taken()
		for _, want := range all {
			if !slices.ContainsFunc(evs, func(ev outbox.Event) bool { return ev.ID == want.ID }) {
				return false
			}
		}
		return true
	})
	evs, by, held := taken()
	var wantIDs, firsts []string
	for _, ev := range all {
		wantIDs = append(wantIDs, ev.ID)
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			firsts = append(firsts, ev.ID)
		}
		if by[i] == "a" && ev.ID == outbox.MessageEventID(acct, 2) {
			t.Errorf("a delivered %s after it lost the account", ev.ID)
		}
	}
	if !slices.Equal(firsts, wantIDs) {
		t.Errorf("first deliveries %v, want the outbox's order %v", firsts, wantIDs)
	}
	if !slices.Equal(held, []string{"a"}) {
		t.Errorf("held requests from %v, want one from a: a made an attempt after it lost the account", held)
	}
	for i, ev := range all {
		if ev.Type == outbox.TypeAccountState {
			seq := uint64(0)
			for s := uint64(1); s <= 4; s++ {
				if ev.ID == outbox.TimelineEventID(acct, s, outbox.TypeAccountState) {
					seq = s
				}
			}
			if seq == 0 {
				t.Errorf("event %d is %s, not one of the timeline's", i, ev.ID)
			}
		}
	}
	// The timeline's changes, in their order, once each.
	var states []string
	for _, ev := range all {
		if ev.Type == outbox.TypeAccountState {
			states = append(states, ev.ID)
		}
	}
	var wantStates []string
	for s := uint64(1); s <= 4; s++ {
		wantStates = append(wantStates, outbox.TimelineEventID(acct, s, outbox.TypeAccountState))
	}
	if !slices.Equal(states, wantStates) {
		t.Errorf("account.state events %v, want %v", states, wantStates)
	}
	rc.mu.Lock()
	if rc.badSigs > 0 {
		t.Errorf("%d deliveries with a bad signature", rc.badSigs)
	}
	rc.mu.Unlock()

	// b's stream carries every event, a's included, in the outbox's order.
	var streamed []string
	for len(streamed) < len(all) {
		select {
		case ev := <-stream:
			streamed = append(streamed, ev.ID)
		case <-time.After(30 * time.Second):
			t.Fatalf("b's stream carried %v, want %v", streamed, wantIDs)
		}
	}
	if !slices.Equal(streamed, wantIDs) {
		t.Errorf("b's stream carried %v, want %v", streamed, wantIDs)
	}
}

// A webhook deleted on node b stops on node a, which delivered it: once a
// delivers a webhook created after the deletion, the deleted one gets
// nothing more.
func TestOutboxFleetWebhookDeleted(t *testing.T) {
	ctx := context.Background()
	const acct = core.AccountID("x")
	var owner atomic.Value
	owner.Store("a")
	a, b := openFleetNodes(t, &owner, acct)
	gone, kept := &fleetReceiver{}, &fleetReceiver{}
	count := func(rc *fleetReceiver) int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.taken)
	}
	goneSrv, keptSrv := httptest.NewServer(gone), httptest.NewServer(kept)
	defer goneSrv.Close()
	defer keptSrv.Close()
	w, err := b.o.Create(ctx, outbox.Webhook{URL: goneSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	a.message(t, acct, 1)
	waitUntil(t, "node a delivers the first webhook", func() bool { return count(gone) == 1 })
	if err := b.o.Delete(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.o.Create(ctx, outbox.Webhook{URL: keptSrv.URL}); err != nil {
		t.Fatal(err)
	}
	a.message(t, acct, 2)
	waitUntil(t, "node a delivers the second webhook", func() bool { return count(kept) == 1 })
	a.message(t, acct, 3)
	waitUntil(t, "node a delivers the second webhook again", func() bool { return count(kept) == 2 })
	gone.mu.Lock()
	defer gone.mu.Unlock()
	// Message 2 came before node a's poll saw the deletion: it may have
	// gone to both; message 3 came after.
	if slices.ContainsFunc(gone.taken, func(ev outbox.Event) bool { return ev.ID == outbox.MessageEventID(acct, 3) }) {
		t.Errorf("the deleted webhook got message 3, after node a ran the webhook created after the deletion")
	}
	if gone.by[0] != "a" {
		t.Errorf("the first webhook was delivered by node %s, want a, the account's owner", gone.by[0])
	}
}
