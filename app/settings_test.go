package app

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"warden/core"
	"warden/core/store"
)

func TestSettingsSaveAppliesLive(t *testing.T) {
	level := new(slog.LevelVar)
	svc, err := start(flags{dataDir: t.TempDir()}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	a := test.NewTempApp(t)
	prefs := &settingsStore{svc: svc, app: a, level: level}
	svc.settings.WindowWidth = 900 // as the window saved it

	u, err := prefs.Load()
	if err != nil {
		t.Fatal(err)
	}
	u.Policy.Schedule = []core.Backoff{{UpTo: 3, Delay: 2 * time.Second}, {UpTo: 4, Delay: time.Minute}}
	u.Policy.TakeoverOff = true
	u.LogLevel, u.Theme, u.Notifications = "debug", "dark", false
	u.MaxEvents, u.MaxAge = 500, 7*24*time.Hour
	if err := prefs.Save(u); err != nil {
		t.Fatalf("Save: %v", err)
	}

	if p := svc.manager.Policy(); !p.TakeoverOff || p.Delay(4) != time.Minute {
		t.Errorf("the Manager's policy after Save: takeover off %v, delay of attempt 4 %s; want true, 1m", p.TakeoverOff, p.Delay(4))
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("log level after Save = %s, want DEBUG", level.Level())
	}
	th := a.Settings().Theme()
	if got, want := th.Color(theme.ColorNameBackground, theme.VariantLight), theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark); got != want {
		t.Errorf("after choosing dark, the background is %v, want the dark %v", got, want)
	}
	stored, err := svc.db.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Policy.TakeoverOff || stored.LogLevel != "debug" || stored.Theme != "dark" || stored.Notifications ||
		stored.EventRetention != (store.Retention{MaxEvents: 500, MaxAge: 7 * 24 * time.Hour}) || stored.WindowWidth != 900 {
		t.Errorf("stored settings after Save: %+v", stored)
	}

	// Refused by the store: nothing saved, nothing applied.
	bad := u
	bad.Policy.ConflictLimit = 0
	bad.LogLevel = "error"
	if err := prefs.Save(bad); !errors.Is(err, store.ErrInvalidSettings) {
		t.Errorf("Save(invalid) = %v, want ErrInvalidSettings", err)
	}
	if stored, _ := svc.db.Settings(context.Background()); stored.Policy.ConflictLimit != u.Policy.ConflictLimit || stored.LogLevel != "debug" {
		t.Errorf("an invalid save changed the store: %+v", stored)
	}
	if svc.manager.Policy().ConflictLimit == 0 || level.Level() != slog.LevelDebug {
		t.Error("an invalid save was applied")
	}
}

func TestSettingsKeepTheDemoPolicy(t *testing.T) {
	level := new(slog.LevelVar)
	svc, err := start(flags{demo: true}, level, slog.DiscardHandler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.close(context.Background()) })
	prefs := &settingsStore{svc: svc, app: test.NewTempApp(t), level: level, policy: svc.demo.policy}
	u, _ := prefs.Load()
	if err := prefs.Save(u); err != nil {
		t.Fatal(err)
	}
	if got, want := svc.manager.Policy().ZombieAfter, svc.demo.policy(core.DefaultPolicy()).ZombieAfter; got != want {
		t.Errorf("the demo's zombie threshold after Save = %s, want %s", got, want)
	}
}
