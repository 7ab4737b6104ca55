package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
)

// Warden as the app wires it, with --api: a webhook registered with POST
// /v1/webhooks gets the messages fakewa's contact sends to the account, as
// message.received deliveries signed with the secret the POST answered.
func TestWebhookThroughAPI(t *testing.T) {
	addr := freeAddr(t)
	r := newAPIRig(t, 332, flags{api: addr})
	base := "http://" + addr

	type got struct {
		ev     outbox.Event
		fields map[string]json.RawMessage
		sig    error
	}
	var mu sync.Mutex
	var secret string
	var deliveries []got
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var g got
		_ = json.Unmarshal(body, &g.ev)
		_ = json.Unmarshal(body, &g.fields)
		mu.Lock()
		g.sig = outbox.Verify(secret, req.Header, body, time.Minute)
		deliveries = append(deliveries, g)
		mu.Unlock()
	}))
	defer rc.Close()

	// The contract: POST /v1/webhooks {"url"} → 201 {"id", "secret"}.
	body, _ := json.Marshal(map[string]string{"url": rc.URL + "/path"})
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ ID, Secret string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || created.ID == "" || created.Secret == "" {
		t.Fatalf("POST /v1/webhooks = %d %+v, %v; want 201 with id and secret", resp.StatusCode, created, err)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	st, _ := r.svc.manager.Status(r.acct)
	phone := strings.SplitN(strings.SplitN(st.Account.JID, "@", 2)[0], ".", 2)[0]
	phone = strings.SplitN(phone, ":", 2)[0]
	var sent []string
	for _, text := range []string{"where is my order?", "order 42", "thanks"} {
		id, err := r.srv.SendText(apiContact, phone, text)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, id)
	}
	received := func() []got {
		mu.Lock()
		defer mu.Unlock()
		var out []got
		for _, d := range deliveries {
			if d.ev.Type == outbox.TypeMessageReceived {
				out = append(out, d)
			}
		}
		return out
	}
	waitFor(t, 60*time.Second, func() bool { return len(received()) >= len(sent) })
	for i, d := range received() {
		var msg struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		}
		_ = json.Unmarshal(d.ev.Data, &msg)
		if d.sig != nil || d.ev.Account != r.acct || len(d.fields) != 5 || i < len(sent) && msg.ID != sent[i] {
			t.Errorf("delivery %d: %+v (data %s, %d fields, signature %v), want message %s of %s signed, with id, type, account, time, data",
				i, d.ev, d.ev.Data, len(d.fields), d.sig, sent[min(i, len(sent)-1)], r.acct)
		}
	}
	if n := len(received()); n != len(sent) {
		t.Errorf("the receiver got %d message.received, want %d", n, len(sent))
	}
}

// A send retried with its Idempotency-Key after Warden restarted gets the
// first answer, and the contact's phone on fakewa gets the message once:
// the answer was kept in warden.db.
func TestIdempotentSendAcrossRestart(t *testing.T) {
	addr := freeAddr(t)
	f := flags{api: addr}
	r := newAPIRig(t, 333, f)
	base := "http://" + addr
	status, first := r.send(t, base, "order 42 shipped", "order-42")
	if status != http.StatusOK {
		t.Fatalf("send = %d %s", status, first)
	}

	ctx := t.Context()
	if err := r.svc.close(ctx); err != nil {
		t.Fatal(err)
	}
	f.dataDir, f.httpClient = r.svc.dataDir, r.srv.HTTPClient()
	svc, err := start(f, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	if err := svc.begin(f); err != nil {
		t.Fatal(err)
	}
	awaitStatus(t, svc, r.acct, func(st core.Status) bool { return st.State == core.Connected })
	r.svc = svc

	for i := range 3 {
		if status, again := r.send(t, base, "order 42 shipped", "order-42"); status != http.StatusOK || !bytes.Equal(again, first) {
			t.Errorf("retry %d after the restart = %d %s, want the first answer %s", i+1, status, again, first)
		}
	}
	if got := r.srv.Received(apiContact); len(got) != 1 {
		t.Errorf("the contact received %d messages, want 1", len(got))
	}
}
