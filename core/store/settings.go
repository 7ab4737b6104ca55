package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// Settings are the operator's preferences. Each field is stored under a key
// of its own, so a field never saved reads as its default.
type Settings struct {
	Policy         core.Policy
	Notifications  bool
	LogLevel       string // "debug", "info", "warn" or "error"
	Theme          string // "system", "light" or "dark"
	WindowWidth    float32
	WindowHeight   float32
	EventRetention Retention
	// DefaultProxy is the proxy of accounts without one of their own (see
	// core.NormalizeProxy); "" for none.
	DefaultProxy string
	// MetricsAddr is where Prometheus metrics and /healthz are served
	// ("" for off; see core.CheckMetricsAddr); MetricsAllowRemote allows an
	// address other machines can reach.
	MetricsAddr        string
	MetricsAllowRemote bool
	// Fleet, when its endpoints are set, makes Warden a node of a fleet the
	// next time it starts (see README, "Several machines").
	Fleet Fleet
	// API is whether and where the HTTP API is served (Settings › API).
	API API
}

// API is how the HTTP API is served; the zero value is off. A file saved
// before it existed reads as off.
type API struct {
	On bool `json:"on"`
	// Addr is host:port, "" for core.DefaultAPIAddr; the rest as in
	// core.APIListen.
	Addr        string `json:"addr,omitempty"`
	AllowRemote bool   `json:"allow_remote,omitempty"`
	TLSCert     string `json:"tls_cert,omitempty"`
	TLSKey      string `json:"tls_key,omitempty"`
	Insecure    bool   `json:"insecure,omitempty"`
}

// Listen is how a's API listens.
func (a API) Listen() core.APIListen {
	return core.APIListen{Addr: a.Addr, AllowRemote: a.AllowRemote, TLSCert: a.TLSCert, TLSKey: a.TLSKey, Insecure: a.Insecure}
}

// Fleet is the fleet this node joins at start; the zero value is none.
type Fleet struct {
	Endpoints   string        `json:"endpoints"`    // etcd's, comma-separated
	DatabaseURL string        `json:"database_url"` // the fleet's PostgreSQL
	Node        string        `json:"node"`         // "" for the host name
	LeaseTTL    time.Duration `json:"lease_ttl"`    // 0 for the default
}

// Validate checks a fleet configuration: all or nothing of endpoints and
// database.
func (f Fleet) Validate() error {
	if f.Endpoints == "" && f.DatabaseURL == "" {
		if f.Node != "" || f.LeaseTTL != 0 {
			return errors.New("a node name or lease time without a fleet")
		}
		return nil
	}
	if f.Endpoints == "" || f.DatabaseURL == "" {
		return errors.New("a fleet needs both etcd's endpoints and the database URL")
	}
	if _, err := core.ParseEtcdEndpoints(f.Endpoints); err != nil {
		return err
	}
	if err := core.CheckDatabaseURL(f.DatabaseURL); err != nil {
		return err
	}
	if f.Node != "" {
		if err := core.CheckNodeName(f.Node); err != nil {
			return err
		}
	}
	if f.LeaseTTL != 0 {
		return core.CheckLeaseTTL(f.LeaseTTL)
	}
	return nil
}

// ErrInvalidSettings is wrapped by SaveSettings' errors, which name the field.
var ErrInvalidSettings = errors.New("invalid settings")

// The accepted values of Settings.LogLevel and Settings.Theme.
var (
	LogLevels = []string{"debug", "info", "warn", "error"}
	Themes    = []string{"system", "light", "dark"}
)

// Bounds of the settings.
const (
	MinWindowSize = 200
	MaxWindowSize = 20_000
	MaxMaxEvents  = 10_000_000
	MinMaxAge     = time.Hour
	MaxMaxAge     = 10 * 365 * 24 * time.Hour
)

// DefaultSettings returns the settings of a new installation.
func DefaultSettings() Settings {
	return Settings{
		Policy:         core.DefaultPolicy(),
		Notifications:  true,
		LogLevel:       "info",
		Theme:          "system",
		WindowWidth:    1100,
		WindowHeight:   700,
		EventRetention: Retention{MaxEvents: DefaultMaxEvents, MaxAge: DefaultMaxAge},
	}
}

