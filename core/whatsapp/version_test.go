package whatsapp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/store"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/whatsapp"
)

// memVersions is a VersionStore in memory.
type memVersions struct {
	mu      sync.Mutex
	version string
	at      time.Time
	saves   int
}

func (m *memVersions) WebVersion(context.Context) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, m.at, nil
}

func (m *memVersions) SaveWebVersion(_ context.Context, v string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version, m.at = v, at
	m.saves++
	return nil
}

func (m *memVersions) saved() (string, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, m.saves
}

// builtIn is whatsmeow's own version; each test that changes the announced
// version puts it back.
var builtIn = store.GetWAVersion()

func restoreVersion(t testing.TB) {
	t.Cleanup(func() { whatsapp.ApplyVersion(builtIn) })
}

func version(rev uint32) string { return fmt.Sprintf("2.3000.%d", rev) }

func newVersionDialer(t testing.TB, srv *fakewa.Server, vs whatsapp.VersionStore) *whatsapp.Dialer {
	t.Helper()
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesPath: t.TempDir() + "/devices.db", Logger: testLogger(t),
		HTTPClient: srv.HTTPClient(), Versions: vs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// With WhatsApp's page unreachable (it stalls), the Dialer starts at once,
// announces the saved version, and an account pairs and logs in with it
// while the fetch still hangs.
func TestSavedVersionIsUsedWhileThePageStalls(t *testing.T) {
	restoreVersion(t)
	srv := newServer(t, 320)
	srv.SetVersionPage(fakewa.VersionPageStall)
	saved := version(builtIn[2] + 3)
	vs := &memVersions{version: saved, at: time.Now().Add(-time.Hour)}
	d := newVersionDialer(t, srv, vs)
	if v := d.WebVersion(); v.Version != saved || v.Source != whatsapp.VersionSaved {
		t.Fatalf("WebVersion = %+v, want %s %s", v, saved, whatsapp.VersionSaved)
	}
	_, _, acct := pair(t, srv, d, "a1")
	if got := srv.LastVersion(acct.JID); got != saved {
		t.Errorf("the account logged in announcing %q, want the saved %q", got, saved)
	}
	if srv.VersionFetches() != 1 {
		t.Errorf("VersionFetches = %d, want the one that hangs", srv.VersionFetches())
	}
	if v := d.WebVersion(); v.Source != whatsapp.VersionSaved || v.LastError != "" {
		t.Errorf("while the fetch hangs, WebVersion = %+v; want the saved one and no error yet", v)
	}
}

// A saved version older than whatsmeow's own is not used; a page that is
// down leaves the built-in version and says why.
func TestOlderSavedVersionAndAPageThatIsDown(t *testing.T) {
	restoreVersion(t)
	srv := newServer(t, 321)
	srv.SetVersionPage(fakewa.VersionPageDown)
	vs := &memVersions{version: version(builtIn[2] - 1)}
	d := newVersionDialer(t, srv, vs)
	waitUntil(t, "the fetch failed", func() bool { return d.WebVersion().LastError != "" })
	if v := d.WebVersion(); v.Version != builtIn.String() || v.Source != whatsapp.VersionBuiltIn || !strings.Contains(v.LastError, "503") {
		t.Errorf("WebVersion = %+v, want the built-in one and the 503", v)
	}
	if _, saves := vs.saved(); saves != 0 {
		t.Errorf("a failed fetch saved something")
	}
}

// The fetched version is announced and saved for the next start.
func TestFetchedVersionIsAnnouncedAndSaved(t *testing.T) {
	restoreVersion(t)
	srv := newServer(t, 322)
	current := builtIn[2] + 5
	srv.SetCurrentVersion(current)
	vs := &memVersions{}
	d := newVersionDialer(t, srv, vs)
	waitUntil(t, "the version is fetched", func() bool { return d.WebVersion().Source == whatsapp.VersionFetched })
	if v := d.WebVersion(); v.Version != version(current) || v.FetchedAt.IsZero() {
		t.Errorf("WebVersion = %+v, want %s with a time", v, version(current))
	}
	if saved, _ := vs.saved(); saved != version(current) {
		t.Errorf("saved %q, want %q", saved, version(current))
	}
	_, _, acct := pair(t, srv, d, "a1")
	if got := srv.LastVersion(acct.JID); got != version(current) {
		t.Errorf("the account announced %q, want %q", got, version(current))
	}
}

// Refused as outdated, the account fetches the current version and logs in
// with it; refused again with that version, it is parked as Outdated.
func TestManagerOutdatedRefetchesThenRetriesOnce(t *testing.T) {
	restoreVersion(t)
	r := newRig(t, 323, testPolicy())
	acct := r.add("Alice")
	fetches := r.srv.VersionFetches()

	// WhatsApp moves on: the old version is refused, the page names the new.
	next := builtIn[2] + 7
	r.srv.SetCurrentVersion(next)
	r.srv.RequireVersion(next)
	epoch := r.status(acct.ID).Epoch
	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	r.waitState(acct.ID, core.Connected, func(st core.Status) bool { return st.Epoch > epoch+1 })
	if got := r.srv.LastVersion(acct.JID); got != version(next) {
		t.Errorf("the account logged in with %q, want %q", got, version(next))
	}
	if r.srv.VersionFetches() != fetches+1 {
		t.Errorf("VersionFetches = %d, want one more than %d", r.srv.VersionFetches(), fetches)
	}
	if tl := r.timeline(acct.ID); !strings.Contains(tl, "out of date; Warden fetched "+version(next)) {
		t.Errorf("the timeline does not say why it reconnected:\n%s", tl)
	}
	if r.status(acct.ID).State != core.Connected {
		t.Fatal("not Connected")
	}

	// Now the page lags behind what the server requires: one retry with the
	// page's version, then the account is parked.
	r.srv.SetCurrentVersion(next + 1)
	r.srv.RequireVersion(next + 100)
	logins := r.srv.Logins(acct.JID)
	r.inject(acct.JID, fakewa.Fault{Kind: fakewa.FaultDrop})
	st := r.waitState(acct.ID, core.Outdated)
	if !strings.Contains(st.Reason, "out of date") || !strings.Contains(st.Reason, version(next+1)) {
		t.Errorf("Outdated reason = %q, want it to name the refused version", st.Reason)
	}
	r.stays(acct.ID, core.Outdated, 300*time.Millisecond)
	if r.srv.Logins(acct.JID) != logins {
		t.Errorf("a refused login counted as a login")
	}
	if r.srv.LastVersion(acct.JID) != version(next) {
		t.Errorf("LastVersion = %q: no login should have succeeded since", r.srv.LastVersion(acct.JID))
	}
	r.oneClient(acct.JID)
}
