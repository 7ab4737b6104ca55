package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Settings › Metrics starts, moves and stops the endpoint; a busy port is
// refused before anything is saved.
func TestMetricsFromSettings(t *testing.T) {
	level := new(slog.LevelVar)
	svc, err := start(flags{dataDir: t.TempDir()}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	if err := svc.startMetrics(flags{}); err != nil || svc.metrics.boundAddr() != "" {
		t.Fatalf("with nothing asked, metrics run on %q (%v)", svc.metrics.boundAddr(), err)
	}
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: level}
	u, _ := prefs.Load()

	u.MetricsAddr = freeAddr(t)
	if err := prefs.Save(u); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if code, body := get(t, "http://"+u.MetricsAddr+"/healthz"); code != http.StatusOK || !strings.HasPrefix(body, "ok") {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+u.MetricsAddr+"/metrics"); code != http.StatusOK || !strings.Contains(body, "warden_accounts{") {
		t.Errorf("metrics = %d, no warden_accounts", code)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	first := u.MetricsAddr
	u.MetricsAddr = busy.Addr().String()
	if err := prefs.Save(u); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Save with a busy port = %v, want it refused", err)
	}
	if stored, _ := svc.db.Settings(context.Background()); stored.MetricsAddr != first {
		t.Errorf("a refused address was saved: %q", stored.MetricsAddr)
	}

	u.MetricsAddr = "0.0.0.0:9464"
	if err := prefs.Save(u); err == nil {
		t.Error("a non-loopback address was saved without allowing remote access")
	}

	u.MetricsAddr = ""
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	if svc.metrics.boundAddr() != "" {
		t.Error("metrics still served after turning them off")
	}
}

// --metrics wins over the settings for its run.
func TestMetricsFlag(t *testing.T) {
	if _, err := parseFlags([]string{"--metrics", "0.0.0.0:9464"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--metrics") {
		t.Errorf("--metrics 0.0.0.0:9464 without --metrics-allow-remote: %v", err)
	}
	if _, err := parseFlags([]string{"--metrics", "0.0.0.0:9464", "--metrics-allow-remote"}, io.Discard); err != nil {
		t.Errorf("with --metrics-allow-remote: %v", err)
	}
	level := new(slog.LevelVar)
	svc, err := start(flags{dataDir: t.TempDir()}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	addr := freeAddr(t)
	if err := svc.startMetrics(flags{metrics: addr}); err != nil {
		t.Fatal(err)
	}
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: level}
	u, _ := prefs.Load()
	u.Theme = "dark" // an unrelated save keeps the flag's endpoint
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("after a save, the flag's endpoint answers %d", code)
	}
}
