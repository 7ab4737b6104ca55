package webhookapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"warden/app/webhookapi"
	"warden/core"
	"warden/core/api"
	"warden/core/coretest"
	"warden/core/outbox"
	"warden/core/store"
)

// harness is a Warden as app wires it, on coretest's fake WhatsApp: a real
// bbolt store, the outbox on it following the Manager, and the API with the
// webhook extension on 127.0.0.1. Every request and answer is checked
// against the API's own OpenAPI document.
type harness struct {
	t     *testing.T
	db    *store.DB
	d     *coretest.Dialer
	m     *core.Manager
	o     *outbox.Outbox
	srv   *api.Server
	base  string
	val   validator.Validator
	admin string
	phone int
}

type options struct {
	cfg       outbox.Config
	keepAlive time.Duration
}

func newHarness(t *testing.T, opts options) *harness {
	t.Helper()
	h := &harness{t: t, d: coretest.NewDialer()}
	db, err := store.Open(filepath.Join(t.TempDir(), store.DBFile), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h.db = db
	t.Cleanup(func() { _ = db.Close() })
	ext := &webhookapi.Extension{KeepAlive: opts.keepAlive}
	cfg := opts.cfg
	cfg.Store = db
	if h.o, err = outbox.Open(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.o.Close(context.Background()) })
	inbox := h.o.Inbox(db)
	ext.Outbox = h.o
	p := core.DefaultPolicy()
	p.Jitter, p.StartSpread = 0, 0
	if h.m, err = core.NewManager(core.Config{Dialer: h.d, Store: db, Inbox: inbox, Policy: p}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.m.Close(context.Background()) })
	ext.Accounts = h.m
	if h.srv, err = api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: h.m, Keys: db, Inbox: inbox,
		Extensions: []api.Extension{ext}, MaxBody: 4096, RateLimit: api.RateLimit{PerSecond: 1000, Burst: 1000}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.srv.Close(context.Background()) })
	h.base = "http://" + h.srv.Addr()
	h.val = h.validator()
	h.admin = h.key("admin", false)
	return h
}

// start starts the Manager, with the outbox following it.
func (h *harness) start() {
	h.t.Helper()
	if h.o != nil {
		if err := h.o.Follow(context.Background(), h.m); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.m.Start(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) validator() validator.Validator {
	h.t.Helper()
	resp, err := http.Get(h.base + "/v1/openapi.json")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	spec, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
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

// paired stores a paired account that was running, so Start connects it.
func (h *harness) paired(name string) core.AccountID {
	h.t.Helper()
	id := core.AccountID("acct-" + name)
	h.phone++
	jid := fmt.Sprintf("1555%07d.0:3@s.whatsapp.net", h.phone)
	h.d.AddDevice(jid)
	if err := h.db.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) waitConnected(id core.AccountID) {
	h.t.Helper()
	eventually(h.t, func() bool { st, _ := h.m.Status(id); return st.State == core.Connected }, "%s connected", id)
}

// receive plays a message on the account's session.
func (h *harness) receive(id core.AccountID, msgID string) {
	h.t.Helper()
	msg := core.Message{ID: msgID, Chat: "447700900123@s.whatsapp.net", Sender: "447700900123@s.whatsapp.net",
		Kind: core.KindText, Text: "hello " + msgID, At: time.Now()}
	if err := h.d.Last(id).Receive(msg); err != nil {
		h.t.Fatalf("receive %s: %v", msgID, err)
	}
}

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

// code returns the error code of an error answer, which must say why.
func (a answer) code(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
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
	invalid             bool // the document forbids the request: only the answer is checked
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
	resp, err := http.DefaultClient.Do(h.newRequest(r, body))
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: got}
	if !r.invalid {
		if ok, errs := h.val.ValidateHttpRequest(h.newRequest(r, body)); !ok {
			h.t.Errorf("%s %s: the request does not match the document: %v", r.method, r.path, errs)
		}
	}
	req := h.newRequest(r, body)
	check := &http.Response{StatusCode: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Request: req}
	if ok, errs := h.val.ValidateHttpResponse(req, check); !ok {
		h.t.Errorf("%s %s = %d %s: the answer does not match the document: %v", r.method, r.path, a.status, a.body, errs)
	}
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

func (h *harness) get(path string) answer {
	h.t.Helper()
	return h.do(request{method: http.MethodGet, path: path, token: h.admin})
}

func (h *harness) post(path string, body any) answer {
	h.t.Helper()
	return h.do(request{method: http.MethodPost, path: path, token: h.admin, body: body})
}

// created is what POST /v1/webhooks answers.
type created struct {
	ID, URL, Secret, Warning string
	Accounts, Events         []string
}

// createHook registers a webhook with the admin key and checks the 201.
func (h *harness) createHook(body any) created {
	h.t.Helper()
	a := h.post("/v1/webhooks", body)
	if a.status != http.StatusCreated {
		h.t.Fatalf("POST /v1/webhooks %v = %d %s, want 201", body, a.status, a.body)
	}
	var c created
	a.decode(h.t, &c)
	if c.ID == "" || c.Secret == "" {
		h.t.Fatalf("POST /v1/webhooks answered %s: no id or secret", a.body)
	}
	return c
}

// eventually waits for cond, up to a deadline generous for a loaded machine.
func eventually(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for "+format, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// delivery is one request a receiver got.
type delivery struct {
	ev     outbox.Event
	fields []string // the body's top-level keys
	sigErr error
}

// receiver is a webhook's receiving end on 127.0.0.1; status decides its
// answer.
type receiver struct {
	srv *httptest.Server

	mu sync.Mutex
	// mu guards the following
	secret string
	status int
	got    []delivery
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev outbox.Event
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(body, &ev)
		_ = json.Unmarshal(body, &fields)
		rc.mu.Lock()
		d := delivery{ev: ev, sigErr: outbox.Verify(rc.secret, r.Header, body, time.Minute)}
		for k := range fields {
			d.fields = append(d.fields, k)
		}
		rc.got = append(rc.got, d)
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) set(secret string, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret, rc.status = secret, status
}

func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// ofType returns the deliveries of events of the type.
func (rc *receiver) ofType(typ string) []delivery {
	var out []delivery
	for _, d := range rc.all() {
		if d.ev.Type == typ {
			out = append(out, d)
		}
	}
	return out
}
