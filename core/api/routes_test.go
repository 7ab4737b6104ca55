package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/coretest"
)

// The document and the mux come from one table: every route the server
// answers is in the document, and every operation of the document is
// answered by a route (not the JSON 404 or 405 of no route).
func TestDocumentMatchesRoutes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	h.do(request{method: http.MethodGet, path: "/v1/openapi.json"}).decode(t, &doc)
	ops := 0
	for path, item := range doc.Paths {
		concrete := strings.NewReplacer("{id}", "acct-x", "{msgid}", "m1").Replace(path)
		for method := range item {
			ops++
			m := strings.ToUpper(method)
			a := h.do(request{method: m, path: concrete, token: h.admin, invalid: true})
			if a.status == http.StatusMethodNotAllowed || a.status == http.StatusNotFound && strings.Contains(string(a.body), `"not_found"`) {
				t.Errorf("%s %s is in the document but no route answers it: %d %s", m, path, a.status, a.body)
			}
		}
	}
	// The reverse: a path the document does not have gets the JSON 404, and
	// a method it does not list the JSON 405.
	if a := h.do(request{method: http.MethodGet, path: "/v1/nothing", token: h.admin, unrouted: true}); a.status != http.StatusNotFound || a.code(t) != "not_found" {
		t.Errorf("GET /v1/nothing = %d %s, want 404 not_found", a.status, a.body)
	}
	a := h.do(request{method: http.MethodPut, path: "/v1/accounts", token: h.admin, unrouted: true})
	if a.status != http.StatusMethodNotAllowed || a.code(t) != "method_not_allowed" || !strings.Contains(a.header.Get("Allow"), "GET") {
		t.Errorf("PUT /v1/accounts = %d %s (Allow %q), want 405 method_not_allowed allowing GET", a.status, a.body, a.header.Get("Allow"))
	}
	if ops < 18 {
		t.Errorf("the document has %d operations, want every route's (18)", ops)
	}
}

