package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"warden/core"
	"warden/core/coretest"
)

// noJitter is the default policy without jitter, so durations are exact.
func noJitter() core.Policy {
	p := core.DefaultPolicy()
	p.Jitter = 0
	return p
}

// rig is a real Manager on the fake dialer with an exporter reading it. The
// bubble tests scrape the exporter's handler in-process: a real socket would
// keep a synctest bubble from ever being idle, so its virtual time would stop.
type rig struct {
	t *testing.T
	m *core.Manager
	d *coretest.Dialer
	s *coretest.Store
	e *exporter
}

func newRig(t *testing.T) *rig {
	t.Helper()
	d, s := coretest.NewDialer(), coretest.NewStore()
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter()})
	if err != nil {
		t.Fatal(err)
	}
	e := newExporter(m, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(func() {
		_ = m.Close(context.Background())
		e.close()
	})
	return &rig{t: t, m: m, d: d, s: s, e: e}
}

// paired stores a paired account that was running, so Start dials it.
func (r *rig) paired(name, phone string) core.AccountID {
	r.t.Helper()
	id := core.AccountID("acct-" + name)
	jid := phone + ".0:3@s.whatsapp.net"
	r.d.AddDevice(jid)
	err := r.s.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) start() {
	r.t.Helper()
	if err := r.m.Start(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) wantState(id core.AccountID, want core.State) {
	r.t.Helper()
	st, _ := r.m.Status(id)
	if st.State != want {
		r.t.Fatalf("state of %s = %v (%s), want %v", id, st.State, st.Reason, want)
	}
}

// get requests path from the exporter's handler.
func (r *rig) get(path string) (int, string) {
	r.t.Helper()
	rec := httptest.NewRecorder()
	r.e.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// scrape reads /metrics the way Prometheus does.
func (r *rig) scrape() families {
	r.t.Helper()
	code, body := r.get("/metrics")
	if code != http.StatusOK {
		r.t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	return parse(r.t, strings.NewReader(body))
}

// families are parsed metric families, by name.
type families struct {
	t  *testing.T
	fs map[string]*dto.MetricFamily
}

func parse(t *testing.T, body io.Reader) families {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fs, err := p.TextToMetricFamilies(body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return families{t: t, fs: fs}
}

// metric returns the series of name whose labels include labels (name, value
// pairs).
func (f families) metric(name string, labels ...string) *dto.Metric {
	f.t.Helper()
	fam, ok := f.fs[name]
	if !ok {
		f.t.Fatalf("no metric %s in the scrape", name)
	}
	for _, m := range fam.GetMetric() {
		have := make(map[string]string)
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				match = false
			}
		}
		if match {
			return m
		}
	}
	f.t.Fatalf("no series %s%v in the scrape", name, labels)
	return nil
}

// value returns a counter's or a gauge's value.
func (f families) value(name string, labels ...string) float64 {
	f.t.Helper()
	m := f.metric(name, labels...)
	switch {
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	f.t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

// histogram returns a histogram's observation count and sum, and its
// cumulative count at the bucket with upper bound le.
func (f families) histogram(name string, le float64) (count uint64, sum float64, upTo uint64) {
	f.t.Helper()
	h := f.metric(name).GetHistogram()
	if h == nil {
		f.t.Fatalf("%s is not a histogram", name)
	}
	found := false
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			upTo, found = b.GetCumulativeCount(), true
		}
	}
	if !found {
		f.t.Fatalf("%s has no bucket le=%v", name, le)
	}
	return h.GetSampleCount(), h.GetSampleSum(), upTo
}

// want checks a counter's or a gauge's value.
func (f families) want(name string, want float64, labels ...string) {
	f.t.Helper()
	if got := f.value(name, labels...); got != want {
		f.t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// wantStates checks warden_accounts: the states given have those counts,
// every other state is listed with 0.
func (f families) wantStates(want map[core.State]float64) {
	f.t.Helper()
	if n := len(f.fs["warden_accounts"].GetMetric()); n != len(core.States) {
		f.t.Errorf("warden_accounts has %d series, want one per state (%d)", n, len(core.States))
	}
	for _, s := range core.States {
		f.want("warden_accounts", want[s], "state", s.String())
	}
}

func TestAccountsByStateAfterDrop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		alpha := r.paired("alpha", "15550001111")
		r.paired("bravo", "15550002222")
		r.start()
		time.Sleep(time.Second) // the start-up spreads the dials
		synctest.Wait()

		f := r.scrape()
		f.wantStates(map[core.State]float64{core.Connected: 2})
		f.want("warden_reconnect_attempts_total", 0) // the start-up dials are not reconnects
		if n, _, _ := f.histogram("warden_time_to_recover_seconds", 5); n != 0 {
			t.Errorf("time to recover has %d observations before any drop", n)
		}

		r.d.Last(alpha).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		synctest.Wait()
		f = r.scrape()
		f.wantStates(map[core.State]float64{core.Connected: 1, core.Waiting: 1})
		f.want("warden_accounts_needing_action", 0)

		time.Sleep(3 * time.Second) // attempt 1 of the schedule
		synctest.Wait()
		r.wantState(alpha, core.Connected)
		f = r.scrape()
		f.wantStates(map[core.State]float64{core.Connected: 2})
		f.want("warden_reconnect_attempts_total", 1)
		n, sum, upTo := f.histogram("warden_time_to_recover_seconds", 2.5)
		if n != 1 || sum != 3 || upTo != 0 {
			t.Errorf("time to recover: %d observations, sum %vs, %d up to 2.5 s; want 1 of 3 s", n, sum, upTo)
		}
		if _, _, upTo := f.histogram("warden_time_to_recover_seconds", 5); upTo != 1 {
			t.Errorf("time to recover: %d up to 5 s, want 1", upTo)
		}
	})
}

func TestConflictsTakeoverAndPark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.start()
		synctest.Wait()
		r.wantState(id, core.Connected)

		// The first conflict: Warden takes the account back once, after 30 s.
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
		synctest.Wait()
		f := r.scrape()
		f.want("warden_conflicts_total", 1)
		f.want("warden_parks_total", 0)
		f.wantStates(map[core.State]float64{core.Replaced: 1})
		if code, body := r.get("/healthz"); code != http.StatusOK {
			t.Errorf("healthz during a pending takeover = %d, want 200: %s", code, body)
		}

		time.Sleep(30 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		f = r.scrape()
		f.want("warden_reconnect_attempts_total", 1)
		if n, sum, _ := f.histogram("warden_time_to_recover_seconds", 30); n != 1 || sum != 30 {
			t.Errorf("time to recover after the takeover: %d observations, sum %vs; want 1 of 30 s", n, sum)
		}

		// A second conflict within 10 minutes parks it.
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
		synctest.Wait()
		f = r.scrape()
		f.want("warden_conflicts_total", 2)
		f.want("warden_parks_total", 1)
		f.want("warden_accounts_needing_action", 1)
		f.want("warden_reconnect_attempts_total", 1)
		code, body := r.get("/healthz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "1 Replaced (parked)") || !strings.Contains(body, "alpha") {
			t.Errorf("healthz with a parked account = %d %q, want 503 naming alpha and Replaced (parked)", code, body)
		}

		// The operator takes it over 10 s later: the downtime counts from the drop.
		time.Sleep(10 * time.Second)
		if err := r.m.Connect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(id, core.Connected)
		f = r.scrape()
		f.want("warden_reconnect_attempts_total", 2)
		f.want("warden_conflicts_total", 2)
		if n, sum, _ := f.histogram("warden_time_to_recover_seconds", 30); n != 2 || sum != 40 {
			t.Errorf("time to recover after Take over: %d observations, sum %vs; want 2, 30 s + 10 s", n, sum)
		}
		if code, _ := r.get("/healthz"); code != http.StatusOK {
			t.Errorf("healthz after Take over = %d, want 200", code)
		}
	})
}

func TestLoggedOutParksAndIsNoRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.start()
		synctest.Wait()
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		synctest.Wait()
		// The reconnect is refused for good: the phone unlinked the device.
		r.d.Lock()
		r.d.OnConnect = func(_ context.Context, s *coretest.Session) error {
			s.Emit(core.SessionEvent{Kind: core.SessionLoggedOut, Code: 401})
			return nil
		}
		r.d.Unlock()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.LoggedOut)
		f := r.scrape()
		f.want("warden_parks_total", 1)
		f.want("warden_reconnect_attempts_total", 1)
		f.wantStates(map[core.State]float64{core.LoggedOut: 1})

		// Paired again, it connects: a new pairing, not a recovery.
		r.d.Lock()
		r.d.OnConnect = nil
		r.d.Unlock()
		if err := r.m.Connect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.d.Last(id).Pair()
		synctest.Wait()
		r.wantState(id, core.Connected)
		f = r.scrape()
		if n, _, _ := f.histogram("warden_time_to_recover_seconds", 5); n != 0 {
			t.Errorf("time to recover has %d observations after a logout and a new pairing, want 0", n)
		}
		f.want("warden_reconnect_attempts_total", 1) // Pair again is not a reconnect
	})
}

// The operator's own Log out needs the operator (to pair again) but is not
// Warden giving up: no park.
func TestOperatorLogoutIsNoPark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.start()
		synctest.Wait()
		if err := r.m.Logout(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(id, core.LoggedOut)
		f := r.scrape()
		f.want("warden_parks_total", 0)
		f.want("warden_accounts_needing_action", 1)
		if code, _ := r.get("/healthz"); code != http.StatusServiceUnavailable {
			t.Errorf("healthz after Log out = %d, want 503: the account must be paired again", code)
		}
	})
}

func TestSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.d.Lock()
		r.d.OnSend = func(_ context.Context, _ *coretest.Session, to, _ string) (core.Sent, error) {
			if to == "447700900999" {
				return core.Sent{}, core.ErrRateLimited
			}
			time.Sleep(250 * time.Millisecond) // the server's ack takes 250 ms
			return core.Sent{ID: "M1", ServerTime: time.Now()}, nil
		}
		r.d.Unlock()
		r.start()
		synctest.Wait()
		f := r.scrape()
		f.want("warden_sends_total", 0, "result", "sent")
		f.want("warden_sends_total", 0, "result", "failed")

		if _, err := r.m.SendText(context.Background(), id, "+44 7700 900123", "hello"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.SendText(context.Background(), id, "+44 7700 900999", "hello"); !errors.Is(err, core.ErrRateLimited) {
			t.Fatalf("SendText = %v, want ErrRateLimited", err)
		}
		synctest.Wait()
		f = r.scrape()
		f.want("warden_sends_total", 1, "result", "sent")
		f.want("warden_sends_total", 1, "result", "failed")
		n, sum, upTo := f.histogram("warden_send_latency_seconds", 0.1)
		if n != 1 || sum != 0.25 || upTo != 0 {
			t.Errorf("send latency: %d observations, sum %vs, %d up to 0.1 s; want one of 0.25 s", n, sum, upTo)
		}
		if _, _, upTo := f.histogram("warden_send_latency_seconds", 0.25); upTo != 1 {
			t.Errorf("send latency: %d up to 0.25 s, want 1", upTo)
		}
	})
}

func TestKeepaliveFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.start()
		synctest.Wait()
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionKeepAliveTimeout})
		synctest.Wait()
		f := r.scrape()
		f.want("warden_keepalive_failing_accounts", 1)
		f.want("warden_keepalive_failures_total", 0)

		// Unanswered for 3 minutes: the zombie check reconnects, 3 s later.
		time.Sleep(3*time.Minute + 3*time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		f = r.scrape()
		f.want("warden_keepalive_failures_total", 1)
		f.want("warden_keepalive_failing_accounts", 0)
		f.want("warden_reconnect_attempts_total", 1)
		if n, sum, _ := f.histogram("warden_time_to_recover_seconds", 5); n != 1 || sum != 3 {
			t.Errorf("time to recover after the zombie check: %d observations, sum %vs; want 1 of 3 s", n, sum)
		}
	})
}

func TestGuardCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		r.start()
		synctest.Wait()
		old := r.d.Last(id)
		old.Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		old.Emit(core.SessionEvent{Kind: core.SessionDisconnected}) // a late event of the dead client

		acct, err := r.m.Add(context.Background(), "bravo")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(acct.ID, core.Pairing)
		if err := r.m.Connect(context.Background(), acct.ID); err != nil { // already pairing: skipped
			t.Fatal(err)
		}
		f := r.scrape()
		f.want("warden_stale_events_dropped_total", 1)
		f.want("warden_reconnects_skipped_total", 1)
		f.wantStates(map[core.State]float64{core.Connected: 1, core.Pairing: 1})
	})
}

// proxyRefusal is the error of a dial its proxy refused, as core/whatsapp
// returns it.
type proxyRefusal struct{}

func (proxyRefusal) Error() string {
	return "the proxy socks5://127.0.0.1:1080 refused the user name or password"
}
func (proxyRefusal) DialProblem() core.DialProblem { return core.ProblemProxyAuth }

