package webhookapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/core/outbox"
)

// A webhook registered through the API gets a secret once, a test event
// and then the account's messages, signed with that secret; it is listed
// and read without its secret, with its last delivery; deleted, it is gone.
func TestWebhookLifecycle(t *testing.T) {
	h := newHarness(t, options{})
	id := h.paired("alfa")
	h.start()
	h.waitConnected(id)
	rc := newReceiver(t)

	c := h.createHook(map[string]any{"url": rc.srv.URL + "/hook"})
	if c.URL != rc.srv.URL+"/hook" || len(c.Accounts) != 0 || len(c.Events) != 0 || c.Warning != "" {
		t.Errorf("created %+v, want the URL, every account and type, no warning on loopback", c)
	}
	rc.set(c.Secret, http.StatusOK)

	// The test event reaches the receiver, signed, and the answer says so.
	var res struct {
		OK      bool   `json:"ok"`
		Status  int    `json:"status"`
		EventID string `json:"event_id"`
	}
	a := h.post("/v1/webhooks/"+c.ID+"/test", nil)
	a.decode(t, &res)
	if a.status != http.StatusOK || !res.OK || res.Status != http.StatusOK {
		t.Fatalf("POST test = %d %s, want 200 and ok", a.status, a.body)
	}
	tests := rc.ofType(outbox.TypeTest)
	if len(tests) != 1 || tests[0].sigErr != nil || tests[0].ev.ID != res.EventID {
		t.Fatalf("the receiver got test deliveries %+v, want one signed %s", tests, res.EventID)
	}

	h.receive(id, "M1")
	eventually(t, func() bool { return len(rc.ofType(outbox.TypeMessageReceived)) == 1 }, "message.received delivered")
	d := rc.ofType(outbox.TypeMessageReceived)[0]
	slices.Sort(d.fields)
	if d.sigErr != nil || d.ev.Account != id || !slices.Equal(d.fields, []string{"account", "data", "id", "time", "type"}) {
		t.Errorf("delivery %+v (fields %v, signature %v), want account %s, the contract's five fields, a valid signature", d.ev, d.fields, d.sigErr, id)
	}

	var list struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	h.get("/v1/webhooks").decode(t, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0]["id"] != c.ID {
		t.Fatalf("GET /v1/webhooks = %+v, want the one webhook", list)
	}
	if _, ok := list.Webhooks[0]["secret"]; ok {
		t.Errorf("the list shows the secret: %+v", list.Webhooks[0])
	}
	eventually(t, func() bool {
		var one struct {
			Last *struct {
				OK      bool   `json:"ok"`
				EventID string `json:"event_id"`
			} `json:"last"`
			Retrying, Failed int
		}
		h.get("/v1/webhooks/"+c.ID).decode(t, &one)
		// The newest delivery: the message's, or an account.state the
		// timeline's follower stored after it (the test event is no
		// delivery of the webhook's lanes).
		newest := ""
		for _, x := range rc.all() {
			if x.ev.Type != outbox.TypeTest {
				newest = x.ev.ID
			}
		}
		return one.Last != nil && one.Last.OK && one.Last.EventID == newest && one.Retrying == 0 && one.Failed == 0
	}, "the webhook's last delivery to be the receiver's newest, taken")

	if a := h.do(request{method: http.MethodDelete, path: "/v1/webhooks/" + c.ID, token: h.admin}); a.status != http.StatusOK {
		t.Fatalf("DELETE = %d %s", a.status, a.body)
	}
	if a := h.get("/v1/webhooks/" + c.ID); a.status != http.StatusNotFound || a.code(t) != "unknown_webhook" {
		t.Errorf("GET a deleted webhook = %d %s, want 404 unknown_webhook", a.status, a.body)
	}
	// Another webhook, registered after, gets the next message: by then the
	// deleted one would have had it too.
	before := len(rc.all())
	other := newReceiver(t)
	c2 := h.createHook(map[string]any{"url": other.srv.URL, "events": []string{outbox.TypeMessageReceived}})
	other.set(c2.Secret, http.StatusOK)
	h.receive(id, "M2")
	eventually(t, func() bool { return len(other.ofType(outbox.TypeMessageReceived)) == 1 }, "M2 delivered to the other webhook")
	if n := len(rc.all()); n != before {
		t.Errorf("a deleted webhook still got %d deliveries", n-before)
	}
}

