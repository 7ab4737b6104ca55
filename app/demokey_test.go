package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	"warden/core"
	"warden/core/api"
	"warden/core/coretest"
	"warden/core/store"
)

// The demo's key is printed on one line and opens the API.
func TestDemoKeyOpensTheAPI(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	srv, err := api.Serve(api.Config{Addr: "127.0.0.1:0", Controller: m, Keys: db, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())

	var out bytes.Buffer
	if err := demoKey(db, srv.Addr(), &out); err != nil {
		t.Fatal(err)
	}
	got := regexp.MustCompile(`(?m)^API key: (wdn_\S+)$`).FindStringSubmatch(out.String())
	if got == nil {
		t.Fatalf("printed %q, want a line API key: KEY", out.String())
	}
	req, _ := http.NewRequest("GET", "http://"+srv.Addr()+"/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+got[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/accounts with the demo's key: %s", resp.Status)
	}
}