func TestCreatePairAndManage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.start()

	a := h.post("/v1/accounts", map[string]string{"name": "Sales", "proxy": "socks5://127.0.0.1:1080"})
	var acct struct{ ID, Name, State string }
	a.decode(t, &acct)
	if a.status != http.StatusCreated || acct.Name != "Sales" || acct.ID == "" {
		t.Fatalf("POST /v1/accounts = %d %s, want 201 Sales", a.status, a.body)
	}
	id := core.AccountID(acct.ID)
	path := "/v1/accounts/" + acct.ID
	h.waitState(id, core.Pairing)

	var qr struct {
		Code         string
		Index, Total int
	}
	h.get(path+"/qr").decode(t, &qr)
	if qr.Code != h.d.Last(id).QR(1) || qr.Index != 1 || qr.Total != 6 {
		t.Errorf("GET qr = %+v, want the session's first code", qr)
	}
	png := h.get(path + "/qr.png")
	if png.status != http.StatusOK || png.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(string(png.body), "\x89PNG") {
		t.Errorf("GET qr.png = %d %s, want a PNG", png.status, png.header.Get("Content-Type"))
	}
	var code struct{ Code string }
	h.post(path+"/pair-phone", map[string]string{"phone": "+15550009999"}).decode(t, &code)
	if code.Code != "ABCD-EFGH" {
		t.Errorf("POST pair-phone code = %q, want the session's", code.Code)
	}
	if a := h.post(path+"/takeover", nil); a.status != http.StatusConflict || a.code(t) != "not_replaced" {
		t.Errorf("takeover of a pairing account = %d %s, want 409 not_replaced", a.status, a.body)
	}

	h.d.Last(id).Pair()
	h.waitState(id, core.Connected)
	if a := h.get(path + "/qr"); a.status != http.StatusConflict || a.code(t) != "not_pairing" {
		t.Errorf("GET qr when connected = %d %s, want 409 not_pairing", a.status, a.body)
	}
	if a := h.get(path + "/qr.png"); a.status != http.StatusConflict {
		t.Errorf("GET qr.png when connected = %d, want 409", a.status)
	}

	rename := "Sales EU"
	a = h.do(request{method: http.MethodPatch, path: path, token: h.admin, body: map[string]*string{"name": &rename}})
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"name":"Sales EU"`) {
		t.Errorf("PATCH name = %d %s", a.status, a.body)
	}
	if a := h.do(request{method: http.MethodPatch, path: path, token: h.admin, body: map[string]string{"proxy": "ftp://x"}}); a.status != http.StatusUnprocessableEntity || a.code(t) != "invalid_proxy" {
		t.Errorf("PATCH a bad proxy = %d %s, want 422 invalid_proxy", a.status, a.body)
	}
	if a := h.do(request{method: http.MethodPatch, path: path, token: h.admin, body: map[string]string{}}); a.status != http.StatusBadRequest {
		t.Errorf("PATCH nothing = %d %s, want 400", a.status, a.body)
	}

	if a := h.post(path+"/disconnect", nil); a.status != http.StatusOK {
		t.Errorf("disconnect = %d %s", a.status, a.body)
	}
	h.waitState(id, core.Idle)
	if a := h.post(path+"/connect", nil); a.status != http.StatusOK {
		t.Errorf("connect = %d %s", a.status, a.body)
	}
	h.waitState(id, core.Connected)

	// Another client takes the account; takeover brings it back.
	h.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
	h.waitState(id, core.Replaced)
	if a := h.post(path+"/takeover", nil); a.status != http.StatusOK {
		t.Errorf("takeover = %d %s", a.status, a.body)
	}
	h.waitState(id, core.Connected)

	if a := h.post(path+"/logout", nil); a.status != http.StatusOK {
		t.Errorf("logout = %d %s", a.status, a.body)
	}
	h.waitState(id, core.LoggedOut)
	if a := h.get("/v1/health"); a.status != http.StatusServiceUnavailable || !strings.Contains(string(a.body), `"needs_action"`) {
		t.Errorf("health with a logged-out account = %d %s, want 503", a.status, a.body)
	}

	a = h.do(request{method: http.MethodDelete, path: path, token: h.admin})
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"deleted":true`) {
		t.Errorf("DELETE = %d %s", a.status, a.body)
	}
	if a := h.get(path); a.status != http.StatusNotFound {
		t.Errorf("GET a deleted account = %d, want 404", a.status)
	}
	if a := h.get("/v1/health"); a.status != http.StatusOK {
		t.Errorf("health with no account = %d %s, want 200", a.status, a.body)
	}
}

func TestDeleteStillLinkedWarns(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)
	h.d.Lock()
	h.d.LogoutErr = errors.New("the server did not answer")
	h.d.Unlock()
	a := h.do(request{method: http.MethodDelete, path: "/v1/accounts/" + string(id), token: h.admin})
	var del struct {
		Deleted bool
		Warning string
	}
	a.decode(t, &del)
	if a.status != http.StatusOK || !del.Deleted || !strings.Contains(del.Warning, "Linked devices") {
		t.Errorf("DELETE while the unlink fails = %d %s, want 200 with a warning", a.status, a.body)
	}
}

func TestSendRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.account("alfa", "15550001111", false)
	h.start()
	path := "/v1/accounts/" + string(id) + "/messages"

	// Idle: refused at once, nothing sent.
	a := h.post(path, map[string]string{"to": "+15550100200", "text": "hi"})
	var e struct {
		Error struct{ Code, Message, State string }
	}
	a.decode(t, &e)
	if a.status != http.StatusConflict || e.Error.Code != "not_connected" || e.Error.State != "idle" || !strings.Contains(e.Error.Message, "nothing was sent") {
		t.Errorf("send while idle = %d %s, want 409 not_connected, state idle", a.status, a.body)
	}
	if n := len(h.d.Sent()); n != 0 {
		t.Errorf("%d messages sent while idle, want none", n)
	}

	if a := h.post("/v1/accounts/"+string(id)+"/connect", nil); a.status != http.StatusOK {
		t.Fatalf("connect = %d %s", a.status, a.body)
	}
	h.waitState(id, core.Connected)
	for _, tc := range []struct {
		name   string
		err    error
		body   any
		status int
		code   string
	}{
		{"not on WhatsApp", core.ErrNotOnWhatsApp, nil, http.StatusUnprocessableEntity, "not_on_whatsapp"},
		{"no devices", core.ErrNoDevices, nil, http.StatusUnprocessableEntity, "no_devices"},
		{"rate limited", core.ErrRateLimited, nil, http.StatusTooManyRequests, "whatsapp_rate_limited"},
		{"no ack", core.ErrNoAck, nil, http.StatusGatewayTimeout, "no_ack"},
		{"bad number", nil, map[string]string{"to": "12", "text": "hi"}, http.StatusUnprocessableEntity, "invalid_phone"},
		{"empty text", nil, map[string]string{"to": "+15550100200", "text": " "}, http.StatusUnprocessableEntity, "invalid_message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.d.Lock()
			h.d.OnSend = func(ctx context.Context, s *coretest.Session, to, text string) (core.Sent, error) {
				if tc.err != nil {
					return core.Sent{}, fmt.Errorf("fake: %w", tc.err)
				}
				return core.Sent{ID: "OK", ServerTime: time.Now()}, nil
			}
			h.d.Unlock()
			body := tc.body
			if body == nil {
				body = map[string]string{"to": "+15550100200", "text": "hi"}
			}
			if a := h.post(path, body); a.status != tc.status || a.code(t) != tc.code {
				t.Errorf("send = %d %s, want %d %s", a.status, a.body, tc.status, tc.code)
			}
		})
	}
}

func TestBadBodies(t *testing.T) {
	h := newHarness(t, harnessOptions{maxBody: 1024})
	h.start()
	for _, tc := range []struct {
		name, body string
		status     int
		code, says string
	}{
		{"too large", `{"name":"` + strings.Repeat("x", 2000) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large", "1024 bytes"},
		{"not JSON", `{"name":`, http.StatusBadRequest, "invalid_json", "ends too early"},
		{"bad JSON", `{"name" "a"}`, http.StatusBadRequest, "invalid_json", "invalid JSON at byte"},
		{"unknown field", `{"name":"a","colour":"red"}`, http.StatusBadRequest, "invalid_json", `"colour"`},
		{"wrong type", `{"name":5}`, http.StatusBadRequest, "invalid_json", `"name"`},
		{"two objects", `{"name":"a"}{"name":"b"}`, http.StatusBadRequest, "invalid_json", "after"},
		{"empty", ``, http.StatusBadRequest, "invalid_json", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(request{method: http.MethodPost, path: "/v1/accounts", token: h.admin, body: tc.body, invalid: true})
			var e struct {
				Error struct{ Code, Message string }
			}
			a.decode(t, &e)
			if a.status != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.says) {
				t.Errorf("POST %s = %d %s, want %d %s saying %s", tc.name, a.status, a.body, tc.status, tc.code, tc.says)
			}
		})
	}
	if accts := h.m.Statuses(); len(accts) != 0 {
		t.Errorf("bad bodies added %d accounts", len(accts))
	}
}

// A send retried with one Idempotency-Key goes out once: retries while the
// first is in flight wait for it, later ones get its answer.
func TestIdempotentSend(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)
	release := make(chan struct{})
	h.d.Lock()
	h.d.OnSend = func(ctx context.Context, s *coretest.Session, to, text string) (core.Sent, error) {
		<-release
		return core.Sent{ID: "ONCE", ServerTime: time.Now()}, nil
	}
	h.d.Unlock()

	path := "/v1/accounts/" + string(id) + "/messages"
	send := request{method: http.MethodPost, path: path, token: h.admin, body: map[string]string{"to": "+15550100200", "text": "hi"},
		header: map[string]string{"Idempotency-Key": "order-42"}}
	answers := make([]answer, 3)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = h.do(send) })
	}
	eventually(t, func() bool { return len(h.d.Sent()) == 1 }, "the first send to reach the session")
	close(release)
	wg.Wait()
	// A later retry, its JSON written another way, is the same message.
	respelled := send
	respelled.body = `{ "text": "hi", "to": "+15550100200" }`
	answers = append(answers, h.do(send), h.do(respelled))
	for i, a := range answers {
		if a.status != http.StatusOK || string(a.body) != string(answers[0].body) || !strings.Contains(string(a.body), "ONCE") {
			t.Errorf("attempt %d = %d %s, want the first answer %s", i+1, a.status, a.body, answers[0].body)
		}
	}
	if n := len(h.d.Sent()); n != 1 {
		t.Errorf("the session sent %d messages, want 1", n)
	}

	// Another message under the same key is refused; another key sends.
	reuse := send
	reuse.body = map[string]string{"to": "+15550100200", "text": "another"}
	if a := h.do(reuse); a.status != http.StatusUnprocessableEntity || a.code(t) != "idempotency_key_reused" {
		t.Errorf("another message under the key = %d %s, want 422", a.status, a.body)
	}
	fresh := send
	fresh.header = map[string]string{"Idempotency-Key": "order-43"}
	if a := h.do(fresh); a.status != http.StatusOK {
		t.Errorf("a new key = %d %s", a.status, a.body)
	}
	if n := len(h.d.Sent()); n != 2 {
		t.Errorf("after a new key the session sent %d messages, want 2", n)
	}
}

