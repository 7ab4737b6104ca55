package whatsapp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
)

// WhatsApp refuses clients that announce a version it no longer supports
// (<failure reason="405"/>: core's Outdated). whatsmeow ships with the version
// of its release day; the current one is in the page at web.whatsapp.com. So
// the Dialer announces the newest version it knows: whatsmeow's, or the one
// saved from an earlier fetch if that is newer, and, in the background from
// NewDialer on, the one it fetches. When an account is refused as outdated,
// the session fetches once more and, if WhatsApp's page names a version other
// than the one refused, reports a refused login, which core retries with it; a second refusal in a row parks the account as Outdated.
//
// whatsmeow keeps the version in package variables, read while a client logs
// in. The Dialer changes them only while no session of its own is dialling
// (versionMu), and sets the login payload's AppVersion itself:
// store.SetWAVersion changes the build hash but not that field, which
// whatsmeow copies once at start-up.

// VersionStore keeps the last version fetched (core/store.DB implements it).
type VersionStore interface {
	WebVersion(ctx context.Context) (version string, fetchedAt time.Time, err error)
	SaveWebVersion(ctx context.Context, version string, fetchedAt time.Time) error
}

// Where the announced version came from.
const (
	VersionBuiltIn = "built into whatsmeow"
	VersionSaved   = "saved from an earlier fetch"
	VersionFetched = "fetched from WhatsApp"
)

// VersionFetchTimeout bounds one fetch of the current version.
var VersionFetchTimeout = 10 * time.Second

// WebVersion is the WhatsApp Web version the Dialer announces.
type WebVersion struct {
	Version   string    // "2.3000.1031080782"
	Source    string    // VersionBuiltIn, VersionSaved or VersionFetched
	FetchedAt time.Time // when it was fetched from WhatsApp; zero for the built-in one
	// LastError is why the last fetch failed, "" if it did not.
	LastError string
}

// fetchCall is one fetch in flight, shared by everyone who asks meanwhile.
type fetchCall struct {
	done chan struct{}
	err  error
}

// WebVersion returns the version sessions announce now.
func (d *Dialer) WebVersion() WebVersion {
	d.vmu.Lock()
	defer d.vmu.Unlock()
	return d.ver
}

// loadVersion applies the saved version when it is newer than whatsmeow's.
// It runs in NewDialer, before any session exists.
func (d *Dialer) loadVersion(ctx context.Context) {
	builtIn := store.GetWAVersion()
	d.ver = WebVersion{Version: builtIn.String(), Source: VersionBuiltIn}
	if d.versions == nil {
		return
	}
	saved, at, err := d.versions.WebVersion(ctx)
	if err != nil {
		d.log.Warn("reading the saved WhatsApp Web version failed; using whatsmeow's", "err", err)
		return
	}
	if saved == "" {
		return
	}
	v, err := parseVersion(saved)
	if err != nil {
		d.log.Warn("the saved WhatsApp Web version is unreadable; using whatsmeow's", "saved", saved, "err", err)
		return
	}
	if !newer(v, builtIn) {
		return
	}
	applyVersion(v)
	d.ver = WebVersion{Version: v.String(), Source: VersionSaved, FetchedAt: at}
	d.log.Info("announcing the saved WhatsApp Web version", "version", v.String(), "fetched_at", at)
}

// refreshVersion fetches the current version and announces it. Callers that
// ask while a fetch runs share its result.
func (d *Dialer) refreshVersion(ctx context.Context) error {
	d.vmu.Lock()
	if d.bgCtx.Err() != nil { // the Dialer is closing
		d.vmu.Unlock()
		return fmt.Errorf("fetch the WhatsApp Web version: %w", errSessionClosed)
	}
	call := d.fetching
	if call == nil {
		call = &fetchCall{done: make(chan struct{})}
		d.fetching = call
		d.bg.Go(func() { d.fetch(call) })
	}
	d.vmu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dialer) fetch(call *fetchCall) {
	ctx, cancel := context.WithTimeout(d.bgCtx, VersionFetchTimeout)
	defer cancel()
	v, err := whatsmeow.GetLatestVersion(ctx, d.http)
	now := time.Now()
	d.vmu.Lock()
	d.fetching = nil
	if err != nil {
		d.ver.LastError = err.Error()
		cur := d.ver
		d.vmu.Unlock()
		call.err = fmt.Errorf("fetch the WhatsApp Web version: %w", err)
		d.log.Warn("fetching the current WhatsApp Web version failed; announcing the one Warden has",
			"version", cur.Version, "source", cur.Source, "err", err)
		close(call.done)
		return
	}
	old := d.ver.Version
	d.vmu.Unlock()
	if v.String() != old {
		d.versionMu.Lock() // no session of ours is logging in
		applyVersion(*v)
		d.versionMu.Unlock()
		d.log.Info("announcing the current WhatsApp Web version", "version", v.String(), "was", old)
	}
	d.vmu.Lock()
	d.ver = WebVersion{Version: v.String(), Source: VersionFetched, FetchedAt: now}
	d.vmu.Unlock()
	if d.versions != nil {
		sctx, scancel := context.WithTimeout(context.Background(), storeTimeout)
		if err := d.versions.SaveWebVersion(sctx, v.String(), now); err != nil {
			d.log.Warn("saving the WhatsApp Web version failed", "err", err)
		}
		scancel()
	}
	close(call.done)
}

// applyVersion makes whatsmeow announce v.
func applyVersion(v store.WAVersionContainer) {
	store.SetWAVersion(v)
	store.BaseClientPayload.UserAgent.AppVersion = v.ProtoAppVersion()
}

// parseVersion reads "2.3000.1031080782".
func parseVersion(s string) (store.WAVersionContainer, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return store.WAVersionContainer{}, fmt.Errorf("version %q: want three numbers", s)
	}
	var v store.WAVersionContainer
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return store.WAVersionContainer{}, fmt.Errorf("version %q: %w", s, err)
		}
		v[i] = uint32(n)
	}
	if v.IsZero() {
		return store.WAVersionContainer{}, fmt.Errorf("version %q is zero", s)
	}
	return v, nil
}

func newer(a, b store.WAVersionContainer) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}
