package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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
