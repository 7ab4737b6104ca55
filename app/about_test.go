package app

import (
	"runtime/debug"
	"testing"
	"time"

	"warden/core/whatsapp"
)

func TestWebSource(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.Local)
	cases := []struct {
		v    whatsapp.WebVersion
		want string
	}{
		{whatsapp.WebVersion{Source: whatsapp.VersionFetched, FetchedAt: now.Add(-time.Hour)}, "fetched from WhatsApp at 14:00 today"},
		{whatsapp.WebVersion{Source: whatsapp.VersionSaved, FetchedAt: now.AddDate(0, 0, -3), LastError: "unexpected response with status 503"},
			"saved from a fetch on 4 Dec 2026 at 15:00; fetching the current one failed: unexpected response with status 503"},
		{whatsapp.WebVersion{Source: whatsapp.VersionBuiltIn}, "built into whatsmeow"},
	}
	for _, c := range cases {
		if got := webSource(c.v, now); got != c.want {
			t.Errorf("webSource(%+v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestModuleVersionIn(t *testing.T) {
	info := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "go.mau.fi/whatsmeow", Version: "v0.0.0-20251217143725-11cf47c62d32"},
		{Path: "fyne.io/fyne/v2", Version: "v2.8.1", Replace: &debug.Module{Path: "../fyne", Version: "v2.8.2-dev"}},
	}}
	for path, want := range map[string]string{
		"go.mau.fi/whatsmeow":          "v0.0.0-20251217143725-11cf47c62d32",
		"fyne.io/fyne/v2":              "v2.8.2-dev (replaced)",
		"example.com/not/a/dependency": "unknown",
	} {
		if got := moduleVersionIn(info, path); got != want {
			t.Errorf("moduleVersionIn(%s) = %q, want %q", path, got, want)
		}
	}
	if got := moduleVersionIn(nil, "go.mau.fi/whatsmeow"); got != "unknown" {
		t.Errorf("without build info: %q", got)
	}
}
