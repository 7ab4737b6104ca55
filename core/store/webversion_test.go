package store

import (
	"context"
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