// The webhook routes refuse what they must, in an operator's words.
func TestWebhookRefusals(t *testing.T) {
	h := newHarness(t, options{})
	a1, b1 := h.paired("alfa"), h.paired("bravo")
	h.start()
	readOnly := h.key("dashboard", true)
	onlyA := h.key("crm-a", false, a1)

	post := func(token string, body any, invalid bool) answer {
		return h.do(request{method: http.MethodPost, path: "/v1/webhooks", token: token, body: body, invalid: invalid})
	}
	for _, tc := range []struct {
		name    string
		token   string
		body    any
		invalid bool // the document refuses it too
		status  int
		code    string
		says    string
	}{
		{"no key", "", map[string]any{"url": "http://127.0.0.1:1/x"}, true, 401, "missing_key", "Bearer"},
		{"read-only key", readOnly, map[string]any{"url": "http://127.0.0.1:1/x"}, false, 403, "read_only", "read-only"},
		{"bad JSON", h.admin, `{"url": `, true, 400, "invalid_json", "ends too early"},
		{"unknown field", h.admin, `{"url": "http://127.0.0.1:1/x", "secret": "mine"}`, true, 400, "invalid_json", `"secret"`},
		{"too large", h.admin, `{"url": "http://127.0.0.1:1/` + strings.Repeat("x", 5000) + `"}`, false, 413, "body_too_large", "4096 bytes"},
		{"no URL", h.admin, map[string]any{"url": ""}, false, 422, "invalid_webhook", "give the receiver's URL"},
		{"ftp", h.admin, map[string]any{"url": "ftp://example.com/x"}, false, 422, "invalid_webhook", "http:// or https://"},
		{"no host", h.admin, map[string]any{"url": "http:///x"}, false, 422, "invalid_webhook", "no host"},
		{"password", h.admin, map[string]any{"url": "https://me:pw@example.com/x"}, false, 422, "invalid_webhook", "user or password"},
		{"fragment", h.admin, map[string]any{"url": "https://example.com/x#top"}, false, 422, "invalid_webhook", "fragment"},
		{"not a URL", h.admin, map[string]any{"url": "http://[::1"}, false, 422, "invalid_webhook", "not a URL"},
		{"unknown type", h.admin, map[string]any{"url": "https://example.com/x", "events": []string{"message.eaten"}}, false, 422, "invalid_webhook", "message.received"},
		{"unknown account", h.admin, map[string]any{"url": "https://example.com/x", "accounts": []string{"acct-nope"}}, false, 422, "unknown_account", "acct-nope"},
		{"another's account", onlyA, map[string]any{"url": "https://example.com/x", "accounts": []string{string(b1)}}, false, 403, "account_not_allowed", string(b1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(tc.token, tc.body, tc.invalid)
			var e struct {
				Error struct{ Code, Message string }
			}
			a.decode(t, &e)
			if a.status != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.says) {
				t.Errorf("POST %s = %d %s, want %d %s saying %q", tc.name, a.status, a.body, tc.status, tc.code, tc.says)
			}
		})
	}
	if hooks, _ := h.o.Webhooks(t.Context()); len(hooks) != 0 {
		t.Fatalf("the refusals registered %d webhooks", len(hooks))
	}

	// Plain http to another machine is accepted, with a warning.
	lan := h.createHook(map[string]any{"url": "http://192.0.2.10:8080/warden", "events": []string{outbox.TypeMessageReceived}})
	if !strings.Contains(lan.Warning, "unencrypted") || !slices.Equal(lan.Events, []string{outbox.TypeMessageReceived}) {
		t.Errorf("an http:// webhook to 192.0.2.10 = %+v, want a warning and its one type", lan)
	}

	// A key limited to account A: its webhook is limited to A, it sees
	// only that one, and the others are 404 to it.
	a := post(onlyA, map[string]any{"url": "https://example.com/a"}, false)
	var mine created
	a.decode(t, &mine)
	if a.status != http.StatusCreated || !slices.Equal(mine.Accounts, []string{string(a1)}) {
		t.Fatalf("a limited key's webhook = %d %s, want 201 limited to %s", a.status, a.body, a1)
	}
	var list struct{ Webhooks []created }
	h.do(request{method: http.MethodGet, path: "/v1/webhooks", token: onlyA}).decode(t, &list)
	if len(list.Webhooks) != 1 || list.Webhooks[0].ID != mine.ID {
		t.Errorf("the limited key lists %+v, want only its own %s", list.Webhooks, mine.ID)
	}
	h.get("/v1/webhooks").decode(t, &list)
	if len(list.Webhooks) != 2 {
		t.Errorf("the admin lists %d webhooks, want 2", len(list.Webhooks))
	}
	for _, path := range []string{"/v1/webhooks/" + lan.ID, "/v1/webhooks/" + lan.ID + "/failures"} {
		if a := h.do(request{method: http.MethodGet, path: path, token: onlyA}); a.status != http.StatusNotFound || a.code(t) != "unknown_webhook" {
			t.Errorf("GET %s with a key for A = %d %s, want 404", path, a.status, a.body)
		}
	}
	for _, path := range []string{"/v1/webhooks/" + lan.ID, "/v1/webhooks/wh_nope"} {
		if a := h.do(request{method: http.MethodDelete, path: path, token: onlyA}); a.status != http.StatusNotFound {
			t.Errorf("DELETE %s with a key for A = %d %s, want 404", path, a.status, a.body)
		}
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/webhooks", token: readOnly}); a.status != http.StatusForbidden || a.code(t) != "read_only" {
		t.Errorf("GET /v1/webhooks with a read-only key = %d %s, want 403", a.status, a.body)
	}
	if a := h.post("/v1/webhooks/"+lan.ID+"/failures/nope:m1/retry", nil); a.status != http.StatusNotFound || a.code(t) != "unknown_failure" {
		t.Errorf("retry an unknown failure = %d %s, want 404 unknown_failure", a.status, a.body)
	}
	if hooks, _ := h.o.Webhooks(t.Context()); len(hooks) != 2 {
		t.Errorf("the outbox holds %d webhooks after the refusals, want 2", len(hooks))
	}
}

