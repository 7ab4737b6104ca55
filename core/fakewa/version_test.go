package fakewa_test

import (
	"context"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"

	"warden/core/fakewa"
)

func TestVersionPage(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 50})
	ctx := context.Background()
	v, err := whatsmeow.GetLatestVersion(ctx, s.HTTPClient())
	if err != nil || *v != store.GetWAVersion() {
		t.Fatalf("GetLatestVersion = %v, %v; want the built-in %v", v, err, store.GetWAVersion())
	}
	s.SetCurrentVersion(1031999999)
	if v, err := whatsmeow.GetLatestVersion(ctx, s.HTTPClient()); err != nil || v.String() != "2.3000.1031999999" {
		t.Fatalf("GetLatestVersion = %v, %v; want 2.3000.1031999999", v, err)
	}
	s.SetVersionPage(fakewa.VersionPageDown)
	if _, err := whatsmeow.GetLatestVersion(ctx, s.HTTPClient()); err == nil {
		t.Error("GetLatestVersion succeeded on a page that is down")
	}
	s.SetVersionPage(fakewa.VersionPageStall)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := whatsmeow.GetLatestVersion(short, s.HTTPClient()); err == nil {
		t.Error("GetLatestVersion succeeded on a stalled page")
	}
	if n := s.VersionFetches(); n != 4 {
		t.Errorf("VersionFetches = %d, want 4", n)
	}
}

// An old version is refused with 405 at login; the current one logs in.
// (whatsmeow's version is process-wide: this test sets it back.)
func TestRequiredVersionRefusesOldClients(t *testing.T) {
	builtIn := store.GetWAVersion()
	t.Cleanup(func() { setVersion(builtIn) })
	s := newServer(t, fakewa.Config{Seed: 51})
	c, container, jid := pairByQR(t, s, 1)
	if got := s.LastVersion(jid); got != builtIn.String() {
		t.Errorf("LastVersion = %q, want %q", got, builtIn)
	}
	c.Disconnect()

	s.RequireVersion(builtIn[2] + 1)
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	old := newClient(t, s, dev)
	if err := old.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.ClientOutdated](t, old)
	old.Disconnect()

	setVersion(store.WAVersionContainer{2, 3000, builtIn[2] + 1})
	current := newClient(t, s, dev)
	if err := current.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](t, current)
	if got := s.LastVersion(jid); got != store.GetWAVersion().String() {
		t.Errorf("LastVersion = %q, want %q", got, store.GetWAVersion())
	}
}

// setVersion sets the version whatsmeow announces. store.SetWAVersion alone
// changes the build hash but not the AppVersion of the login payload, which
// whatsmeow copies once at start-up.
func setVersion(v store.WAVersionContainer) {
	store.SetWAVersion(v)
	store.BaseClientPayload.UserAgent.AppVersion = v.ProtoAppVersion()
}
