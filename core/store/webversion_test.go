package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestWebVersionSurvivesReopenAndSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	ctx := context.Background()
	if v, at, err := db.WebVersion(ctx); v != "" || !at.IsZero() || err != nil {
		t.Fatalf("fresh store: WebVersion = %q, %v, %v; want none", v, at, err)
	}
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	if err := db.SaveWebVersion(ctx, "2.3000.1031999999", at); err != nil {
		t.Fatal(err)
	}
	// Saving the settings leaves it alone.
	s, _ := db.Settings(ctx)
	s.Theme = "dark"
	if err := db.SaveSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openAt(t, path)
	v, got, err := db.WebVersion(ctx)
	if v != "2.3000.1031999999" || !got.Equal(at) || err != nil {
		t.Errorf("after reopening: WebVersion = %q, %v, %v; want 2.3000.1031999999 fetched at %v", v, got, err, at)
	}
}

func TestSettingsProxyAndMetricsAreChecked(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	s := DefaultSettings()
	s.DefaultProxy, s.MetricsAddr = "socks5://u:p@127.0.0.1:1080", "127.0.0.1:9464"
	if err := db.SaveSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, _ := db.Settings(ctx)
	if got.DefaultProxy != s.DefaultProxy || got.MetricsAddr != s.MetricsAddr || got.MetricsAllowRemote {
		t.Errorf("read back %q %q %v", got.DefaultProxy, got.MetricsAddr, got.MetricsAllowRemote)
	}
	for _, bad := range []Settings{
		func() Settings { b := s; b.DefaultProxy = "127.0.0.1:1080"; return b }(),
		func() Settings { b := s; b.DefaultProxy = "direct"; return b }(),
		func() Settings { b := s; b.MetricsAddr = "0.0.0.0:9464"; return b }(),
		func() Settings { b := s; b.MetricsAddr = "127.0.0.1:0"; return b }(),
	} {
		if err := db.SaveSettings(ctx, bad); !errors.Is(err, ErrInvalidSettings) {
			t.Errorf("SaveSettings(proxy %q, metrics %q) = %v, want ErrInvalidSettings", bad.DefaultProxy, bad.MetricsAddr, err)
		}
	}
	remote := s
	remote.MetricsAddr, remote.MetricsAllowRemote = "0.0.0.0:9464", true
	if err := db.SaveSettings(ctx, remote); err != nil {
		t.Errorf("a remote address with remote access allowed: %v", err)
	}
}
