// Package whatsapp is Warden's adapter to WhatsApp: it implements core.Dialer
// and core.Session with go.mau.fi/whatsmeow.
//
// Each Session owns exactly one whatsmeow.Client, with whatsmeow's own
// auto-reconnect off: core's schedule is the only reconnect loop. Device keys
// live in whatsmeow's sqlstore on modernc.org/sqlite (pure Go), in one database
// file shared by all accounts.
package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for DevicesURL
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	// The pure Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"

	"warden/core"
)

// Config configures a Dialer.
type Config struct {
	// DevicesPath is the SQLite file holding every account's device keys
	// (devices.db beside Warden's own data). It is created with mode 0600,
	// and an existing one readable by others is set to 0600 (and logged).
	DevicesPath string
	// DevicesURL, when set, holds the device keys in PostgreSQL instead
	// (postgres://user:password@host:port/db?...), so that every node of a
	// fleet can log any account in; DevicesPath is then not used.
	DevicesURL string
	// Logger receives Warden's and whatsmeow's logs. Nil discards them.
	Logger *slog.Logger
	// Level decides whether whatsmeow's per-node Send and Recv lines are
	// logged: only when it is slog.LevelDebug or lower. It is read at every
	// line, so a slog.LevelVar changes it live. Nil means Info.
	Level slog.Leveler
	// HTTPClient dials the websocket. Nil means the real WhatsApp servers; tests
	// and the demo pass the fake server's client.
	HTTPClient *http.Client
	// DeviceName is what the phone shows under Linked devices. Empty means
	// "Warden".
	DeviceName string
	// Versions keeps the last WhatsApp Web version fetched, for the next
	// start. Nil keeps nothing.
	Versions VersionStore
	// DefaultProxy is the proxy of accounts without one of their own ("":
	// none); SetDefaultProxy changes it later.
	DefaultProxy string
	// NoVersionFetch stops NewDialer from fetching the current WhatsApp Web
	// version in the background (a refusal as outdated still fetches).
	NoVersionFetch bool
}

// Dialer creates whatsmeow sessions. It implements core.Dialer.
type Dialer struct {
	container *sqlstore.Container
	db        *sql.DB // the container's, for export and import
	dialect   string  // "sqlite" or "postgres"
	log       *slog.Logger
	level     slog.Leveler
	http      *http.Client // cfg.HTTPClient: nil means whatsmeow's own
	// ws dials the websockets: http's transport (or net/http's default)
	// without keep-alives, so that a dial aborted halfway leaves no
	// connection behind in an idle pool.
	ws *http.Client

	stopWatch context.CancelFunc
	watchDone chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu sync.Mutex // guards the following
	// live holds the sessions the watchdog checks: connected, not closed.
	live map[*Session]struct{}
	// outdatedRetried holds the accounts reconnected once after a refusal as
	// outdated, until they log in.
	outdatedRetried map[core.AccountID]bool

	// The WhatsApp Web version (version.go).
	versions  VersionStore
	versionMu sync.RWMutex // read-held while a session logs in, write-held while the version changes
	bgCtx     context.Context
	bgCancel  context.CancelFunc
	bg        sync.WaitGroup // version fetches
	vmu       sync.Mutex     // guards ver and fetching
	ver       WebVersion
	fetching  *fetchCall

	defaultProxy atomic.Pointer[string] // normalized; "" or nil: none
}

var _ core.Dialer = (*Dialer)(nil)

// deviceNameOnce guards the process-wide whatsmeow.store.DeviceProps.
var deviceNameOnce sync.Once

// WatchInterval is how often the watchdog looks for sessions that lost their
// socket without an event (see Session.checkSocket).
var WatchInterval = 5 * time.Second

// storeTimeout bounds every device-store query the dialer makes by itself.
const storeTimeout = 10 * time.Second

