package app

import (
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"warden/core/whatsapp"
	"warden/ui"
)

// about fills in Help › About Warden.
func (s *services) about() ui.About {
	v := s.dialer.WebVersion()
	return ui.About{
		Warden:     Version,
		Whatsmeow:  moduleVersion("go.mau.fi/whatsmeow"),
		Fyne:       moduleVersion("fyne.io/fyne/v2"),
		WebVersion: v.Version,
		WebSource:  s.webSource(v),
		DataDir:    s.dataDir,
	}
}

// webSource is webSource, naming the demo's server for what it is.
func (s *services) webSource(v whatsapp.WebVersion) string {
	src := webSource(v, time.Now())
	if s.demo != nil {
		src = strings.Replace(src, "from WhatsApp", "from the demo server", 1)
	}
	return src
}

// webSource says where the announced WhatsApp Web version came from.
func webSource(v whatsapp.WebVersion, now time.Time) string {
	var s string
	switch v.Source {
	case whatsapp.VersionFetched:
		s = "fetched from WhatsApp " + when(v.FetchedAt, now)
	case whatsapp.VersionSaved:
		s = "saved from a fetch " + when(v.FetchedAt, now)
	default:
		s = "built into whatsmeow"
	}
	if v.LastError != "" {
		s += "; fetching the current one failed: " + v.LastError
	}
	return s
}

// when is "at 15:04 today" or "on 2 Jan 2006 at 15:04", in local time.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return "at " + t.Format("15:04") + " today"
	}
	return fmt.Sprintf("on %s at %s", t.Format("2 Jan 2006"), t.Format("15:04"))
}

// moduleVersion is the version of a module built into this binary. (A test
// binary knows none: `go test` records no dependencies.)
func moduleVersion(path string) string {
	info, _ := debug.ReadBuildInfo()
	return moduleVersionIn(info, path)
}

func moduleVersionIn(info *debug.BuildInfo, path string) string {
	if info == nil {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == path {
			if dep.Replace != nil {
				return dep.Replace.Version + " (replaced)"
			}
			return dep.Version
		}
	}
	return "unknown"
}