// A proxy that keeps refusing the password: Warden keeps trying, and after
// three refusals in a row /healthz says the account needs the operator, and
// why; once the proxy lets it through, it is healthy again.
func TestHealthzProxyRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		id := r.paired("alpha", "15550001111")
		refuse := true
		r.d.Lock()
		r.d.OnConnect = func(ctx context.Context, s *coretest.Session) error {
			if refuse {
				return proxyRefusal{}
			}
			return coretest.Behave(ctx, s)
		}
		r.d.Unlock()
		r.start()
		synctest.Wait()
		time.Sleep(3*time.Second + 100*time.Millisecond) // the first retry, after 3 s
		synctest.Wait()
		if code, body := r.get("/healthz"); code != http.StatusOK {
			t.Errorf("healthz after two refusals = %d %q, want 200", code, body)
		}
		time.Sleep(5*time.Second + 100*time.Millisecond)
		synctest.Wait()
		code, body := r.get("/healthz")
		want := "1 of 1 account needs the operator: 1 refused every time (still retrying)\n" +
			"- alpha (acct-alpha): refused every time (still retrying): the proxy socks5://127.0.0.1:1080 refused the user name or password\n"
		if code != http.StatusServiceUnavailable || body != want {
			t.Errorf("healthz after three refusals = %d\n%s\nwant 503\n%s", code, body, want)
		}
		r.scrape().want("warden_accounts_needing_action", 1)
		r.d.Lock()
		refuse = false
		r.d.Unlock()
		time.Sleep(5*time.Second + 100*time.Millisecond)
		synctest.Wait()
		r.wantState(id, core.Connected)
		if code, body := r.get("/healthz"); code != http.StatusOK {
			t.Errorf("healthz once the proxy let it through = %d %q, want 200", code, body)
		}
	})
}

func TestHealthzAndIndex(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		if code, body := r.get("/healthz"); code != http.StatusOK || body != "ok: 0 accounts, none needs the operator\n" {
			t.Errorf("healthz without accounts = %d %q", code, body)
		}
		code, body := r.get("/")
		if code != http.StatusOK || !strings.Contains(body, "/metrics") || !strings.Contains(body, "/healthz") {
			t.Errorf("GET / = %d %q, want an index of /metrics and /healthz", code, body)
		}
		if code, _ := r.get("/nothing"); code != http.StatusNotFound {
			t.Errorf("GET /nothing = %d, want 404", code)
		}
		rec := httptest.NewRecorder()
		r.e.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/healthz", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST /healthz = %d, want 405", rec.Code)
		}
	})
}

// --- over a real socket, in real time ------------------------------------------

// waitState waits until the account is in want, by its status updates.
func waitState(t *testing.T, m *core.Manager, id core.AccountID, want core.State) {
	t.Helper()
	updates, cancel := m.Subscribe()
	defer cancel()
	if st, _ := m.Status(id); st.State == want {
		return
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st := <-updates:
			if st.Account.ID == id && st.State == want {
				return
			}
		case <-timeout:
			st, _ := m.Status(id)
			t.Fatalf("%s is %v (%s), want %v", id, st.State, st.Reason, want)
		}
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServeOverHTTP(t *testing.T) {
	d, s := coretest.NewDialer(), coretest.NewStore()
	m, err := core.NewManager(core.Config{Dialer: d, Store: s, Policy: noJitter()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	srv, err := Serve(m, Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	base := "http://" + srv.Addr()
	if host, port, _ := net.SplitHostPort(srv.Addr()); host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr() = %s, want 127.0.0.1 and the port it got", srv.Addr())
	}

	for _, name := range []string{"alpha", "bravo"} {
		jid := "1555000" + name + ".0:1@s.whatsapp.net"
		d.AddDevice(jid)
		if err := s.PutAccount(context.Background(), core.Account{ID: core.AccountID(name), Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "alpha", core.Connected)
	waitState(t, m, "bravo", core.Connected)

	code, body := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	f := parse(t, strings.NewReader(body))
	f.wantStates(map[core.State]float64{core.Connected: 2})
	if f.value("go_goroutines") <= 0 {
		t.Errorf("go_goroutines is not positive")
	}
	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok: 2 accounts, none needs the operator\n" {
		t.Errorf("healthz = %d %q, want 200 ok", code, body)
	}

	d.Last("bravo").Emit(core.SessionEvent{Kind: core.SessionLoggedOut})
	code, body = httpGet(t, base+"/healthz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("healthz after a logout = %d, want 503", code)
	}
	want := "1 of 2 accounts needs the operator: 1 LoggedOut\n- bravo (bravo): LoggedOut: the phone unlinked this device: pair again\n"
	if body != want {
		t.Errorf("healthz after a logout:\n got %q\nwant %q", body, want)
	}
	_, body = httpGet(t, base+"/metrics")
	parse(t, strings.NewReader(body)).wantStates(map[core.State]float64{core.Connected: 1, core.LoggedOut: 1})

	if err := srv.Close(context.Background()); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := srv.Close(context.Background()); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if resp, err := http.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET after Close = %d, want no server", resp.StatusCode)
	}
}

func TestServeRefusesAddresses(t *testing.T) {
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: coretest.NewStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		srv, err := Serve(m, Options{Addr: addr})
		if !errors.Is(err, core.ErrMetricsNotLoopback) || !strings.Contains(err.Error(), "every network interface") {
			t.Errorf("Serve(%q) = %v, want ErrMetricsNotLoopback saying it listens on every interface", addr, err)
		}
		if srv != nil {
			_ = srv.Close(context.Background())
		}
	}

	// A busy port is an error at once, and says so.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	srv, err := Serve(m, Options{Addr: busy})
	if err == nil {
		_ = srv.Close(context.Background())
		t.Fatalf("Serve on the busy %s succeeded", busy)
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), busy) || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("Serve on a busy port = %v, want an error naming %s and saying it is in use", err, busy)
	}

	// localhost is loopback.
	srv, err = Serve(m, Options{Addr: "localhost:0"})
	if err != nil {
		t.Fatalf("Serve(localhost:0) = %v", err)
	}
	defer srv.Close(context.Background())
	if ip := net.ParseIP(strings.Trim(srv.Addr()[:strings.LastIndex(srv.Addr(), ":")], "[]")); ip == nil || !ip.IsLoopback() {
		t.Errorf("Serve(localhost:0) listens on %s, want a loopback address", srv.Addr())
	}
}

