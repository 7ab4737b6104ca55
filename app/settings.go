package app

import (
	"context"
	"fmt"
	"image/color"
	"log/slog"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"warden/core"
	"warden/core/store"
	"warden/ui"
)

// settingsStore is the Settings dialog's store: it maps ui.Settings to the
// store's settings, saves them, and applies a save to the running Warden at
// once: the Manager's policy, the log level, the theme. The store applies
// the retention to its pruner itself. Its methods run on Fyne's thread, like
// the window's OnResize, which also writes svc.settings.
type settingsStore struct {
	svc   *services
	app   fyne.App
	level *slog.LevelVar
	// policy adjusts a saved policy before the Manager gets it (the demo's
	// short zombie threshold); nil: as saved.
	policy func(core.Policy) core.Policy
}

func (s *settingsStore) Load() (ui.Settings, error) {
	return uiSettings(s.svc.settings), nil
}

func (s *settingsStore) Save(u ui.Settings) error {
	next := storeSettings(s.svc.settings, u)
	if err := next.Validate(); err != nil {
		return err
	}
	// The endpoints first: a port in use is refused before anything is
	// saved, and leaves the endpoints as they were.
	prev := s.svc.settings
	if api := s.svc.api; api != nil {
		if err := api.apply(next.API); err != nil {
			if next.API != prev.API {
				return fmt.Errorf("API: %w", err)
			}
			api.setProblem(err) // unchanged, and still not served: shown, not refused
		}
	}
	undoAPI := func() {
		if api := s.svc.api; api != nil && next.API != prev.API {
			_ = api.apply(prev.API)
		}
	}
	if s.svc.metrics != nil && !s.svc.metrics.fromFlag {
		if err := s.svc.metrics.start(next.MetricsAddr, next.MetricsAllowRemote); err != nil {
			undoAPI()
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if err := s.svc.db.SaveSettings(context.Background(), next); err != nil {
		undoAPI()
		return err
	}
	s.svc.settings = next
	p := next.Policy
	if s.policy != nil {
		p = s.policy(p)
	}
	if err := s.svc.manager.SetPolicy(p); err != nil {
		// Saved, since the store checked the same policy: this cannot
		// happen unless the two checks part ways.
		s.svc.log.Error("the saved policy was refused by the engine", "err", err)
		return err
	}
	if err := s.svc.dialer.SetDefaultProxy(next.DefaultProxy); err != nil {
		s.svc.log.Error("the saved default proxy was refused by the dialer", "err", err)
		return err
	}
	s.level.Set(next.SlogLevel())
	applyTheme(s.app, next.Theme)
	s.svc.log.Info("settings saved and applied")
	return nil
}

// uiSettings is what the Settings dialog shows of s.
func uiSettings(s store.Settings) ui.Settings {
	return ui.Settings{
		Policy:             s.Policy,
		Notifications:      s.Notifications,
		LogLevel:           s.LogLevel,
		Theme:              s.Theme,
		MaxEvents:          s.EventRetention.MaxEvents,
		MaxAge:             s.EventRetention.MaxAge,
		DefaultProxy:       s.DefaultProxy,
		MetricsAddr:        s.MetricsAddr,
		MetricsAllowRemote: s.MetricsAllowRemote,
		Fleet:              ui.FleetSettings(s.Fleet),
		API:                ui.APISettings(s.API),
	}
}

// storeSettings is base with what the Settings dialog edits taken from u;
// the rest (the window's size) stays.
func storeSettings(base store.Settings, u ui.Settings) store.Settings {
	s := base
	s.Policy = u.Policy
	s.Notifications = u.Notifications
	s.LogLevel = u.LogLevel
	s.Theme = u.Theme
	s.EventRetention = store.Retention{MaxEvents: u.MaxEvents, MaxAge: u.MaxAge}
	s.DefaultProxy = u.DefaultProxy
	s.MetricsAddr, s.MetricsAllowRemote = u.MetricsAddr, u.MetricsAllowRemote
	s.Fleet = store.Fleet(u.Fleet)
	s.API = store.API(u.API)
	return s
}

// applyTheme sets the app's theme: "light" or "dark" whatever the desktop
// says, or "system" (anything else) to follow it.
func applyTheme(a fyne.App, name string) {
	switch name {
	case "light":
		a.Settings().SetTheme(variantTheme{Theme: theme.DefaultTheme(), variant: theme.VariantLight})
	case "dark":
		a.Settings().SetTheme(variantTheme{Theme: theme.DefaultTheme(), variant: theme.VariantDark})
	default:
		a.Settings().SetTheme(theme.DefaultTheme())
	}
}

// variantTheme is a theme held to one variant, light or dark.
type variantTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.variant)
}