// A refusal is not remembered: the same key sends once the account is back.
func TestIdempotentSendAfterRefusal(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.account("alfa", "15550001111", false)
	h.start()
	send := request{method: http.MethodPost, path: "/v1/accounts/" + string(id) + "/messages", token: h.admin,
		body: map[string]string{"to": "+15550100200", "text": "hi"}, header: map[string]string{"Idempotency-Key": "k1"}}
	if a := h.do(send); a.status != http.StatusConflict {
		t.Fatalf("send while idle = %d %s, want 409", a.status, a.body)
	}
	h.post("/v1/accounts/"+string(id)+"/connect", nil)
	h.waitState(id, core.Connected)
	if a := h.do(send); a.status != http.StatusOK {
		t.Errorf("the same key once connected = %d %s, want 200", a.status, a.body)
	}
}

func TestKeys(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	a1 := h.paired("alfa", "15550001111")
	b1 := h.paired("bravo", "15550002222")
	h.start()
	h.waitState(a1, core.Connected)
	h.waitState(b1, core.Connected)
	reader := h.key("dashboard", true)
	onlyA := h.key("shop A", false, a1)

	anon := request{method: http.MethodGet, path: "/v1/accounts", invalid: true}
	if a := h.do(anon); a.status != http.StatusUnauthorized || a.code(t) != "missing_key" {
		t.Errorf("no key = %d %s, want 401 missing_key", a.status, a.body)
	}
	bogus := anon
	bogus.token = "wdn_000000000000_" + strings.Repeat("A", 43)
	if a := h.do(bogus); a.status != http.StatusUnauthorized || a.code(t) != "invalid_key" {
		t.Errorf("unknown key = %d %s, want 401 invalid_key", a.status, a.body)
	}
	forged := anon
	forged.token = reader[:len(reader)-4] + "AAAA"
	if a := h.do(forged); a.status != http.StatusUnauthorized {
		t.Errorf("a known id with a wrong secret = %d %s, want 401", a.status, a.body)
	}

	// Read-only: reads, but neither sends nor connects.
	if a := h.do(request{method: http.MethodGet, path: "/v1/accounts", token: reader}); a.status != http.StatusOK {
		t.Errorf("read-only list = %d %s", a.status, a.body)
	}
	for _, path := range []string{"/messages", "/connect", "/disconnect"} {
		a := h.do(request{method: http.MethodPost, path: "/v1/accounts/" + string(a1) + path, token: reader, body: map[string]string{"to": "+15550100200", "text": "hi"}, invalid: true})
		if a.status != http.StatusForbidden || a.code(t) != "read_only" {
			t.Errorf("read-only POST %s = %d %s, want 403 read_only", path, a.status, a.body)
		}
	}
	if n := len(h.d.Sent()); n != 0 {
		t.Errorf("a read-only key sent %d messages", n)
	}
	if st, _ := h.m.Status(a1); st.State != core.Connected {
		t.Errorf("after a read-only disconnect the account is %v", st.State)
	}

	// A key for alfa does not see bravo, and cannot touch it.
	var list struct{ Accounts []struct{ ID string } }
	h.do(request{method: http.MethodGet, path: "/v1/accounts", token: onlyA}).decode(t, &list)
	if len(list.Accounts) != 1 || list.Accounts[0].ID != string(a1) {
		t.Errorf("alfa's key lists %+v, want only alfa", list.Accounts)
	}
	var health struct{ Accounts int }
	h.do(request{method: http.MethodGet, path: "/v1/health", token: onlyA}).decode(t, &health)
	if health.Accounts != 1 {
		t.Errorf("alfa's key's health counts %d accounts, want 1", health.Accounts)
	}
	for _, r := range []request{
		{method: http.MethodGet, path: "/v1/accounts/" + string(b1)},
		{method: http.MethodGet, path: "/v1/accounts/" + string(b1) + "/timeline"},
		{method: http.MethodPost, path: "/v1/accounts/" + string(b1) + "/messages", body: map[string]string{"to": "+15550100200", "text": "hi"}},
		{method: http.MethodPost, path: "/v1/accounts", body: map[string]string{"name": "mine"}},
	} {
		r.token = onlyA
		if a := h.do(r); a.status != http.StatusForbidden || a.code(t) != "account_not_allowed" {
			t.Errorf("alfa's key %s %s = %d %s, want 403 account_not_allowed", r.method, r.path, a.status, a.body)
		}
	}
	if a := h.do(request{method: http.MethodPost, path: "/v1/accounts/" + string(a1) + "/messages", token: onlyA, body: map[string]string{"to": "+15550100200", "text": "hi"}}); a.status != http.StatusOK {
		t.Errorf("alfa's key sends from alfa = %d %s", a.status, a.body)
	}

	// Revoked: refused at once.
	kid, _, _ := api.ParseToken(reader)
	if err := h.db.RevokeAPIKey(context.Background(), kid, time.Now()); err != nil {
		t.Fatal(err)
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/accounts", token: reader}); a.status != http.StatusUnauthorized || a.code(t) != "revoked_key" {
		t.Errorf("revoked key = %d %s, want 401 revoked_key", a.status, a.body)
	}

	// Every request is logged with the key's name, never the key.
	logs := h.logs.String()
	if !strings.Contains(logs, "key=\"shop A\"") || !strings.Contains(logs, "route=\"POST /v1/accounts/{id}/messages\"") || strings.Contains(logs, onlyA) {
		t.Errorf("the log lacks the key's name or route, or holds a key:\n%s", logs)
	}
	// The key's last use is recorded.
	k, err := h.db.APIKey(context.Background(), strings.Split(onlyA, "_")[1])
	if err != nil || k.LastUsed.IsZero() {
		t.Errorf("alfa's key's last use = %v, %v; want recorded", k.LastUsed, err)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, harnessOptions{rate: api.RateLimit{PerSecond: 0.5, Burst: 3}})
	other := h.key("other", true)
	var last answer
	for range 4 {
		last = h.get("/v1/accounts")
	}
	if last.status != http.StatusTooManyRequests || last.code(t) != "rate_limited" || last.header.Get("Retry-After") == "" {
		t.Errorf("the 4th request of a burst of 3 = %d %s (Retry-After %q), want 429 with Retry-After", last.status, last.body, last.header.Get("Retry-After"))
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/accounts", token: other}); a.status != http.StatusOK {
		t.Errorf("another key = %d, want 200: the limit is per key", a.status)
	}
}

