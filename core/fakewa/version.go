package fakewa

import (
	"fmt"
	"net/http"
	"strings"

	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/store"
)

// WhatsApp Web's version. The real server refuses a client that announces a
// version it no longer supports with <failure reason="405"/>, and clients
// learn the current version from the "client_revision" in the page at
// web.whatsapp.com, which is what whatsmeow's GetLatestVersion reads. The
// fake server serves that page to any plain GET (its HTTPClient sends every
// host here), and can require a minimum version at login.

// builtInRevision is whatsmeow's own, read before anyone could change it.
var builtInRevision = store.GetWAVersion()[2]

// VersionPage is how the server answers a GET of WhatsApp Web's page.
type VersionPage int

// The ways of answering.
const (
	VersionPageServe VersionPage = iota // 200 with the current revision
	VersionPageDown                     // 503
	VersionPageStall                    // no answer until the client gives up or the server closes
)

// SetVersionPage sets how the server answers a GET of WhatsApp Web's page.
func (s *Server) SetVersionPage(p VersionPage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versionPage = p
}

// SetCurrentVersion sets the revision (the third number of 2.3000.N) the page
// announces. Zero means whatsmeow's built-in one.
func (s *Server) SetCurrentVersion(revision uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.currentRev = revision
}

// RequireVersion makes logins and registrations that announce a revision
// older than revision fail with 405 (client outdated). Zero accepts any.
func (s *Server) RequireVersion(revision uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minRev = revision
}

// VersionFetches returns how many times the page was asked for.
func (s *Server) VersionFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versionFetches
}

// LastVersion returns the version the device announced at its last login,
// "2.3000.N", or "" if it never logged in.
func (s *Server) LastVersion(jid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[normJID(jid)]; st != nil {
		return st.version
	}
	return ""
}

// isVersionRequest tells a GET of the page from a websocket upgrade.
func isVersionRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.versionFetches++
	page, rev := s.versionPage, s.currentRev
	s.mu.Unlock()
	if rev == 0 {
		rev = builtInRevision
	}
	switch page {
	case VersionPageDown:
		http.Error(w, "fakewa: the version page is down (on command)", http.StatusServiceUnavailable)
	case VersionPageStall:
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>fakewa</title><script>window.__SERVER_DATA__={"client_revision":%d,"server_revision":%d};</script></head><body>fakewa</body></html>`, rev, rev)
	}
}

// outdated reports whether the payload announces a version older than the
// server requires, and the version it announces.
func (s *Server) outdated(p *waWa6.ClientPayload) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outdatedLocked(p)
}

func (s *Server) outdatedLocked(p *waWa6.ClientPayload) (bool, string) {
	v := p.GetUserAgent().GetAppVersion()
	announced := fmt.Sprintf("%d.%d.%d", v.GetPrimary(), v.GetSecondary(), v.GetTertiary())
	return s.minRev != 0 && v.GetTertiary() < s.minRev, announced
}
