package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"warden/core"
	"warden/core/api"
	"warden/core/coretest"
)

// harness is a real Manager on coretest's fakes, the API in front of it on
// 127.0.0.1, and its keys in coretest's store of keys. Every request and answer
// is checked against the API's own OpenAPI document.
type harness struct {
	t     *testing.T
	m     *core.Manager
	d     *coretest.Dialer
	s     *coretest.Store
	db    *coretest.Keys // the keys: core/store and core/store/postgres pass the same suite
	srv   *api.Server
	base  string
	val   validator.Validator
	logs  *syncBuffer
	admin string // a key that may do anything
	cfg   api.Config
}

type harnessOptions struct {
	rate    api.RateLimit
	maxBody int64
	ext     []api.Extension
	noInbox bool // serve without the received messages
	idem    api.IdempotencyStore
}

func newHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	d, s := coretest.NewDialer(), coretest.NewStore()
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Inbox: s})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	db := coretest.NewKeys()
	logs := &syncBuffer{}
	var inbox core.Inbox = s
	if opts.noInbox {
		inbox = nil
	}
	cfg := api.Config{
		Addr: "127.0.0.1:0", Controller: m, Keys: db, Inbox: inbox,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		RateLimit: opts.rate, MaxBody: opts.maxBody, Extensions: opts.ext, Idempotency: opts.idem,
	}
	srv, err := api.Serve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	h := &harness{t: t, m: m, d: d, s: s, db: db, srv: srv, base: "http://" + srv.Addr(), logs: logs, cfg: cfg}
	h.val = h.validator()
	h.admin = h.key("admin", false)
	return h
}

// restart closes the API and serves a new one on the same engine and
// stores, as a restarted Warden does: nothing of the first is in memory.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.srv.Close(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	srv, err := api.Serve(h.cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = srv.Close(context.Background()) })
	h.srv, h.base = srv, "http://"+srv.Addr()
}

// validator loads the document the server serves.
func (h *harness) validator() validator.Validator {
	h.t.Helper()
	resp, err := http.Get(h.base + "/v1/openapi.json")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	spec, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /v1/openapi.json = %d, %v", resp.StatusCode, err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		h.t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		h.t.Fatalf("the OpenAPI document does not load: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		h.t.Fatalf("the OpenAPI document is not valid: %v", verrs)
	}
	return v
}

// key creates an API key and returns its token.
func (h *harness) key(name string, readOnly bool, accounts ...core.AccountID) string {
	h.t.Helper()
	k, token, err := api.NewKey(name, readOnly, accounts, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.db.PutAPIKey(context.Background(), k); err != nil {
		h.t.Fatal(err)
	}
	return token
}

// answer is a response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %s does not decode: %v", a.body, err)
	}
}

// code returns the error code of an error answer.
func (a answer) code(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message, State, Reason string }
	}
	a.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error answer %s has no code or message", a.body)
	}
	return e.Error.Code
}

// request is one call; body is JSON-encoded unless it is a string.
type request struct {
	method, path, token string
	body                any
	header              map[string]string
	// invalid marks a request the document forbids (a refusal test): only
	// its answer is checked.
	invalid bool
	// unrouted marks a request no route takes (404, 405).
	unrouted bool
}

func (h *harness) do(r request) answer {
	h.t.Helper()
	var body []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			h.t.Fatal(err)
		}
	}
	req := h.newRequest(r, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: got}
	h.check(r, body, a)
	return a
}

func (h *harness) newRequest(r request, body []byte) *http.Request {
	h.t.Helper()
	req, err := http.NewRequest(r.method, h.base+r.path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req
}

// check validates the request and the answer against the document. Every
// answer is JSON with an error object, except the successes the document
// gives another type.
func (h *harness) check(r request, body []byte, a answer) {
	h.t.Helper()
	if r.unrouted {
		if !json.Valid(a.body) {
			h.t.Errorf("%s %s = %d with a body that is not JSON: %s", r.method, r.path, a.status, a.body)
		}
		return // nothing in the document to check against
	}
	if h.val == nil {
		return
	}
	req := h.newRequest(r, body)
	if !r.invalid {
		if ok, errs := h.val.ValidateHttpRequest(req); !ok {
			h.t.Errorf("%s %s: the request does not match the document: %v", r.method, r.path, errs)
		}
	}
	resp := &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Request: req}
	if ok, errs := h.val.ValidateHttpResponse(h.newRequest(r, body), resp); !ok {
		h.t.Errorf("%s %s = %d %s: the answer does not match the document: %v", r.method, r.path, a.status, a.body, errs)
	}
}

// get, post… are the usual calls with the admin key.
func (h *harness) get(path string) answer {
	h.t.Helper()
	return h.do(request{method: http.MethodGet, path: path, token: h.admin})
}

func (h *harness) post(path string, body any) answer {
	h.t.Helper()
	return h.do(request{method: http.MethodPost, path: path, token: h.admin, body: body})
}

// paired stores a paired account that was running, so Start dials it.
func (h *harness) paired(name, phone string) core.AccountID {
	h.t.Helper()
	return h.account(name, phone, true)
}

// account stores a paired account; Start dials it if autoStart.
func (h *harness) account(name, phone string, autoStart bool) core.AccountID {
	h.t.Helper()
	id := core.AccountID("acct-" + name)
	jid := phone + ".0:3@s.whatsapp.net"
	h.d.AddDevice(jid)
	err := h.s.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: autoStart})
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) start() {
	h.t.Helper()
	if err := h.m.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// waitState waits until the account is in the state.
func (h *harness) waitState(id core.AccountID, want core.State) core.Status {
	h.t.Helper()
	var st core.Status
	eventually(h.t, func() bool {
		st, _ = h.m.Status(id)
		return st.State == want
	}, "account %s to be %v", id, want)
	return st
}

// eventually waits for cond, up to a deadline generous for a loaded machine.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for "+format, args...)
		}
		<-tick.C
	}
}

// syncBuffer is a log sink the server and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
