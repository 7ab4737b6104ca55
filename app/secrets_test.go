package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	socks5 "github.com/armon/go-socks5"

	"warden/core"
	"warden/core/cluster/etcdtest"
	"warden/core/logbook"
	"warden/core/pgserver"
	"warden/core/store"
	"warden/core/store/postgres"
)

// No secret the operator gives Warden, in a flag, in Settings or in a proxy,
// shows anywhere Warden writes: stderr, the logs it stores (warden.db, and
// the fleet's PostgreSQL), /metrics and /healthz, and an export of the logs.
// Warden runs headless as a fleet node three times: with the database's
// password in the URL's query on the command line, with the fleet saved in
// Settings, and with a keyword=value DSN that it refuses.
func TestNoSecretShows(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	srv := fakeServer(t, 90)
	etcd := etcdtest.Start(t, 1)
	dsn := pgserver.Start(t) // trust authentication: any password passes
	ctx := context.Background()

	secrets := map[string]string{
		"--devices-db's password=":         "Qpw7Hk2mZr",
		"--devices-db's sslpassword=":      "Ssl4Vb9xTn",
		"--devices-db's keyword=value":     "Kv3Jd8Lq",
		"--cluster's user:password@":       "Ec5Wf1Ry",
		"Settings' database password=":     "Sdb6Np0Gu",
		"Settings' etcd user:password@":    "Se2Hm7Cz",
		"Settings' default proxy password": "Dp9Tx4Ka",
		"an account's proxy password":      "Ap8Lr3Ve",
	}
	// The account's proxy wants another password; the default proxy is not
	// running.
	guarded := startSOCKS(t, "warden", "right-one")
	deadProxy := freeAddr(t)

	// The fleet's accounts: one with its own proxy, one on the default proxy.
	// Both are paired (in the store's eyes) and meant to run, so the node
	// dials them at once.
	pg, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []core.Account{
		{ID: "own-proxy", Name: "Own proxy", JID: "15550000001.0:1@s.whatsapp.net", CreatedAt: time.Now(), AutoStart: true,
			Proxy: "socks5://warden:" + secrets["an account's proxy password"] + "@" + guarded},
		{ID: "default-proxy", Name: "Default proxy", JID: "15550000002.0:1@s.whatsapp.net", CreatedAt: time.Now(), AutoStart: true},
	} {
		if err := pg.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	dir := filepath.Join(t.TempDir(), "data")
	saveSettings(t, dir, func(s *store.Settings) {
		s.DefaultProxy = "socks5://ops:" + secrets["Settings' default proxy password"] + "@" + deadProxy
	})

	texts := map[string]string{} // everything Warden wrote that an operator or a tool reads
	node := func(what string, args ...string) {
		t.Helper()
		metrics := freeAddr(t)
		args = append([]string{"--headless", "--data-dir", dir, "--log-level", "debug", "--metrics", metrics}, args...)
		f, err := parseFlags(args, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		f.httpClient = srv.HTTPClient()
		var stderr syncBuffer
		stop := make(chan os.Signal, 1)
		done := make(chan int, 1)
		go func() { done <- runHeadless(f, &stderr, stop) }()
		waitFor(t, 60*time.Second, func() bool {
			out := stderr.String()
			return strings.Contains(out, "refused the user name or password") && strings.Contains(out, "refused the connection")
		})
		for _, path := range []string{"/metrics", "/healthz"} {
			_, body := get(t, "http://"+metrics+path)
			texts[what+" "+path] = body
		}
		stop <- syscall.SIGTERM
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%s: exit status %d", what, code)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: still running 15 s after SIGTERM", what)
		}
		texts[what+" stderr"] = stderr.String()
	}

	node("the fleet of the command line",
		"--cluster", withUserinfo(etcd.Endpoints[0], "root:"+secrets["--cluster's user:password@"]),
		"--devices-db", dsn+"&password="+secrets["--devices-db's password="]+"&sslpassword="+secrets["--devices-db's sslpassword="],
		"--node", "n1")

	saveSettings(t, dir, func(s *store.Settings) {
		s.Fleet = store.Fleet{
			Endpoints:   withUserinfo(etcd.Endpoints[0], "root:"+secrets["Settings' etcd user:password@"]),
			DatabaseURL: dsn + "&password=" + secrets["Settings' database password="],
			Node:        "n1",
			LeaseTTL:    2 * time.Second,
		}
	})
	node("the fleet of Settings")

	// A keyword=value DSN is refused (--devices-db takes a URL), without
	// repeating it.
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(strings.Split(dsn, "/")[2], "warden@"))
	kv := fmt.Sprintf(`host=%s port=%s user=warden password='%s\' x' dbname=postgres`, host, port, secrets["--devices-db's keyword=value"])
	var stderr syncBuffer
	if code := run([]string{"--headless", "--data-dir", dir, "--cluster", etcd.Endpoints[0], "--devices-db", kv}, io.Discard, &stderr); code != 2 {
		t.Errorf("--devices-db with a keyword=value DSN: exit status %d, want 2:\n%s", code, stderr.String())
	}
	texts["the keyword=value DSN's stderr"] = stderr.String()

	// The stored logs: this node's warden.db, and the fleet's PostgreSQL.
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	local, err := db.AllLogs(ctx, 100000, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	texts["warden.db's logs"] = fmt.Sprint(local)
	for _, table := range []string{"warden_logs", "warden_events"} {
		texts["PostgreSQL's "+table] = dumpTable(t, dsn, table)
	}
	// The Logs tab's export: what its source gives, every account and
	// Warden's own lines.
	src := &logSource{db: db, book: logbook.New(slog.LevelDebug, logbook.Options{}), shared: pg}
	exported, err := src.History(ctx, "", true, 100000, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	texts["the export of the logs"] = fmt.Sprint(exported)
	pg.Close()

	// Each holds what the secrets would be in, redacted.
	for where, want := range map[string][]string{
		"the fleet of the command line stderr":   {"fleet mode", "password=xxxxx&sslpassword=xxxxx", "socks5://warden:•••@", "socks5://ops:•••@"},
		"the fleet of Settings stderr":           {"joining the fleet saved in Settings", "root:xxxxx@", "password=xxxxx"},
		"the keyword=value DSN's stderr":         {"--devices-db"},
		"warden.db's logs":                       {"fleet mode", "password=xxxxx"},
		"PostgreSQL's warden_logs":               {"socks5://warden:•••@", "socks5://ops:•••@"},
		"PostgreSQL's warden_events":             {"socks5://warden:•••@", "socks5://ops:•••@"},
		"the export of the logs":                 {"fleet mode", "password=xxxxx", "socks5://warden:•••@", "socks5://ops:•••@"},
		"the fleet of the command line /metrics": {"warden_accounts{"},
		"the fleet of Settings /healthz":         {"2 accounts"},
	} {
		for _, w := range want {
			if !strings.Contains(texts[where], w) {
				t.Errorf("%s has no %q:\n%s", where, w, texts[where])
			}
		}
	}
	for what, secret := range secrets {
		for where, text := range texts {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows in %s: …%s…", what, where, text[max(0, i-120):min(len(text), i+len(secret)+40)])
			}
		}
	}
}

// withUserinfo puts userinfo into an http:// endpoint.
func withUserinfo(endpoint, userinfo string) string {
	return strings.Replace(endpoint, "://", "://"+userinfo+"@", 1)
}

// saveSettings changes the settings of the data directory dir.
func saveSettings(t *testing.T, dir string, change func(*store.Settings)) {
	t.Helper()
	if err := store.EnsureDataDir(dir); err != nil {
		t.Fatal(err)
	}
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	change(&s)
	if err := db.SaveSettings(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// dumpTable returns a PostgreSQL table's rows as text.
func dumpTable(t *testing.T, dsn, table string) string {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(context.Background(), "SELECT t::text FROM "+table+" t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// startSOCKS starts a SOCKS5 proxy on 127.0.0.1 that wants user and
// password, and returns its address.
func startSOCKS(t *testing.T, user, password string) string {
	t.Helper()
	server, err := socks5.New(&socks5.Config{
		Credentials: socks5.StaticCredentials{user: password},
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = server.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}