// openDevices opens the device store: SQLite at cfg.DevicesPath, or
// PostgreSQL at cfg.DevicesURL. where names it for errors, without a
// password.
func openDevices(ctx context.Context, cfg Config) (db *sql.DB, dialect, where string, err error) {
	if cfg.DevicesURL != "" {
		// pgx's errors may quote the URL: RedactError hides its secrets
		// there too.
		where = core.RedactURL(cfg.DevicesURL)
		db, err = sql.Open("pgx", cfg.DevicesURL)
		if err != nil {
			return nil, "", where, fmt.Errorf("open device store %s: %w", where, core.RedactError(err, cfg.DevicesURL))
		}
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			return nil, "", where, fmt.Errorf("open device store %s: %w", where, core.RedactError(err, cfg.DevicesURL))
		}
		return db, "postgres", where, nil
	}
	where = cfg.DevicesPath
	f, err := os.OpenFile(cfg.DevicesPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, "", where, fmt.Errorf("open device store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, "", where, fmt.Errorf("open device store: %w", err)
	}
	if err := tightenMode(cfg.DevicesPath, cfg.Logger); err != nil {
		return nil, "", where, fmt.Errorf("open device store: %w", err)
	}
	// WAL with synchronous=NORMAL: a first login stores 812 prekeys one
	// statement at a time, which takes seconds when every commit syncs.
	// A transaction takes the write lock when it begins (_txlock=immediate),
	// waiting its turn for up to the busy timeout: a deferred one that read
	// first and then writes fails at once with SQLITE_BUSY when another
	// connection wrote meanwhile, and the decryption of an incoming message
	// is such a transaction (whatsmeow's sessions, identities and the
	// plaintext buffer); a failed one costs the message a retry.
	// SQLite reads the name as a URI: '%', '?' and '#' in the path are
	// escaped, or the store would open elsewhere.
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(cfg.DevicesPath) +
		"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err = sql.Open("sqlite", dsn)
	if err != nil {
		return nil, "", where, fmt.Errorf("open device store %s: %w", where, err)
	}
	return db, "sqlite", where, nil
}