func TestTimelineAndMessages(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)
	path := "/v1/accounts/" + string(id)

	var sent struct{ ID string }
	h.post(path+"/messages", map[string]string{"to": "+15550100200", "text": "hi"}).decode(t, &sent)
	var st struct{ ID, Status string }
	h.get(path+"/messages/"+sent.ID).decode(t, &st)
	if st.Status != "acknowledged" {
		t.Errorf("status of a sent message = %+v, want acknowledged", st)
	}
	h.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDelivered, MessageID: sent.ID, At: time.Now()})
	eventually(t, func() bool {
		var st struct{ Status string }
		h.get(path+"/messages/"+sent.ID).decode(t, &st)
		return st.Status == "delivered"
	}, "the message to be delivered")
	if a := h.get(path + "/messages/NOPE"); a.status != http.StatusNotFound || a.code(t) != "unknown_message" {
		t.Errorf("status of an unknown message = %d %s, want 404", a.status, a.body)
	}

	var all struct{ Events []struct{ Seq uint64 } }
	h.get(path+"/timeline?limit=1000").decode(t, &all)
	if len(all.Events) < 4 {
		t.Fatalf("timeline = %+v, want the connection and the send", all)
	}
	last := all.Events[len(all.Events)-1].Seq
	var page struct{ Events []struct{ Seq uint64 } }
	h.get(fmt.Sprintf("%s/timeline?limit=2&before=%d", path, last)).decode(t, &page)
	if len(page.Events) != 2 || page.Events[0].Seq != last-2 || page.Events[1].Seq != last-1 {
		t.Errorf("timeline before %d, limit 2 = %+v, want %d and %d", last, page, last-2, last-1)
	}
	if a := h.do(request{method: http.MethodGet, path: path + "/timeline?limit=x", token: h.admin, invalid: true}); a.status != http.StatusBadRequest || a.code(t) != "invalid_query" {
		t.Errorf("timeline?limit=x = %d %s, want 400", a.status, a.body)
	}

	for i := range 3 {
		m := core.Message{ID: fmt.Sprint("in", i), Chat: "15550100200@s.whatsapp.net", Sender: "15550100200@s.whatsapp.net", Kind: core.KindText, Text: "yo", At: time.Now()}
		if err := h.d.Last(id).Receive(m); err != nil {
			t.Fatal(err)
		}
	}
	var msgs struct {
		Messages []struct {
			Seq  uint64
			ID   string
			Text string
		}
	}
	h.get(path+"/messages?after=1&limit=5").decode(t, &msgs)
	if len(msgs.Messages) != 2 || msgs.Messages[0].Seq != 2 || msgs.Messages[1].ID != "in2" {
		t.Errorf("messages after 1 = %+v, want in1 and in2", msgs)
	}
}

