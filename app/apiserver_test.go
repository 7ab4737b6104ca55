package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"fyne.io/fyne/v2/test"

	"warden/core"
	"warden/core/api"
	"warden/core/outbox"
	"warden/core/store"
	"warden/ui"
)

// startedServices is Warden as begin leaves it, on a fresh data directory
// (or dir, when given), with f's flags.
func startedServices(t *testing.T, dir string, f flags) *services {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	f.dataDir = dir
	svc, err := start(f, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	if err := svc.begin(f); err != nil {
		t.Fatal(err)
	}
	return svc
}

// getAccounts is GET /v1/accounts with token; status 0 when nothing
// answers.
func getAccounts(t *testing.T, addr, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return 0, ""
		}
		t.Fatalf("GET /v1/accounts: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestDefaultAPIAddrIsTheAPIs(t *testing.T) {
	if core.DefaultAPIAddr != api.DefaultAddr {
		t.Errorf("core.DefaultAPIAddr = %s, api.DefaultAddr = %s: Settings › API would propose another address than --api's help", core.DefaultAPIAddr, api.DefaultAddr)
	}
}

// Settings › API starts the API at once, a key made in the window opens it,
// a refused change keeps it as it was, and turning it off stops it.
func TestAPIFromSettings(t *testing.T) {
	svc := startedServices(t, "", flags{})
	if _, err := svc.manager.Add(context.Background(), "Shop"); err != nil {
		t.Fatal(err)
	}
	win := windowAPI{svc}
	if st := win.State(); st != (ui.APIState{}) {
		t.Fatalf("with nothing asked, the API state is %+v", st)
	}
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: new(slog.LevelVar)}
	u, _ := prefs.Load()
	if u.API.On {
		t.Fatal("a new installation serves the API")
	}

	key, token, err := win.CreateKey(context.Background(), "helpdesk", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	u.API = ui.APISettings{On: true, Addr: addr}
	if err := prefs.Save(u); err != nil {
		t.Fatalf("Save: %v", err)
	}
	code, body := getAccounts(t, addr, token)
	if code != http.StatusOK || !strings.Contains(body, `"name":"Shop"`) {
		t.Fatalf("GET /v1/accounts with the window's key = %d %s", code, body)
	}
	if st := win.State(); st.Addr != addr || st.Problem != "" || st.FromFlag {
		t.Errorf("State() = %+v, want served at %s", st, addr)
	}
	if stored, _ := svc.db.Settings(context.Background()); !stored.API.On || stored.API.Addr != addr {
		t.Errorf("saved %+v", stored.API)
	}
	keys, err := win.Keys(context.Background())
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID || !keys[0].ReadOnly {
		t.Errorf("Keys() = %+v, %v", keys, err)
	}

	// A port in use is refused; the API stays where it was.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	moved := u
	moved.API.Addr = busy.Addr().String()
	if err := prefs.Save(moved); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Save with a busy port = %v, want it refused", err)
	}
	if code, _ := getAccounts(t, addr, token); code != http.StatusOK {
		t.Errorf("after a refused move, the API answers %d", code)
	}
	if stored, _ := svc.db.Settings(context.Background()); stored.API.Addr != addr {
		t.Errorf("a refused address was saved: %q", stored.API.Addr)
	}

	// Remote without TLS is refused before anything starts.
	remote := u
	remote.API = ui.APISettings{On: true, Addr: "0.0.0.0:0", AllowRemote: true}
	if err := prefs.Save(remote); err == nil {
		t.Error("a remote API without TLS or insecure was saved")
	}

	// A revoked key is refused at once.
	if err := win.RevokeKey(context.Background(), key.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := getAccounts(t, addr, token); code != http.StatusUnauthorized {
		t.Errorf("a revoked key gets %d, want 401", code)
	}

	u.API.On = false
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	if code, _ := getAccounts(t, addr, token); code != 0 {
		t.Errorf("after turning the API off, %s answers %d", addr, code)
	}
	if st := win.State(); st.Addr != "" {
		t.Errorf("State() after turning it off = %+v", st)
	}
}

// A saved API that cannot be served is logged and shown; Warden starts
// anyway, and a save that fixes it serves it.
func TestAPISavedButUnservable(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	s := store.DefaultSettings()
	s.API = store.API{On: true, Addr: busy.Addr().String()}
	if err := db.SaveSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	db.Close()

	svc := startedServices(t, dir, flags{})
	st := svc.api.state()
	if st.Addr != "" || !strings.Contains(st.Problem, "in use") {
		t.Fatalf("State() = %+v, want the busy port as the problem", st)
	}
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: new(slog.LevelVar)}
	u, _ := prefs.Load()
	u.Theme = "dark" // an unrelated save is not refused for the API
	if err := prefs.Save(u); err != nil {
		t.Fatalf("an unrelated save: %v", err)
	}
	if st := svc.api.state(); st.Problem == "" {
		t.Error("the problem is forgotten while the API is still not served")
	}
	_, token, err := windowAPI{svc}.CreateKey(context.Background(), "ops", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.API.Addr = freeAddr(t)
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	if code, _ := getAccounts(t, u.API.Addr, token); code != http.StatusOK || svc.api.state().Problem != "" {
		t.Errorf("after fixing the address: %d, state %+v", code, svc.api.state())
	}
}

// --api wins over the settings for its run.
func TestAPIFlagWinsOverSettings(t *testing.T) {
	addr := freeAddr(t)
	svc := startedServices(t, "", flags{api: addr})
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: new(slog.LevelVar)}
	u, _ := prefs.Load()
	other := freeAddr(t)
	u.API = ui.APISettings{On: true, Addr: other}
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	_, token, err := windowAPI{svc}.CreateKey(context.Background(), "ops", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := getAccounts(t, addr, token); code != http.StatusOK {
		t.Errorf("the flag's API answers %d after a save", code)
	}
	if code, _ := getAccounts(t, other, token); code != 0 {
		t.Errorf("the saved address is served (%d) while --api chose another", code)
	}
	if st := svc.api.state(); !st.FromFlag || st.Addr != addr {
		t.Errorf("State() = %+v, want the flag's address", st)
	}
	if stored, _ := svc.db.Settings(context.Background()); stored.API.Addr != other {
		t.Errorf("the setting was not saved for the next run: %+v", stored.API)
	}
}

// The window's webhooks are the outbox's: added with a secret shown once,
// tested against a real receiver, listed and deleted.
func TestWindowWebhooks(t *testing.T) {
	var got atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Store(string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	svc := startedServices(t, "", flags{})
	hooks := svc.windowHooks()
	if hooks == nil {
		t.Fatal("a desktop alone has no webhooks in the window")
	}
	ctx := context.Background()
	h, secret, err := hooks.Create(ctx, recv.URL+"/hook", nil, []string{outbox.TypeMessageReceived})
	if err != nil || !strings.HasPrefix(secret, "whsec_") || h.ID == "" {
		t.Fatalf("Create = %+v, %q, %v", h, secret, err)
	}
	if _, _, err := hooks.Create(ctx, "ftp://example/x", nil, nil); err == nil {
		t.Error("an ftp:// webhook was added")
	}
	res, err := hooks.Test(ctx, h.ID)
	if err != nil || !res.OK() || res.Status != http.StatusNoContent {
		t.Fatalf("Test = %+v, %v", res, err)
	}
	var ev struct{ ID, Type string }
	if s, _ := got.Load().(string); json.Unmarshal([]byte(s), &ev) != nil || ev.Type != outbox.TypeTest {
		t.Errorf("the receiver got %q, want a %s event", s, outbox.TypeTest)
	}
	list, err := hooks.List(ctx)
	if err != nil || len(list) != 1 || list[0].URL != recv.URL+"/hook" || len(list[0].Types) != 1 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if fails, err := hooks.Failures(ctx, h.ID); err != nil || len(fails) != 0 {
		t.Errorf("Failures = %+v, %v", fails, err)
	}
	if err := hooks.Delete(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := hooks.List(ctx); len(list) != 0 {
		t.Errorf("after Delete: %+v", list)
	}
}
