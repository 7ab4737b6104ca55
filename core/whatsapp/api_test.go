package whatsapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/store"
)

// apiClient is the HTTP API of a rig's Manager on 127.0.0.1, with a key.
type apiClient struct {
	base, token string
	client      *http.Client
}

func serveAPI(t testing.TB, r *rig) *apiClient {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), store.DBFile), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, token, err := api.NewKey("e2e", false, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	// The benchmark sends as fast as it can: no rate limit in the way.
	srv, err := api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: r.m, Keys: db, RateLimit: api.RateLimit{PerSecond: 1e6, Burst: 1e6}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return &apiClient{base: "http://" + srv.Addr(), token: token, client: &http.Client{}}
}

// send posts a message through the API and returns the status and body.
func (c *apiClient) send(t testing.TB, id core.AccountID, to, text, idemKey string) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"to": to, "text": text})
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/accounts/"+string(id)+"/messages", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}

// A message sent through the API with real whatsmeow reaches fakewa's
// contact once, however often the business's software retries it.
func TestSendThroughAPI(t *testing.T) {
	r := newRig(t, 320, testPolicy())
	if err := r.srv.AddContact(contact, 1); err != nil {
		t.Fatal(err)
	}
	acct := r.add("Warden")
	c := serveAPI(t, r)

	var wg sync.WaitGroup
	bodies := make([][]byte, 3)
	for i := range bodies {
		wg.Go(func() {
			status, body := c.send(t, acct.ID, "+"+contact, "order 42 shipped", "order-42")
			if status != http.StatusOK {
				t.Errorf("send through the API = %d %s", status, body)
			}
			bodies[i] = body
		})
	}
	wg.Wait()
	var sent struct{ ID, Status string }
	if err := json.Unmarshal(bodies[0], &sent); err != nil || sent.Status != "acknowledged" {
		t.Fatalf("answer %s, %v; want acknowledged", bodies[0], err)
	}
	for i, b := range bodies {
		if !bytes.Equal(b, bodies[0]) {
			t.Errorf("attempt %d answered %s, want the first answer %s", i+1, b, bodies[0])
		}
	}
	got := r.srv.Received(contact)
	if len(got) != 1 || got[0].ID != sent.ID || got[0].Text != "order 42 shipped" {
		t.Errorf("the contact received %+v, want message %s once", got, sent.ID)
	}
}

// BenchmarkSendThroughAPI measures send → server ack through the HTTP API
// (a POST on 127.0.0.1, with its key check, JSON and log) and through
// Manager.SendText, on one account of fakewa with real whatsmeow, in the
// same run, one after the other in alternating order.
func BenchmarkSendThroughAPI(b *testing.B) {
	defaultKeepAlive(b)
	r := newRig(b, 321, testPolicy())
	if err := r.srv.AddContact(contact, 1); err != nil {
		b.Fatal(err)
	}
	acct := r.add("Warden")
	c := serveAPI(b, r)
	ctx := context.Background()
	direct := func() time.Duration {
		start := time.Now()
		if _, err := r.m.SendText(ctx, acct.ID, contact, "bench"); err != nil {
			b.Fatalf("SendText: %v", err)
		}
		return time.Since(start)
	}
	viaAPI := func() time.Duration {
		start := time.Now()
		if status, body := c.send(b, acct.ID, "+"+contact, "bench", ""); status != http.StatusOK {
			b.Fatalf("send through the API = %d %s", status, body)
		}
		return time.Since(start)
	}
	// The first send builds the Signal session (usync, prekeys).
	direct()
	viaAPI()

	var ds, as []time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			ds = append(ds, direct())
			as = append(as, viaAPI())
		} else {
			as = append(as, viaAPI())
			ds = append(ds, direct())
		}
		i++
	}
	slices.Sort(ds)
	slices.Sort(as)
	b.ReportMetric(ms(quantile(as, 0.5)), "api-ms-median")
	b.ReportMetric(ms(quantile(ds, 0.5)), "sendtext-ms-median")
	b.ReportMetric(ms(quantile(as, 0.5))/ms(quantile(ds, 0.5)), "api/sendtext")
}