// events plays core/outbox: an extension whose route is served with the
// API's checks and described in its document.
type events struct{}

func (events) Routes() []api.Route {
	return []api.Route{{Method: http.MethodGet, Path: "/v1/events", ID: "streamEvents", Summary: "stream events",
		Responses: map[int]api.Response{http.StatusOK: {Description: "events", ContentType: "text/event-stream", Schema: api.Schema{"type": "string"}}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			k, _ := api.KeyFrom(r.Context())
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: hello %s\n\n", k.Name)
			if r.URL.Query().Has("follow") {
				http.NewResponseController(w).Flush()
				<-r.Context().Done() // a stream lasts until the server closes
			}
		})}}
}

func TestExtensionRoutes(t *testing.T) {
	h := newHarness(t, harnessOptions{ext: []api.Extension{events{}}})
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	h.do(request{method: http.MethodGet, path: "/v1/openapi.json"}).decode(t, &doc)
	if _, ok := doc.Paths["/v1/events"]["get"]; !ok {
		t.Errorf("the document lacks the extension's GET /v1/events")
	}
	if a := h.get("/v1/events"); a.status != http.StatusOK || string(a.body) != "data: hello admin\n\n" {
		t.Errorf("GET /v1/events = %d %q, want the extension's stream for the admin key", a.status, a.body)
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/events", invalid: true}); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/events without a key = %d, want 401", a.status)
	}
}

