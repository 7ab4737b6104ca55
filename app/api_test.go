package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/fakewa"
)

// apiRig is Warden as the app wires it, on fakewa with real whatsmeow: one
// paired, connected account, and an API key.
type apiRig struct {
	svc   *services
	srv   *fakewa.Server
	acct  core.AccountID
	token string
}

const apiContact = "15550100200"

// newAPIRig starts Warden with f's API options and pairs an account.
func newAPIRig(tb testing.TB, seed int64, f flags) *apiRig {
	tb.Helper()
	srv := fakeServer(tb, seed)
	if err := srv.AddContact(apiContact, 1); err != nil {
		tb.Fatal(err)
	}
	f.dataDir, f.httpClient = tb.TempDir(), srv.HTTPClient()
	svc, err := start(f, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = svc.close(context.Background()) })
	k, token, err := api.NewKey("e2e", false, nil, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	if err := svc.db.PutAPIKey(context.Background(), k); err != nil {
		tb.Fatal(err)
	}
	if err := svc.begin(f); err != nil {
		tb.Fatal(err)
	}
	acct, err := svc.manager.Add(context.Background(), "Shop")
	if err != nil {
		tb.Fatal(err)
	}
	st := awaitStatus(tb, svc, acct.ID, func(st core.Status) bool { return st.QRCode != "" })
	if _, err := srv.ScanQR(st.QRCode); err != nil {
		tb.Fatal(err)
	}
	awaitStatus(tb, svc, acct.ID, func(st core.Status) bool { return st.State == core.Connected })
	return &apiRig{svc: svc, srv: srv, acct: acct.ID, token: token}
}

// awaitStatus waits until the account's status meets cond.
func awaitStatus(tb testing.TB, svc *services, id core.AccountID, cond func(core.Status) bool) core.Status {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, ok := svc.manager.Status(id)
		if ok && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("account %s: waited 30 s, it is %v (%s)", id, st.State, st.Reason)
		}
		<-tick.C
	}
}

// send posts a message to base's API and returns the status and body.
func (r *apiRig) send(tb testing.TB, base, text, idemKey string) (int, []byte) {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"to": "+" + apiContact, "text": text})
	req, err := http.NewRequest(http.MethodPost, base+"/v1/accounts/"+string(r.acct)+"/messages", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, got
}

// A message sent through --api reaches the contact's phone on fakewa once,
// however often the business's software retries it, at once or later.
func TestSendThroughAPI(t *testing.T) {
	addr := freeAddr(t)
	r := newAPIRig(t, 330, flags{api: addr})
	base := "http://" + addr

	var wg sync.WaitGroup
	bodies := make([][]byte, 3)
	for i := range bodies {
		wg.Go(func() {
			status, body := r.send(t, base, "order 42 shipped", "order-42")
			if status != http.StatusOK {
				t.Errorf("send through the API = %d %s", status, body)
			}
			bodies[i] = body
		})
	}
	wg.Wait()
	_, later := r.send(t, base, "order 42 shipped", "order-42")
	bodies = append(bodies, later)
	var sent struct{ ID, Status string }
	if err := json.Unmarshal(bodies[0], &sent); err != nil || sent.Status != "acknowledged" {
		t.Fatalf("answer %s, %v; want acknowledged", bodies[0], err)
	}
	for i, b := range bodies {
		if !bytes.Equal(b, bodies[0]) {
			t.Errorf("attempt %d answered %s, want the first answer %s", i+1, b, bodies[0])
		}
	}
	got := r.srv.Received(apiContact)
	if len(got) != 1 || got[0].ID != sent.ID || got[0].Text != "order 42 shipped" {
		t.Errorf("the contact received %+v, want message %s once", got, sent.ID)
	}
}

// BenchmarkSendThroughAPI measures send → server ack through the HTTP API
// (a POST on 127.0.0.1, with its key check, JSON and log line) and through
// Manager.SendText, on one account of fakewa with real whatsmeow, in the
// same run, one after the other in alternating order. The API is served
// without a rate limit in the way.
func BenchmarkSendThroughAPI(b *testing.B) {
	r := newAPIRig(b, 331, flags{})
	srv, err := api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: r.svc.controller(), Keys: r.svc.db,
		RateLimit: api.RateLimit{PerSecond: 1e6, Burst: 1e6}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	base := "http://" + srv.Addr()
	ctx := context.Background()
	direct := func() time.Duration {
		start := time.Now()
		if _, err := r.svc.manager.SendText(ctx, r.acct, apiContact, "bench"); err != nil {
			b.Fatalf("SendText: %v", err)
		}
		return time.Since(start)
	}
	viaAPI := func() time.Duration {
		start := time.Now()
		if status, body := r.send(b, base, "bench", ""); status != http.StatusOK {
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
	median := func(s []time.Duration) float64 { return float64(s[len(s)/2].Microseconds()) / 1000 }
	b.ReportMetric(median(as), "api-ms-median")
	b.ReportMetric(median(ds), "sendtext-ms-median")
	b.ReportMetric(median(as)/median(ds), "api/sendtext")
}