// A receiver that refuses for longer than the retry window leaves failed
// deliveries, listed and counted; retried once it takes them, they are gone.
func TestWebhookFailuresRetry(t *testing.T) {
	cfg := outbox.Config{MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, RetryWindow: 30 * time.Millisecond, AttemptTimeout: 5 * time.Second}
	h := newHarness(t, options{cfg: cfg})
	id := h.paired("alfa")
	h.start()
	h.waitConnected(id)
	rc := newReceiver(t)
	c := h.createHook(map[string]any{"url": rc.srv.URL, "events": []string{outbox.TypeMessageReceived}})
	rc.set(c.Secret, http.StatusInternalServerError)

	for _, m := range []string{"M1", "M2", "M3"} {
		h.receive(id, m)
	}
	type failure struct {
		Event    struct{ ID, Type, Account string } `json:"event"`
		Attempts int                                `json:"attempts"`
		Last     struct {
			OK     bool `json:"ok"`
			Status int  `json:"status"`
		} `json:"last"`
	}
	var fails struct{ Failures []failure }
	eventually(t, func() bool {
		h.get("/v1/webhooks/"+c.ID+"/failures").decode(t, &fails)
		return len(fails.Failures) == 3
	}, "three failed deliveries")
	for _, f := range fails.Failures {
		if f.Event.Type != outbox.TypeMessageReceived || f.Event.Account != string(id) || f.Attempts < 1 || f.Last.OK || f.Last.Status != 500 {
			t.Errorf("failure %+v, want a message.received of %s refused with 500", f, id)
		}
	}
	var one struct{ Failed int }
	h.get("/v1/webhooks/"+c.ID).decode(t, &one)
	if one.Failed != 3 {
		t.Errorf("the webhook counts %d failed, want 3", one.Failed)
	}

	// Still refusing: a retry says so, and the failure stays.
	first := fails.Failures[0].Event.ID
	var res struct {
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		Error  string `json:"error"`
	}
	h.post("/v1/webhooks/"+c.ID+"/failures/"+first+"/retry", nil).decode(t, &res)
	if res.OK || res.Status != 500 || !strings.Contains(res.Error, "500") {
		t.Errorf("a refused retry = %+v, want not ok with the 500", res)
	}

	rc.set(c.Secret, http.StatusOK)
	h.post("/v1/webhooks/"+c.ID+"/failures/"+first+"/retry", nil).decode(t, &res)
	if !res.OK {
		t.Errorf("a retry the receiver takes = %+v, want ok", res)
	}
	var all struct{ Delivered, Failed int }
	if a := h.post("/v1/webhooks/"+c.ID+"/failures/retry", nil); a.status != http.StatusOK {
		t.Fatalf("retry all = %d %s", a.status, a.body)
	} else {
		a.decode(t, &all)
	}
	if all.Delivered != 2 || all.Failed != 0 {
		t.Errorf("retry all = %+v, want 2 delivered, none left", all)
	}
	h.get("/v1/webhooks/"+c.ID+"/failures").decode(t, &fails)
	if len(fails.Failures) != 0 {
		t.Errorf("%d failures left after the retries", len(fails.Failures))
	}
	taken := map[string]bool{}
	for _, d := range rc.all() {
		if d.sigErr != nil {
			t.Errorf("delivery of %s: signature %v", d.ev.ID, d.sigErr)
		}
		taken[d.ev.ID] = true
	}
	if len(taken) != 3 {
		t.Errorf("the receiver saw %d distinct events, want 3", len(taken))
	}
}