// Close ends a stream in flight, rather than waiting for it.
func TestCloseEndsStreams(t *testing.T) {
	h := newHarness(t, harnessOptions{ext: []api.Extension{events{}}})
	req, err := http.NewRequest(http.MethodGet, h.base+"/v1/events?follow", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: hello admin\n" {
		t.Fatalf("the stream began with %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		t.Errorf("Close with a stream open = %v, want it ended", err)
	}
}

func TestMessagesRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.paired("alfa", "15550001111")
	h.start()
	path := "/v1/accounts/" + string(id) + "/messages"
	for _, q := range []string{"?after=-1", "?limit=0", "?limit=1001", "?after=x"} {
		if a := h.do(request{method: http.MethodGet, path: path + q, token: h.admin, invalid: true}); a.status != http.StatusBadRequest || a.code(t) != "invalid_query" {
			t.Errorf("GET messages%s = %d %s, want 400 invalid_query", q, a.status, a.body)
		}
	}
	if a := h.get("/v1/accounts/nope/messages"); a.status != http.StatusNotFound || a.code(t) != "unknown_account" {
		t.Errorf("GET an unknown account's messages = %d %s, want 404", a.status, a.body)
	}

	bare := newHarness(t, harnessOptions{noInbox: true})
	if a := bare.get("/v1/accounts/any/messages"); a.status != http.StatusNotImplemented || a.code(t) != "no_inbox" {
		t.Errorf("GET messages without an inbox = %d %s, want 501 no_inbox", a.status, a.body)
	}
}

// An answer to an Idempotency-Key outlives the API: a retry after a restart
// gets the first answer and sends nothing; another message under the key is
// still refused.
func TestIdempotentSendAcrossRestart(t *testing.T) {
	idem := coretest.NewIdempotency()
	h := newHarness(t, harnessOptions{idem: idem})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)
	send := request{method: http.MethodPost, path: "/v1/accounts/" + string(id) + "/messages", token: h.admin,
		body: map[string]string{"to": "+15550100200", "text": "your order shipped"}, header: map[string]string{"Idempotency-Key": "order-42"}}
	first := h.do(send)
	if first.status != http.StatusOK || idem.Kept() != 1 {
		t.Fatalf("the first send = %d %s with %d answers kept, want 200 and one kept", first.status, first.body, idem.Kept())
	}

	h.restart()
	for i := range 3 {
		if a := h.do(send); a.status != http.StatusOK || string(a.body) != string(first.body) {
			t.Errorf("retry %d after the restart = %d %s, want the first answer %s", i+1, a.status, a.body, first.body)
		}
	}
	if n := len(h.d.Sent()); n != 1 {
		t.Errorf("the session sent %d messages, want 1", n)
	}
	reuse := send
	reuse.body = map[string]string{"to": "+15550100200", "text": "another"}
	if a := h.do(reuse); a.status != http.StatusUnprocessableEntity || a.code(t) != "idempotency_key_reused" {
		t.Errorf("another message under the key after the restart = %d %s, want 422", a.status, a.body)
	}
	// A refusal is not kept: the key's next send, once valid, goes out.
	other := send
	other.header = map[string]string{"Idempotency-Key": "order-43"}
	other.body = map[string]string{"to": "nope", "text": "x"}
	if a := h.do(other); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("a send to an invalid number = %d %s, want 422", a.status, a.body)
	}
	if idem.Kept() != 1 {
		t.Errorf("%d answers kept after a refusal, want still 1", idem.Kept())
	}
}

// failingIdempotency is a store of answers that cannot be read.
type failingIdempotency struct{ *coretest.Idempotency }

func (failingIdempotency) IdempotentReply(context.Context, string) (core.IdempotentReply, bool, error) {
	return core.IdempotentReply{}, false, errors.New("disk on fire")
}

// When the kept answers cannot be read, a send with an Idempotency-Key is
// refused and nothing is sent: it might be a retry of one that went out.
func TestIdempotencyStoreUnreadable(t *testing.T) {
	h := newHarness(t, harnessOptions{idem: failingIdempotency{coretest.NewIdempotency()}})
	id := h.paired("alfa", "15550001111")
	h.start()
	h.waitState(id, core.Connected)
	send := request{method: http.MethodPost, path: "/v1/accounts/" + string(id) + "/messages", token: h.admin,
		body: map[string]string{"to": "+15550100200", "text": "hi"}, header: map[string]string{"Idempotency-Key": "k1"}}
	for range 2 {
		if a := h.do(send); a.status != http.StatusServiceUnavailable || a.code(t) != "idempotency_unavailable" {
			t.Errorf("a send while the answers cannot be read = %d %s, want 503 idempotency_unavailable", a.status, a.body)
		}
	}
	if n := len(h.d.Sent()); n != 0 {
		t.Errorf("the session sent %d messages, want none", n)
	}
}