// SlogLevel returns LogLevel as a slog.Level (info if unknown).
func (s Settings) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Validate checks every field and names the first bad one.
func (s Settings) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSettings, field, fmt.Sprintf(format, args...))
	}
	if err := s.Policy.Validate(); err != nil {
		return fmt.Errorf("%w: Policy: %w", ErrInvalidSettings, err)
	}
	if !oneOf(s.LogLevel, LogLevels) {
		return bad("LogLevel", "%q is not one of %q", s.LogLevel, LogLevels)
	}
	if !oneOf(s.Theme, Themes) {
		return bad("Theme", "%q is not one of %q", s.Theme, Themes)
	}
	if !windowSizeOK(s.WindowWidth) {
		return bad("WindowWidth", "%v is not between %d and %d", s.WindowWidth, MinWindowSize, MaxWindowSize)
	}
	if !windowSizeOK(s.WindowHeight) {
		return bad("WindowHeight", "%v is not between %d and %d", s.WindowHeight, MinWindowSize, MaxWindowSize)
	}
	if r := s.EventRetention; r.MaxEvents < 1 || r.MaxEvents > MaxMaxEvents {
		return bad("EventRetention.MaxEvents", "%d is not between 1 and %d", r.MaxEvents, MaxMaxEvents)
	}
	if r := s.EventRetention; r.MaxAge < MinMaxAge || r.MaxAge > MaxMaxAge {
		return bad("EventRetention.MaxAge", "%s is not between %s and %s", r.MaxAge, MinMaxAge, MaxMaxAge)
	}
	if s.MetricsAddr != "" {
		if _, err := core.CheckMetricsAddr(s.MetricsAddr, s.MetricsAllowRemote); err != nil {
			return fmt.Errorf("%w: MetricsAddr: %w", ErrInvalidSettings, err)
		}
	}
	if err := s.Fleet.Validate(); err != nil {
		return fmt.Errorf("%w: Fleet: %w", ErrInvalidSettings, err)
	}
	if s.API.On { // an API turned off keeps what was typed, unchecked
		if _, err := s.API.Listen().Check(); err != nil {
			return fmt.Errorf("%w: API: %w", ErrInvalidSettings, err)
		}
	}
	if p, err := core.NormalizeProxy(s.DefaultProxy); err != nil || p != s.DefaultProxy || p == core.ProxyDirect {
		return bad("DefaultProxy", "%q is not a proxy URL in canonical form", core.RedactProxy(s.DefaultProxy))
	}
	return nil
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

func windowSizeOK(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && f >= MinWindowSize && f <= MaxWindowSize
}

// A settingField is one field of Settings and the key it is stored under.
type settingField struct {
	key  string
	save func() ([]byte, error)
	load func(v []byte) error // leaves the field as it was on error
}

func field[T any](key string, p *T) settingField {
	return settingField{
		key:  key,
		save: func() ([]byte, error) { return json.Marshal(*p) },
		load: func(v []byte) error {
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			*p = x
			return nil
		},
	}
}

func (s *Settings) fields() []settingField {
	return []settingField{
		field("policy", &s.Policy),
		field("notifications", &s.Notifications),
		field("log_level", &s.LogLevel),
		field("theme", &s.Theme),
		field("window_width", &s.WindowWidth),
		field("window_height", &s.WindowHeight),
		field("event_retention", &s.EventRetention),
		field("default_proxy", &s.DefaultProxy),
		field("metrics_addr", &s.MetricsAddr),
		field("metrics_allow_remote", &s.MetricsAllowRemote),
		field("fleet", &s.Fleet),
		field("api", &s.API),
	}
}

// Settings returns the saved settings, with defaults for anything never saved.
// The retention default is the one given to Open. A stored value that does
// not decode is logged and read as its default.
func (db *DB) Settings(ctx context.Context) (Settings, error) {
	s := DefaultSettings()
	s.EventRetention = db.retentionOption
	var unreadable []error
	err := db.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		for _, f := range s.fields() {
			if v := b.Get([]byte(f.key)); v != nil {
				if err := f.load(v); err != nil {
					unreadable = append(unreadable, fmt.Errorf("%s: %w", f.key, err))
				}
			}
		}
		return nil
	})
	if err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	// Logged after the transaction: a handler that writes to the store must
	// not wait on a commit while this read holds the file's map.
	for _, err := range unreadable {
		db.log.Warn("a stored setting is unreadable; using its default", "err", err)
	}
	return s, nil
}

// SaveSettings validates and saves every field in one transaction. Invalid
// settings are refused (ErrInvalidSettings, naming the field) and nothing is
// saved. A new retention applies to the pruner at once.
func (db *DB) SaveSettings(ctx context.Context, s Settings) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		for _, f := range s.fields() {
			v, err := f.save()
			if err != nil {
				return fmt.Errorf("%s: %w", f.key, err)
			}
			if err := b.Put([]byte(f.key), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	db.setRetention(s.EventRetention)
	return nil
}
