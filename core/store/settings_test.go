package store

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

func TestSettingsDefaults(t *testing.T) {
	db := openTest(t, WithRetention(500, 48*time.Hour))
	s, err := db.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	want.EventRetention = Retention{MaxEvents: 500, MaxAge: 48 * time.Hour}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Settings() of a new store = %+v, want %+v", s, want)
	}
	if s.Policy.Delay(1) != 3*time.Second || !s.Notifications || s.Theme != "system" || s.WindowWidth != 1100 || s.WindowHeight != 700 {
		t.Errorf("defaults are not the seed's: %+v", s)
	}
}

func TestSettingsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	s := DefaultSettings()
	s.Policy.TakeoverOff = true
	s.Policy.Schedule = []core.Backoff{{UpTo: 3, Delay: time.Second}, {UpTo: 4, Delay: time.Minute}}
	s.Notifications = false
	s.LogLevel = "debug"
	s.Theme = "dark"
	s.WindowWidth, s.WindowHeight = 1440.5, 900
	s.EventRetention = Retention{MaxEvents: 5000, MaxAge: 7 * 24 * time.Hour}
	s.Fleet = Fleet{Endpoints: "http://e1:2379,http://e2:2379", DatabaseURL: "postgres://w:pw@db/warden", Node: "desk-1", LeaseTTL: 7 * time.Second}
	s.API = API{On: true, Addr: "0.0.0.0:9470", AllowRemote: true, TLSCert: "/etc/warden/cert.pem", TLSKey: "/etc/warden/key.pem"}
	if err := db.SaveSettings(ctx, s); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openAt(t, path)
	got, err := db.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("Settings() after reopen = %+v, want %+v", got, s)
	}
	if r := db.currentRetention(); r != s.EventRetention {
		t.Errorf("the pruner uses %+v after reopen, want the saved %+v", r, s.EventRetention)
	}
}

func TestSaveSettingsRefusesInvalid(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		field  string
		change func(*Settings)
	}{
		{"Policy", func(s *Settings) { s.Policy.Schedule = nil }},
		{"Policy", func(s *Settings) { s.Policy.Jitter = 2 }},
		{"LogLevel", func(s *Settings) { s.LogLevel = "loud" }},
		{"Theme", func(s *Settings) { s.Theme = "blue" }},
		{"WindowWidth", func(s *Settings) { s.WindowWidth = 0 }},
		{"WindowWidth", func(s *Settings) { s.WindowWidth = float32(math.NaN()) }},
		{"WindowHeight", func(s *Settings) { s.WindowHeight = 1e9 }},
		{"EventRetention.MaxEvents", func(s *Settings) { s.EventRetention.MaxEvents = 0 }},
		{"EventRetention.MaxAge", func(s *Settings) { s.EventRetention.MaxAge = time.Minute }},
		{"Fleet", func(s *Settings) { s.Fleet = Fleet{Endpoints: "http://e1:2379"} }},
		{"Fleet", func(s *Settings) { s.Fleet = Fleet{Endpoints: "e1", DatabaseURL: "postgres://db/w"} }},
		{"Fleet", func(s *Settings) {
			s.Fleet = Fleet{Endpoints: "http://e1:2379", DatabaseURL: "postgres://db/w", LeaseTTL: time.Hour}
		}},
		{"Fleet", func(s *Settings) { s.Fleet = Fleet{Node: "lonely"} }},
		{"API", func(s *Settings) { s.API = API{On: true, Addr: "0.0.0.0:9470"} }},
		{"API", func(s *Settings) { s.API = API{On: true, Addr: "0.0.0.0:9470", AllowRemote: true} }},
		{"API", func(s *Settings) { s.API = API{On: true, Addr: "127.0.0.1"} }},
		{"API", func(s *Settings) { s.API = API{On: true, TLSCert: "c.pem"} }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			db := openTest(t)
			s := DefaultSettings()
			s.Theme = "light" // a valid change that must not be saved either
			tc.change(&s)
			err := db.SaveSettings(ctx, s)
			if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("SaveSettings = %v, want ErrInvalidSettings naming %s", err, tc.field)
			}
			got, _ := db.Settings(ctx)
			if !reflect.DeepEqual(got, DefaultSettings()) {
				t.Errorf("a refused SaveSettings changed the settings to %+v", got)
			}
		})
	}
}

// A file saved before Settings › API existed has no "api" key: it opens, with
// the API off and every other setting as saved; an API turned off keeps what
// was typed, even an address that would be refused.
func TestSettingsWithoutAPIReadAsOff(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), DBFile)
	db := openAt(t, path)
	s := DefaultSettings()
	s.Theme = "dark"
	s.API = API{On: false, Addr: "0.0.0.0:9470"}
	if err := db.SaveSettings(ctx, s); err != nil {
		t.Fatalf("an API turned off with an address it would refuse: %v", err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketSettings).Delete([]byte("api")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openAt(t, path)
	got, err := db.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.API != (API{}) || got.Theme != "dark" {
		t.Errorf("Settings() of a file without the API = API %+v, theme %q; want off and dark", got.API, got.Theme)
	}
}

func TestSettingsUnreadableValueReadsAsDefault(t *testing.T) {
	db := openTest(t)
	s := DefaultSettings()
	s.Theme = "dark"
	if err := db.SaveSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	db.bolt.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte("window_width"), []byte(`"wide"`))
	})
	got, err := db.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.WindowWidth != 1100 || got.Theme != "dark" {
		t.Errorf("Settings() = width %v theme %q; want the default width and the saved theme", got.WindowWidth, got.Theme)
	}
}