// NewDialer opens (or creates) the device store at cfg.DevicesPath, or
// cfg.DevicesURL.
func NewDialer(cfg Config) (*Dialer, error) {
	if cfg.DevicesPath == "" && cfg.DevicesURL == "" {
		return nil, errors.New("open device store: no path given")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Level == nil {
		cfg.Level = slog.LevelInfo
	}
	if cfg.DeviceName == "" {
		cfg.DeviceName = "Warden"
	}
	deviceNameOnce.Do(func() {
		name := cfg.DeviceName
		store.DeviceProps.Os = &name
	})

	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	db, dialect, where, err := openDevices(ctx, cfg)
	if err != nil {
		return nil, err
	}
	container := sqlstore.NewWithDB(db, dialect, newWALogger(cfg.Logger, "Database", cfg.Level))
	if err := container.Upgrade(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open device store %s: %w", where, core.RedactError(err, cfg.DevicesURL))
	}
	watchCtx, stop := context.WithCancel(context.Background())
	d := &Dialer{
		container: container,
		db:        db,
		dialect:   dialect,
		log:       cfg.Logger,
		level:     cfg.Level,
		http:      cfg.HTTPClient,
		ws:        websocketClient(cfg.HTTPClient),
		stopWatch: stop,
		watchDone: make(chan struct{}),
		live:      make(map[*Session]struct{}),
		versions:  cfg.Versions,

		outdatedRetried: make(map[core.AccountID]bool),
	}
	if err := d.SetDefaultProxy(cfg.DefaultProxy); err != nil {
		_ = container.Close()
		stop()
		return nil, fmt.Errorf("default proxy: %w", err)
	}
	d.bgCtx, d.bgCancel = context.WithCancel(context.Background())
	d.loadVersion(ctx)
	if !cfg.NoVersionFetch {
		// Start-up never waits for this: sessions announce what the Dialer
		// has until the fetch brings something newer.
		go func() { _ = d.refreshVersion(d.bgCtx) }()
	}
	go d.watchdog(watchCtx)
	return d, nil
}

// Close stops the watchdog and closes the device store. Sessions must be
// closed first. It is safe to call twice.
func (d *Dialer) Close() error {
	d.closeOnce.Do(func() {
		d.stopWatch()
		<-d.watchDone
		d.vmu.Lock() // no fetch starts after this
		d.bgCancel()
		d.vmu.Unlock()
		d.bg.Wait()
		if err := d.container.Close(); err != nil {
			d.closeErr = fmt.Errorf("close device store: %w", err)
		}
	})
	return d.closeErr
}

// NewSession returns an unconnected session for acct. If acct has no JID, or
// its device keys are gone (deleted after a logout), the session pairs a new
// device when it connects. It goes out through acct's proxy (see proxyFor).
func (d *Dialer) NewSession(ctx context.Context, acct core.Account, emit func(core.SessionEvent) error) (core.Session, error) {
	ws, media, p := d.ws, d.http, d.proxyFor(acct)
	if p != "" {
		var err error
		if ws, err = proxied(d.ws, p); err != nil {
			return nil, fmt.Errorf("new session for %s: %w", acct.ID, err)
		}
		if media, err = proxied(d.http, p); err != nil {
			return nil, fmt.Errorf("new session for %s: %w", acct.ID, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	device, err := d.device(ctx, acct)
	if err != nil {
		return nil, fmt.Errorf("new session for %s: %w", acct.ID, err)
	}
	if device == nil {
		device = d.container.NewDevice()
	}
	conns := &connSet{}
	s := newSession(d, acct, device, emit, conns.track(ws), media)
	s.proxy, s.conns = p, conns
	return s, nil
}

// DeleteDevice removes the account's device keys. It does nothing when the
// account was never paired or its keys are already gone.
func (d *Dialer) DeleteDevice(ctx context.Context, acct core.Account) error {
	device, err := d.device(ctx, acct)
	if err != nil {
		return fmt.Errorf("delete device of %s: %w", acct.ID, err)
	}
	if device == nil {
		return nil
	}
	if err := d.container.DeleteDevice(ctx, device); err != nil {
		return fmt.Errorf("delete device of %s: %w", acct.ID, err)
	}
	d.log.Info("device keys deleted", "account", acct.ID)
	return nil
}

// HasDevice reports whether the device store holds keys for acct.
func (d *Dialer) HasDevice(ctx context.Context, acct core.Account) (bool, error) {
	device, err := d.device(ctx, acct)
	if err != nil {
		return false, fmt.Errorf("look up device of %s: %w", acct.ID, err)
	}
	return device != nil, nil
}

// device loads acct's stored device, or returns nil when there is none.
func (d *Dialer) device(ctx context.Context, acct core.Account) (*store.Device, error) {
	if acct.JID == "" {
		return nil, nil
	}
	jid, err := types.ParseJID(acct.JID)
	if err != nil {
		return nil, fmt.Errorf("parse jid: %w", err)
	}
	device, err := d.container.GetDevice(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("load device: %w", err)
	}
	return device, nil
}

// watchdog runs Session.checkSocket on every live session each WatchInterval.
func (d *Dialer) watchdog(ctx context.Context) {
	defer close(d.watchDone)
	t := time.NewTicker(WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		sessions := make([]*Session, 0, len(d.live))
		for s := range d.live {
			sessions = append(sessions, s)
		}
		d.mu.Unlock()
		for _, s := range sessions {
			s.checkSocket()
		}
	}
}

func (d *Dialer) watch(s *Session) {
	d.mu.Lock()
	d.live[s] = struct{}{}
	d.mu.Unlock()
}

func (d *Dialer) unwatch(s *Session) {
	d.mu.Lock()
	delete(d.live, s)
	d.mu.Unlock()
}

// websocketClient returns a copy of hc (nil: net/http's default transport)
// whose transport keeps no idle connections. A websocket never reuses a
// pooled connection, but net/http pools the connection of a request that
// was cancelled while dialling: without this, an aborted dial would leave a
// connection open.
func websocketClient(hc *http.Client) *http.Client {
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport}
	}
	t, ok := hc.Transport.(*http.Transport)
	if !ok {
		return hc
	}
	t = t.Clone()
	t.DisableKeepAlives = true
	c := *hc
	c.Transport = t
	return &c
}
