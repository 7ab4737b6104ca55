// Package app is Warden's composition root: it parses the command line, picks
// the data directory, sets up logging, opens the store, and wires the WhatsApp
// dialer, the core Manager and the window together. It also owns shutdown.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"warden/assets"
	"warden/core"
	"warden/core/api"
	"warden/core/logbook"
	"warden/core/outbox"
	"warden/core/store"
	"warden/core/whatsapp"
	"warden/ui"
)

// Version is Warden's version; FyneApp.toml holds the same number.
const Version = "0.1.0"

// AppID is Warden's application ID (FyneApp.toml, preferences, notifications).
const AppID = "io.warden.app"

// ShutdownTimeout bounds closing every session and the store on quit. It is
// a little under the 5 s promised, so the process is gone by then.
const ShutdownTimeout = 4500 * time.Millisecond

// Run runs Warden with the given arguments (without the program name) and
// returns the process exit status.
func Run(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

type flags struct {
	dataDir  string
	demo     bool
	logLevel string
	version  bool
	// metrics serves Prometheus metrics and /healthz there for this run,
	// whatever the settings say; metricsRemote allows a non-loopback one.
	metrics       string
	metricsRemote bool
	// api serves the HTTP API there (off when empty); apiRemote allows a
	// non-loopback one, which then needs TLS (apiTLSCert, apiTLSKey) or
	// apiInsecure.
	api                    string
	apiRemote, apiInsecure bool
	apiTLSCert, apiTLSKey  string
	// headless runs without a window: logs go to stderr, SIGINT or SIGTERM
	// stops it cleanly.
	headless bool
	// Fleet mode (cluster.go): etcd endpoints, the shared PostgreSQL, the
	// node's name and its lease's TTL.
	cluster   string
	devicesDB string
	node      string
	leaseTTL  time.Duration
	// standalone ignores the fleet saved in Settings for this run.
	standalone bool
	// httpClient replaces the real WhatsApp servers (tests).
	httpClient *http.Client
	// wrapInbox wraps the store of incoming messages (tests: a crash on
	// the way in).
	wrapInbox func(core.Inbox) core.Inbox
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("warden", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for Warden's data (default: the user's data directory)")
	fs.BoolVar(&f.demo, "demo", false, "run against an offline demo server with simulated phones, in a temporary data directory")
	fs.StringVar(&f.logLevel, "log-level", "", "log level: debug, info, warn or error (default: the saved setting, else info)")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics and /healthz on this host:port, e.g. 127.0.0.1:9464 (default: the saved setting, else off)")
	fs.BoolVar(&f.metricsRemote, "metrics-allow-remote", false, "allow a --metrics address that other machines can reach")
	fs.StringVar(&f.api, "api", "", "serve the HTTP API on this host:port, e.g. "+api.DefaultAddr+" (default: off); keys: warden api-key create")
	fs.BoolVar(&f.apiRemote, "api-allow-remote", false, "allow an --api address that other machines can reach (needs --api-tls-cert and --api-tls-key, or --api-insecure)")
	fs.StringVar(&f.apiTLSCert, "api-tls-cert", "", "serve the API over HTTPS with this certificate (PEM file)")
	fs.StringVar(&f.apiTLSKey, "api-tls-key", "", "the private key of --api-tls-cert (PEM file)")
	fs.BoolVar(&f.apiInsecure, "api-insecure", false, "serve a remote API over plain HTTP: keys and messages cross the network in clear")
	fs.BoolVar(&f.headless, "headless", false, "run without a window (a server node): logs to stderr, SIGTERM stops it")
	fs.StringVar(&f.cluster, "cluster", "", "join a fleet of Warden nodes: etcd endpoints, comma-separated (needs --devices-db)")
	fs.StringVar(&f.devicesDB, "devices-db", "", "the fleet's PostgreSQL (postgres://user:password@host:port/db): accounts, timelines and device keys")
	fs.StringVar(&f.node, "node", "", "this node's name in the fleet (default: the host name)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", 0, "the fleet lease's TTL: how long a dead node's accounts wait before another takes them (default 5s)")
	fs.BoolVar(&f.standalone, "standalone", false, "run alone for this start, even if Settings name a fleet")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.logLevel != "" {
		if _, err := parseLevel(f.logLevel); err != nil {
			return f, err
		}
	}
	if (f.cluster == "") != (f.devicesDB == "") {
		return f, errors.New("--cluster and --devices-db go together: a fleet needs both etcd and PostgreSQL")
	}
	if f.cluster != "" {
		if f.standalone {
			return f, errors.New("--standalone and --cluster contradict each other")
		}
		if _, err := core.ParseEtcdEndpoints(f.cluster); err != nil {
			return f, fmt.Errorf("--cluster: %w", err)
		}
		if err := core.CheckDatabaseURL(f.devicesDB); err != nil {
			return f, fmt.Errorf("--devices-db: %w", err)
		}
	}
	if f.node != "" {
		if err := core.CheckNodeName(f.node); err != nil {
			return f, fmt.Errorf("--node: %w", err)
		}
	}
	if f.leaseTTL != 0 {
		if err := core.CheckLeaseTTL(f.leaseTTL); err != nil {
			return f, fmt.Errorf("--lease-ttl: %w", err)
		}
	}
	if f.metrics != "" {
		if _, err := core.CheckMetricsAddr(f.metrics, f.metricsRemote); err != nil {
			return f, fmt.Errorf("--metrics: %w", err)
		}
	}
	return f, checkAPIFlags(f)
}

// checkAPIFlags refuses API options without --api, and half a TLS pair.
func checkAPIFlags(f flags) error {
	if f.api == "" && (f.apiRemote || f.apiInsecure || f.apiTLSCert != "" || f.apiTLSKey != "") {
		return errors.New("--api-allow-remote, --api-insecure, --api-tls-cert and --api-tls-key need --api ADDR")
	}
	if (f.apiTLSCert == "") != (f.apiTLSKey == "") {
		return errors.New("--api-tls-cert and --api-tls-key go together")
	}
	if f.apiInsecure && f.apiTLSCert != "" {
		return errors.New("--api-insecure and --api-tls-cert contradict each other")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("invalid log level %q: use debug, info, warn or error", s)
	}
	return l, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == apiKeyCommand {
		return runAPIKey(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == webhookCommand {
		return runWebhook(args[1:], stdout, stderr)
	}
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "warden:", err)
		return 2
	}
	if f.version {
		fmt.Fprintln(stdout, "warden", Version)
		fmt.Fprintln(stdout, "whatsmeow", moduleVersion("go.mau.fi/whatsmeow"))
		fmt.Fprintln(stdout, "fyne", moduleVersion("fyne.io/fyne/v2"))
		return 0
	}
	if f.headless {
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		return runHeadless(f, stderr, sigs)
	}
	if msg := displayProblem(); msg != "" {
		fmt.Fprintln(stderr, "warden:", msg)
		return 1
	}

	level := new(slog.LevelVar)
	svc, err := start(f, level, slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err != nil {
		fmt.Fprintln(stderr, "warden:", err)
		showRefusal(fyneapp.NewWithID(AppID), err)
		return 1
	}
	log := svc.log

	a := fyneapp.NewWithID(AppID)
	a.SetIcon(assets.Icon)
	settings := svc.settings
	applyTheme(a, settings.Theme)
	prefs := &settingsStore{svc: svc, app: a, level: level}
	if svc.demo != nil {
		prefs.policy = svc.demo.policy
	}
	title, sendHint := "Warden", ""
	if f.demo {
		title, sendHint = "Warden — Demo", demoSendHint
	}
	win := ui.New(a, svc.controller(), ui.Options{
		Title: title,
		Size:  fyne.NewSize(settings.WindowWidth, settings.WindowHeight),
		OnResize: func(sz fyne.Size) {
			s := svc.settings
			s.WindowWidth, s.WindowHeight = sz.Width, sz.Height
			if err := svc.db.SaveSettings(context.Background(), s); err != nil {
				log.Warn("saving the window size failed", "err", err)
				return
			}
			svc.settings = s
		},
		OnQuit:          a.Quit,
		NoNotifications: !settings.Notifications,
		Settings:        prefs,
		SendHint:        sendHint,
		About:           svc.about,
		Backup:          windowBackup{svc},
		Fleet:           svc.windowFleet(),
		API:             windowAPI{svc},
		Webhooks:        svc.windowHooks(),
	})
	// With a tray, closing the window hides it; without one, it quits.
	tr := startTray(a, svc.controller(), win.Window(), a.Quit)
	if tr != nil {
		win.Window().SetCloseIntercept(win.Window().Hide)
	}
	src := &logSource{db: svc.db, book: svc.book}
	if svc.fleet != nil {
		src.shared = svc.fleet.store
	}
	win.SetLogSource(src)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if sig, ok := <-sigs; ok {
			log.Info("quitting on signal", "signal", sig.String())
			fyne.Do(a.Quit)
		}
	}()

	if err := svc.begin(f); err != nil {
		fmt.Fprintln(stderr, "warden:", err)
		tr.stop()
		svc.abandon()
		signal.Stop(sigs)
		showRefusal(a, err)
		return 1
	}
	log.Info("warden started", "version", Version, "data_dir", svc.dataDir, "demo", f.demo)
	if st := svc.api.state(); st.Problem != "" {
		win.ShowMessage("The HTTP API is not served", "The API saved in Settings could not start: "+st.Problem+
			".\n\nChange it in File › Settings › API.")
	}

	win.ShowAndRun()
	tr.stop()
	win.Close() // stops the window's update loop and saves its last size

	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := svc.close(ctx); err != nil {
		fmt.Fprintln(stderr, "warden: shutting down:", err)
		return 1
	}
	log.Info("warden stopped cleanly")
	return 0
}

// showRefusal shows why Warden did not start in a small window of a, until
// the operator quits it or a signal comes: started from a desktop menu,
// Warden has no terminal to print to.
func showRefusal(a fyne.App, err error) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			fyne.Do(a.Quit)
		case <-done:
		}
	}()
	a.SetIcon(assets.Icon)
	ui.NewRefusal(a, err.Error(), a.Quit).Window().Show()
	a.Run()
}

