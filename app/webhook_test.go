package app

import (
	"bytes"
	"context"
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
	"warden/core/store"
)

func runHooks(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"webhook"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// warden webhook add, list, test and remove work on a stopped Warden's data
// directory; add prints the secret once, and test's delivery is signed
// with it.
func TestWebhookCommand(t *testing.T) {
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

	var mu sync.Mutex
	var secret string
	var verdicts []error
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		verdicts = append(verdicts, outbox.Verify(secret, r.Header, body, time.Minute))
		mu.Unlock()
	}))
	defer rc.Close()

	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"add", "ftp://example.com"}, "http:// or https://"},
		{[]string{"add", "https://u:p@example.com/x"}, "user or password"},
		{[]string{"add", rc.URL, "--accounts", "nope"}, "no account nope"},
		{[]string{"add", rc.URL, "--events", "message.eaten"}, "unknown event type"},
		{[]string{"add"}, "usage"},
		{[]string{"remove", "wh_nope"}, "no webhook wh_nope"},
		{[]string{"frobnicate"}, "usage"},
	} {
		if code, _, stderr := runHooks(t, append(tc.args, "--data-dir", dir)...); code != 2 || !strings.Contains(stderr, tc.says) {
			t.Errorf("webhook %v = %d, %q; want a refusal saying %q", tc.args, code, stderr, tc.says)
		}
	}

	code, stdout, stderr := runHooks(t, "add", rc.URL+"/hook", "--accounts", "a1", "--events", "message.received", "--data-dir", dir)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	mu.Lock()
	secret = lines[len(lines)-1]
	mu.Unlock()
	if code != 0 || !strings.HasPrefix(secret, "whsec_") || !strings.Contains(stdout, "accounts a1, message.received") {
		t.Fatalf("add = %d, %q, %q; want the secret on the last line", code, stdout, stderr)
	}
	id := strings.Fields(lines[0])[1]

	code, stdout, _ = runHooks(t, "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, id) || !strings.Contains(stdout, rc.URL+"/hook") || strings.Contains(stdout, secret) {
		t.Errorf("list = %d, %q; want the webhook, never its secret", code, stdout)
	}
	if code, stdout, stderr := runHooks(t, "test", id, "--data-dir", dir); code != 0 || !strings.Contains(stdout, "took the test event") {
		t.Errorf("test = %d, %q, %q; want taken", code, stdout, stderr)
	}
	mu.Lock()
	if len(verdicts) != 1 || verdicts[0] != nil {
		t.Errorf("the receiver got %d deliveries, signatures %v; want one, signed with the printed secret", len(verdicts), verdicts)
	}
	mu.Unlock()

	// A receiver that is down: test says so, and fails.
	code, stdout, _ = runHooks(t, "add", "http://127.0.0.1:1/down", "--data-dir", dir)
	down := strings.Fields(strings.Split(stdout, "\n")[0])[1]
	if code, _, stderr := runHooks(t, "test", down, "--data-dir", dir); code != 1 || !strings.Contains(stderr, "did not take the test event") {
		t.Errorf("test a receiver that is down = %d, %q; want 1 and why", code, stderr)
	}
	if code, _, _ := runHooks(t, "remove", down, "--data-dir", dir); code != 0 {
		t.Errorf("remove %s = %d", down, code)
	}

	// A Warden running on the directory holds it: the command says what to do.
	db, err = store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runHooks(t, "list", "--data-dir", dir); code != 2 || !strings.Contains(stderr, "Quit it") || !strings.Contains(stderr, "POST /v1/webhooks") {
		t.Errorf("list while Warden runs = %d, %q; want a refusal saying to quit it or use the API", code, stderr)
	}
	db.Close()

	if code, stdout, _ := runHooks(t, "remove", id, "--data-dir", dir); code != 0 || !strings.Contains(stdout, "removed") {
		t.Errorf("remove = %d, %q", code, stdout)
	}
	if code, stdout, _ := runHooks(t, "list", "--data-dir", dir); code != 0 || !strings.Contains(stdout, "No webhooks") {
		t.Errorf("list after remove = %d, %q", code, stdout)
	}
	rc.Close()
	if code, _, stderr := runHooks(t, "test", id, "--data-dir", dir); code != 2 || !strings.Contains(stderr, "no webhook") {
		t.Errorf("test a removed webhook = %d, %q", code, stderr)
	}
}
