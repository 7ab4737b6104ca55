package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/pgserver"
	"warden/core/store"
	"warden/core/store/postgres"
)

func runKeys(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"api-key"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestAPIKeyCommand(t *testing.T) {
	dir := t.TempDir()
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutAccount(context.Background(), core.Account{ID: "a1", Name: "Shop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if code, _, stderr := runKeys(t, "create", "--name", "crm", "--accounts", "nope", "--data-dir", dir); code == 0 || !strings.Contains(stderr, "no account nope") {
		t.Errorf("create for an unknown account = %d, %q; want a refusal naming it", code, stderr)
	}
	code, stdout, stderr := runKeys(t, "create", "--name", "crm", "--read-only", "--accounts", "a1", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	token := lines[len(lines)-1]
	id, _, perr := api.ParseToken(token)
	if code != 0 || perr != nil || !strings.Contains(stdout, "read-only, accounts a1") {
		t.Fatalf("create = %d, %q, %q; want the token on the last line (%v)", code, stdout, stderr, perr)
	}
	code, stdout, _ = runKeys(t, "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, "crm") || strings.Contains(stdout, token) {
		t.Errorf("list = %d, %q; want the key's id and name, never the token", code, stdout)
	}
	if code, stdout, _ := runKeys(t, "revoke", id, "--data-dir", dir); code != 0 || !strings.Contains(stdout, "revoked") {
		t.Errorf("revoke = %d, %q", code, stdout)
	}
	if code, _, stderr := runKeys(t, "revoke", "000000000000", "--data-dir", dir); code == 0 || !strings.Contains(stderr, "no API key") {
		t.Errorf("revoke an unknown key = %d, %q; want a refusal", code, stderr)
	}

	db, err = store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, err := db.APIKey(context.Background(), id)
	if err != nil || k.Revoked.IsZero() || !k.ReadOnly {
		t.Errorf("the stored key = %+v, %v; want read-only and revoked", k, err)
	}
	// Warden holds the data directory: the command refuses and says why.
	if code, _, stderr := runKeys(t, "list", "--data-dir", dir); code == 0 || !strings.Contains(stderr, "Warden is running") {
		t.Errorf("list while Warden runs = %d, %q; want a refusal", code, stderr)
	}
	if code, _, stderr := runKeys(t); code == 0 || !strings.Contains(stderr, "create, list or revoke") {
		t.Errorf("api-key alone = %d, %q; want the usage", code, stderr)
	}
}

func TestAPIFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		bad  string // "" when accepted
	}{
		{[]string{"--api", "127.0.0.1:9470"}, ""},
		{[]string{"--api", "0.0.0.0:9470", "--api-allow-remote", "--api-tls-cert", "c.pem", "--api-tls-key", "k.pem"}, ""},
		{[]string{"--api-allow-remote"}, "need --api"},
		{[]string{"--api", "127.0.0.1:9470", "--api-tls-cert", "c.pem"}, "go together"},
		{[]string{"--api", "127.0.0.1:9470", "--api-insecure", "--api-tls-cert", "c.pem", "--api-tls-key", "k.pem"}, "contradict"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != (tc.bad == "") || err != nil && !strings.Contains(err.Error(), tc.bad) {
			t.Errorf("parseFlags(%q) = %v, want an error saying %q (none if empty)", tc.args, err, tc.bad)
		}
	}
}

// A fleet's keys are managed in its PostgreSQL, while its nodes run.
func TestAPIKeyCommandFleet(t *testing.T) {
	dsn := pgserver.Start(t)
	code, stdout, stderr := runKeys(t, "create", "--name", "fleet crm", "--devices-db", dsn)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	id, _, err := api.ParseToken(lines[len(lines)-1])
	if code != 0 || err != nil {
		t.Fatalf("create --devices-db = %d, %q, %q (%v)", code, stdout, stderr, err)
	}
	db, err := postgres.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if k, err := db.APIKey(context.Background(), id); err != nil || k.Name != "fleet crm" {
		t.Errorf("the fleet's key = %+v, %v; want fleet crm", k, err)
	}
	if code, _, stderr := runKeys(t, "list", "--devices-db", dsn, "--data-dir", t.TempDir()); code == 0 || !strings.Contains(stderr, "contradict") {
		t.Errorf("list with both stores = %d, %q; want a refusal", code, stderr)
	}
}

// --api serves the API on the data directory's keys, and closing Warden
// closes it.
func TestAPIServedAndClosed(t *testing.T) {
	svc, err := start(flags{dataDir: t.TempDir()}, new(slog.LevelVar), slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	k, token, err := api.NewKey("ops", true, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.db.PutAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	if err := svc.begin(flags{api: addr}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"accounts":[]}` {
		t.Errorf("GET /v1/accounts = %d %s, want no accounts", resp.StatusCode, body)
	}
	if err := svc.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("after close the API still answers %d", resp.StatusCode)
	}
}