// runHeadless runs Warden without a window until a signal arrives on stop.
// Pairing needs a window (a QR code to scan), so a headless node runs the
// accounts that are already paired; new ones are added from a window.
func runHeadless(f flags, stderr io.Writer, stop <-chan os.Signal) int {
	level := new(slog.LevelVar)
	svc, err := start(f, level, slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err != nil {
		fmt.Fprintln(stderr, "warden:", err)
		return 1
	}
	log := svc.log
	if err := svc.begin(f); err != nil {
		fmt.Fprintln(stderr, "warden:", err)
		svc.abandon()
		return 1
	}
	log.Info("warden started", "version", Version, "data_dir", svc.dataDir, "demo", f.demo, "headless", true)
	sig := <-stop
	log.Info("quitting on signal", "signal", sig.String())
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := svc.close(ctx); err != nil {
		fmt.Fprintln(stderr, "warden: shutting down:", err)
		return 1
	}
	log.Info("warden stopped cleanly")
	return 0
}

// displayProblem explains why no window can be opened, or returns "".
func displayProblem() string {
	if runtime.GOOS != "linux" && !strings.HasSuffix(runtime.GOOS, "bsd") {
		return ""
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return "no display: Warden is a desktop app and needs a graphical session (DISPLAY or WAYLAND_DISPLAY is not set). " +
			"On a server, run it with --headless, or the window under Xvfb, e.g. `xvfb-run warden --demo`."
	}
	return ""
}

// services are the long-lived parts of a running Warden.
type services struct {
	log      *slog.Logger
	dataDir  string
	db       *store.DB
	settings store.Settings
	dialer   *whatsapp.Dialer
	manager  *core.Manager
	outbox   *outbox.Outbox // the webhooks and event streams
	demo     *demo
	metrics  *metricsEndpoint
	api      *apiEndpoint
	inbox    core.Inbox  // the received messages, for the API
	fleet    *fleetParts // fleet mode only
	// fleetFromSettings is set when the fleet came from Settings, not flags.
	fleetFromSettings bool
	cleanup           func() // removes the demo's temporary data directory
	book              *logbook.Book
	// created are the data files this start made (or wrote into while
	// empty): abandon puts them back.
	created []fileState
}

// start checks the data directory's files and builds the engine on them;
// begin then starts it. On error nothing is left open, and the data files
// are as they were: the error says what is wrong and what to do.
func start(f flags, level *slog.LevelVar, console slog.Handler) (_ *services, err error) {
	log := slog.New(console)
	svc := &services{log: log}
	defer func() {
		if err != nil {
			svc.abandon()
		}
	}()
	dir := f.dataDir
	if f.demo {
		if dir, err = os.MkdirTemp("", "warden-demo-"); err != nil {
			return nil, fmt.Errorf("create the demo's data directory: %w", err)
		}
		svc.cleanup = func() { _ = os.RemoveAll(dir) }
	} else if dir == "" {
		if dir, err = store.DefaultDataDir(); err != nil {
			return nil, err
		}
	}
	if err := store.EnsureDataDir(dir); err != nil {
		return nil, err
	}
	svc.dataDir = dir
	dbPath, devicesPath := store.Paths(dir)

	// Device keys without a warden.db to go with them: an empty list of
	// accounts must not begin over them. Checked before the store creates
	// (or writes into) warden.db; no Warden runs here, or warden.db would
	// not be empty.
	devicesChecked := false
	if missing, empty := isNew(dbPath); (missing || empty) && f.cluster == "" && !f.demo {
		what := "is empty"
		if missing {
			what = "is missing"
		}
		if err := checkDevices(devicesPath, dir, 0, what, log); err != nil {
			return nil, err
		}
		devicesChecked = true
	}
	created := newFiles(dbPath, devicesPath, devicesPath+"-wal", devicesPath+"-shm")
	// The store writes nothing by itself until begin: a start that fails
	// leaves warden.db as it was.
	svc.db, err = store.Open(dbPath, store.WithLogger(log), store.WithWritesHeld(), store.WithLockTimeout(lockWait))
	if err != nil {
		return nil, explainOpen(err, dir)
	}
	svc.created = created // this start holds the data directory: what it made is its own
	// From here on, log lines also go to the store, per account, so the logs
	// view shows earlier runs too.
	svc.book = logbook.New(level, logbook.Options{}) // the logs views' newest lines
	log = slog.New(slog.NewMultiHandler(console, svc.db.LogHandler(level), svc.book))
	svc.log = log
	svc.settings, err = svc.db.Settings(context.Background())
	if err != nil {
		return nil, fmt.Errorf("read the settings: %w", err)
	}
	level.Set(svc.settings.SlogLevel())
	if f.logLevel != "" {
		l, _ := parseLevel(f.logLevel)
		level.Set(l)
	}

	policy := svc.settings.Policy
	var httpClient *http.Client // nil: the real WhatsApp servers
	if f.demo {
		svc.demo, err = newDemo(log)
		if err != nil {
			return nil, err
		}
		httpClient = svc.demo.server.HTTPClient()
		policy = svc.demo.policy(policy)
	}
	if f.httpClient != nil {
		httpClient = f.httpClient
	}
	var accounts core.Store = svc.db
	var gate core.Gate
	devicesURL := ""
	if fl := svc.settings.Fleet; f.cluster == "" && fl.Endpoints != "" && !f.standalone && !f.demo {
		// The fleet saved in Settings; the command line's overrides it.
		f.cluster, f.devicesDB = fl.Endpoints, fl.DatabaseURL
		if f.node == "" {
			f.node = fl.Node
		}
		if f.leaseTTL == 0 {
			f.leaseTTL = fl.LeaseTTL
		}
		svc.fleetFromSettings = true
		log.Info("joining the fleet saved in Settings (start with --standalone to run alone)", "etcd", core.RedactURL(fl.Endpoints))
	}
	if f.cluster == "" && !devicesChecked {
		accts, err := svc.db.Accounts(context.Background())
		if err != nil {
			return nil, fmt.Errorf("read the accounts: %w", err)
		}
		if err := checkDevices(devicesPath, dir, len(accts), "holds no accounts", log); err != nil {
			return nil, err
		}
	}
	if f.cluster != "" {
		if svc.fleet, err = joinFleet(f, svc); err != nil {
			return nil, err
		}
		accounts, gate, devicesURL = svc.fleet.store, svc.fleet.fleet, f.devicesDB
	}
	svc.dialer, err = whatsapp.NewDialer(whatsapp.Config{
		DevicesPath: devicesPath, DevicesURL: devicesURL, Logger: log, Level: level, HTTPClient: httpClient, Versions: svc.db,
		DefaultProxy: svc.settings.DefaultProxy,
	})
	if err != nil {
		return nil, explainFiles(fmt.Errorf("open the device keys: %w", err), dir)
	}
	// Both stores keep the incoming messages: the fleet's in PostgreSQL,
	// so that an account's messages follow it from node to node.
	// The outbox lives with them, and stores each message's event in the
	// message's commit: a fleet's in PostgreSQL, delivered by each
	// account's owner (fleetParts.outboxConfig).
	var msgs outbox.MessageStore = svc.db
	ocfg := outbox.Config{Store: svc.db, Logger: log}
	if svc.fleet != nil {
		msgs, ocfg = svc.fleet.store, svc.fleet.outboxConfig(log)
	}
	if svc.outbox, err = outbox.Open(context.Background(), ocfg); err != nil {
		return nil, fmt.Errorf("open the outbox: %w", err)
	}
	inbox := svc.outbox.Inbox(msgs)
	if f.wrapInbox != nil && inbox != nil {
		inbox = f.wrapInbox(inbox)
	}
	svc.inbox = inbox
	svc.manager, err = core.NewManager(core.Config{Dialer: svc.dialer, Store: accounts, Inbox: inbox, Policy: policy, Logger: log, Gate: gate})
	if err != nil {
		return nil, err
	}
	return svc, nil
}

// begin starts what start built: the metrics endpoint, the Manager (which
// loads the accounts and starts those that were running), the fleet's rounds
// and the demo. Only then may the store write by itself (its log lines, the
// pruner): a start that fails before leaves warden.db as it was.
func (s *services) begin(f flags) error {
	// Before Start, so that the counters see every event from the first.
	if err := s.startMetrics(f); err != nil {
		return err
	}
	if err := s.manager.Start(context.Background()); err != nil {
		return explainOpen(err, s.dataDir) // a damaged record the store's check did not read
	}
	forgetDeleted(s.manager, s.book)
	if s.outbox != nil {
		if err := s.outbox.Follow(context.Background(), s.manager); err != nil {
			return err
		}
	}
	if s.fleet != nil {
		s.fleet.start(s.manager)
	}
	if s.demo != nil {
		s.demo.start(s.manager)
	}
	s.db.ReleaseWrites()
	// Last: it writes the keys' last use, and needs the accounts loaded.
	return s.startAPI(f)
}

// startMetrics serves the metrics the flag or the settings ask for. A flag's
// address that cannot be served stops Warden; a saved one is logged, and the
// window still opens.
func (s *services) startMetrics(f flags) error {
	s.metrics = &metricsEndpoint{svc: s, fromFlag: f.metrics != ""}
	if f.metrics != "" {
		if err := s.metrics.start(f.metrics, f.metricsRemote); err != nil {
			return fmt.Errorf("--metrics %s: %w", f.metrics, err)
		}
		return nil
	}
	if addr := s.settings.MetricsAddr; addr != "" {
		if err := s.metrics.start(addr, s.settings.MetricsAllowRemote); err != nil {
			s.log.Error("the metrics endpoint of the settings could not start; change it in Settings", "addr", addr, "err", err)
		}
	}
	return nil
}

// startAPI serves the HTTP API when --api or the settings ask for it. It
// drives the accounts through the controller and takes the keys of the
// accounts' store: in a fleet, every account of the fleet, with the fleet's
// keys. A flag's address that cannot be served stops Warden; a saved one is
// logged and shown, and the window still opens.
func (s *services) startAPI(f flags) error {
	s.api = &apiEndpoint{svc: s, fromFlag: f.api != ""}
	if f.api == "" {
		s.api.startSaved(s.settings.API)
		return nil
	}
	err := s.api.start(store.API{On: true, Addr: f.api, AllowRemote: f.apiRemote, TLSCert: f.apiTLSCert, TLSKey: f.apiTLSKey, Insecure: f.apiInsecure})
	if err != nil {
		return fmt.Errorf("--api %s: %w", f.api, err)
	}
	if f.demo {
		return demoKey(s.apiKeys(), s.api.server().Addr(), os.Stdout)
	}
	return nil
}

// demoKey makes an API key for the demo and prints it on one line, "API
// key: KEY", with a first request to try: anyone can drive the demo's
// accounts with curl a minute after starting it. The key lives in the
// demo's throwaway data directory.
func demoKey(keys api.KeyStore, addr string, out io.Writer) error {
	k, token, err := api.NewKey("demo", false, nil, time.Now())
	if err != nil {
		return fmt.Errorf("make the demo's API key: %w", err)
	}
	if err := keys.PutAPIKey(context.Background(), k); err != nil {
		return fmt.Errorf("store the demo's API key: %w", err)
	}
	fmt.Fprintf(out, "API key: %s\n", token)
	fmt.Fprintf(out, "Try: curl -H 'Authorization: Bearer %s' http://%s/v1/accounts\n", token, addr)
	return nil
}

// close shuts Warden down in order: the demo's fault injector, the Manager
// (which closes every session and writes the timeline to the store), the
// outbox (its deliveries in flight are made again at the next start), the
// device keys, the demo server, and last the store. Each step runs even if an
// earlier one failed; the first error is returned. If ctx ends first, close
// returns at once with an error naming the step still running, so Warden
// exits on time anyway (committed data is safe in bbolt either way).
func (s *services) close(ctx context.Context) error {
	var step atomic.Value // the name of the step running now
	step.Store("")
	done := make(chan error, 1)
	go func() { done <- s.closeSteps(ctx, &step) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("shutdown did not finish in time: still %s", step.Load())
	}
}

func (s *services) closeSteps(ctx context.Context, step *atomic.Value) error {
	var errs []error
	run := func(name string, f func() error) {
		step.Store(name)
		began := time.Now()
		errs = append(errs, f())
		if d := time.Since(began); d > time.Second {
			s.log.Warn("a shutdown step was slow", "step", name, "took", d.Round(time.Millisecond).String())
		}
	}
	if s.api != nil {
		run("closing the HTTP API", func() error { return s.api.close(ctx) })
	}
	if s.metrics != nil {
		run("closing the metrics endpoint", func() error { s.metrics.stop(); return nil })
	}
	if s.demo != nil {
		run("stopping the demo's phones and faults", func() error { s.demo.stop(); return nil })
	}
	if s.fleet != nil {
		run("stopping the fleet's rounds", func() error { s.fleet.stop(); return nil })
	}
	if s.manager != nil {
		run("closing the sessions", func() error { return s.manager.Close(ctx) })
	}
	if s.outbox != nil {
		run("stopping the webhooks", func() error { return s.outbox.Close(ctx) })
	}
	if s.fleet != nil {
		run("leaving the fleet", func() error { return s.fleet.close(ctx) })
	}
	if s.dialer != nil {
		run("closing the device keys", s.dialer.Close)
	}
	if s.demo != nil {
		run("stopping the demo server", func() error { s.demo.server.Close(); return nil })
	}
	if s.db != nil {
		run("closing the store", s.db.Close)
	}
	if s.cleanup != nil {
		s.cleanup()
	}
	return errors.Join(errs...)
}