// Every operation the extension adds is in the document and answered by
// its route, and the document describes who may call it.
func TestDocumentHasTheRoutes(t *testing.T) {
	h := newHarness(t, options{})
	var doc struct {
		Paths map[string]map[string]struct {
			Description string `json:"description"`
		}
	}
	h.do(request{method: http.MethodGet, path: "/v1/openapi.json"}).decode(t, &doc)
	want := map[string][]string{
		"/v1/webhooks":                                  {"get", "post"},
		"/v1/webhooks/{webhook}":                        {"delete", "get"},
		"/v1/webhooks/{webhook}/test":                   {"post"},
		"/v1/webhooks/{webhook}/failures":               {"get"},
		"/v1/webhooks/{webhook}/failures/retry":         {"post"},
		"/v1/webhooks/{webhook}/failures/{event}/retry": {"post"},
		"/v1/events":                                    {"get"},
	}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("the document lacks %s %s", m, path)
				continue
			}
			if !strings.Contains(op.Description, "key") {
				t.Errorf("%s %s: the description %q does not say which keys may call it", m, path, op.Description)
			}
			if path == "/v1/events" {
				continue // a stream: TestEventStream* read it
			}
			concrete := strings.NewReplacer("{webhook}", "wh_nope", "{event}", "e1").Replace(path)
			a := h.do(request{method: strings.ToUpper(m), path: concrete, token: h.admin, body: map[string]string{"url": "https://example.com/x"}, invalid: true})
			if a.status == http.StatusMethodNotAllowed || a.status == http.StatusNotFound && a.code(t) == "not_found" {
				t.Errorf("%s %s is in the document but no route answers it: %d %s", m, path, a.status, a.body)
			}
		}
	}
}