// BenchmarkScrape measures one /metrics scrape with 200 accounts.
func BenchmarkScrape(b *testing.B) {
	d, s := coretest.NewDialer(), coretest.NewStore()
	for i := range 200 {
		id := core.AccountID("acct-" + strconv.Itoa(i))
		if err := s.PutAccount(context.Background(), core.Account{ID: id, Name: string(id), CreatedAt: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	m, err := core.NewManager(core.Config{Dialer: d, Store: s})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	e := newExporter(m, slog.New(slog.DiscardHandler), nil)
	defer e.close()
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /metrics = %d", rec.Code)
		}
	}
}

// In a fleet a node counts only the accounts it runs, so that the nodes'
// gauges and health add up to the fleet's.
func TestOnlyTheAccountsThisNodeRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		mine := r.paired("alpha", "15550001111")
		r.paired("bravo", "15550002222")
		r.e.close()
		r.e = newExporter(r.m, slog.New(slog.DiscardHandler), func(id core.AccountID) bool { return id == mine })
		r.start()
		time.Sleep(time.Second)
		synctest.Wait()
		r.d.Last(mine).Emit(core.SessionEvent{Kind: core.SessionLoggedOut})
		synctest.Wait()
		f := r.scrape()
		f.wantStates(map[core.State]float64{core.LoggedOut: 1})
		f.want("warden_accounts_needing_action", 1)
		if code, body := r.get("/healthz"); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "1 of 1 account needs") {
			t.Errorf("healthz = %d %q, want this node's one account", code, body)
		}
	})
}

// Today's messages and the quiet accounts come from the statuses at scrape
// time.
func TestMessagesAndQuietAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		phones := []string{"15550001111", "15550002222", "15550003333", "15550004444"}
		var ids []core.AccountID
		for i, p := range phones {
			ids = append(ids, r.paired(fmt.Sprint("acct", i), p))
		}
		r.start()
		time.Sleep(time.Minute) // the start-up spreads the dials
		synctest.Wait()
		f := r.scrape()
		f.want("warden_messages_today", 0, "direction", "in")
		f.want("warden_quiet_accounts", 0)

		// Three accounts receive, twice in an hour and a half; the fourth,
		// connected as long, receives nothing.
		for round := range 2 {
			time.Sleep(45 * time.Minute)
			for i, id := range ids[:3] {
				msg := core.Message{ID: fmt.Sprint("M", round, i), Chat: "447700900123@s.whatsapp.net", Sender: "447700900123@s.whatsapp.net", Kind: core.KindText}
				if err := r.d.Last(id).Receive(msg); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := r.m.SendText(context.Background(), ids[0], "447700900123", "hello"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		f = r.scrape()
		f.want("warden_messages_today", 6, "direction", "in")
		f.want("warden_messages_today", 1, "direction", "out")
		f.want("warden_quiet_accounts", 1)
	})
}
