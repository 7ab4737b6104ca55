// Package api is Warden's HTTP API: the way in for the business's software.
// It serves JSON under /v1 (accounts, pairing, sending, the timeline, the
// received messages, health) and its own OpenAPI 3.1 document at
// /v1/openapi.json, both from one route table (routes.go), so that a route
// cannot exist without its description.
//
// Every call but the document's needs an API key (keys.go): a bearer token
// that is read-only or may operate, for every account or a list of them, and
// has its own rate limit. The API drives accounts through a Controller, the
// interface the window uses too, so in a fleet it serves every account of
// the fleet through core/cluster's Console.
//
// It is off by default, and like the metrics it listens on loopback unless
// remote access is allowed; then it wants TLS, or an explicit insecure.
package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"warden/core"
)

// DefaultAddr is where the API is served when no address is given: this
// machine only.
const DefaultAddr = "127.0.0.1:9470"

// DefaultMaxBody is the largest request body the API reads.
const DefaultMaxBody = 64 << 10

// Controller is what the API needs from the engine: the methods of
// ui.Controller it uses, with the same signatures, so that core.Manager and
// core/cluster's Console both satisfy it.
type Controller interface {
	Add(ctx context.Context, name string, opts ...core.AccountOption) (core.Account, error)
	Connect(ctx context.Context, id core.AccountID) error
	Disconnect(ctx context.Context, id core.AccountID) error
	Logout(ctx context.Context, id core.AccountID) error
	Delete(ctx context.Context, id core.AccountID) error
	PairPhone(ctx context.Context, id core.AccountID, phone string) (string, error)
	Rename(ctx context.Context, id core.AccountID, name string) error
	SetProxy(ctx context.Context, id core.AccountID, proxy string) error
	SendText(ctx context.Context, id core.AccountID, to, text string) (core.SendResult, error)
	Statuses() []core.Status
	Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error)
}

// Extension adds routes to the API, authenticated and described like its
// own: app/webhookapi serves /v1/webhooks and GET /v1/events (server-sent
// events) over the outbox through one. Its handlers find the caller's key
// with KeyFrom, and answer with WriteJSON, WriteError and DecodeBody.
type Extension interface {
	Routes() []Route
}

// Config configures Serve.
type Config struct {
	// Addr is host:port; empty: DefaultAddr. Port 0 picks a free port
	// (tests); Server.Addr reports it.
	Addr string
	// AllowRemote allows an address other machines can reach. The API
	// then needs TLS (TLSCert and TLSKey) or Insecure.
	AllowRemote bool
	// TLSCert and TLSKey are PEM files; with them the API speaks HTTPS.
	TLSCert, TLSKey string
	// Insecure accepts plain HTTP on an address other machines can reach:
	// keys and messages then cross the network in clear.
	Insecure bool

	Controller Controller
	Keys       KeyStore
	// Idempotency keeps the answers to Idempotency-Keys across restarts;
	// nil: in memory only, so a retry after a restart sends again.
	Idempotency IdempotencyStore
	// Inbox serves the received messages; nil: that route answers 501.
	Inbox core.Inbox
	// Extensions add routes (the event stream and webhooks).
	Extensions []Extension

	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
	// RateLimit is each key's; the zero value: DefaultRateLimit.
	RateLimit RateLimit
	// MaxBody bounds request bodies, in bytes; 0: DefaultMaxBody.
	MaxBody int64
}

// Server serves the API.
type Server struct {
	ctl     Controller
	keys    KeyStore
	inbox   core.Inbox
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	routes  []Route
	doc     []byte // the OpenAPI document, JSON
	mux     *http.ServeMux
	limits  *limiter
	idem    *idempotency
	touch   *toucher

	srv    *http.Server
	ln     net.Listener
	served chan struct{} // closed when srv.Serve returned

	closeOnce sync.Once
	closeErr  error
}

// Serve starts the API and returns once it listens, so that a bad or busy
// address is an error at once. Close stops it.
func Serve(cfg Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := listen(cfg)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	// Close cancels the requests' contexts, so that a stream (an
	// extension's server-sent events) ends; a send in flight does not use
	// its request's context and completes.
	base, cancel := context.WithCancel(context.Background())
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	s.srv.RegisterOnShutdown(cancel)
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the API server stopped", "addr", s.Addr(), "err", err)
		}
	}()
	s.logStart(cfg)
	return s, nil
}

// newServer checks cfg and builds the routes, the mux and the document.
func newServer(cfg Config) (*Server, error) {
	if cfg.Controller == nil || cfg.Keys == nil {
		return nil, errors.New("api: Serve needs a Controller and a KeyStore")
	}
	s := &Server{
		ctl:     cfg.Controller,
		keys:    cfg.Keys,
		inbox:   cfg.Inbox,
		log:     cfg.Logger,
		now:     cfg.Now,
		maxBody: cfg.MaxBody,
		mux:     http.NewServeMux(),
		limits:  newLimiter(cfg.RateLimit),
		idem:    newIdempotency(cfg.Idempotency, cfg.Logger),
		served:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	s.touch = &toucher{keys: s.keys, log: s.log, last: make(map[string]time.Time)}
	s.routes = s.table()
	for _, ext := range cfg.Extensions {
		s.routes = append(s.routes, ext.Routes()...)
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Path, s.wrap(rt))
	}
	doc, err := document(s.routes)
	if err != nil {
		return nil, err
	}
	s.doc = doc
	return s, nil
}

// listen binds cfg.Addr and enforces the remote-access rules on the address
// actually bound: a host name could resolve to more than loopback.
func listen(cfg Config) (net.Listener, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("serve the API: a TLS certificate and its key go together; give both or neither")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("serve the API on %s: the port is already in use by another program (another Warden?); choose another port: %w", addr, err)
		}
		return nil, fmt.Errorf("serve the API on %s: %w", addr, err)
	}
	if err := checkReach(ln, cfg); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if cfg.TLSCert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("serve the API: load the TLS certificate %s and key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// Errors of Serve callers branch on.
var (
	// ErrNotLoopback is wrapped when the address is reachable from other
	// machines and remote access is not allowed.
	ErrNotLoopback = errors.New("the API address is reachable from other machines")
	// ErrNoTLS is wrapped when remote access is allowed without TLS and
	// without an explicit insecure.
	ErrNoTLS = errors.New("the API would be reachable from other machines without TLS")
)

// checkReach refuses an address other machines can reach unless remote
// access is allowed, and then unless TLS or an explicit insecure.
func checkReach(ln net.Listener, cfg Config) error {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return nil
	}
	switch {
	case !cfg.AllowRemote:
		return fmt.Errorf("%w: it listens on %s; use %s, or allow remote access to the API", ErrNotLoopback, tcp.IP, DefaultAddr)
	case cfg.TLSCert == "" && !cfg.Insecure:
		return fmt.Errorf("%w: give a certificate and key, or accept plain HTTP explicitly (insecure)", ErrNoTLS)
	}
	return nil
}

// logStart says where the API listens, and warns when other machines can
// reach it.
func (s *Server) logStart(cfg Config) {
	tcp, _ := s.ln.Addr().(*net.TCPAddr)
	switch {
	case tcp != nil && tcp.IP.IsLoopback():
		s.log.Info("serving the HTTP API", "addr", s.Addr(), "tls", cfg.TLSCert != "")
	case cfg.TLSCert == "":
		s.log.Warn("the HTTP API is served to other machines over plain HTTP: keys and messages cross the network in clear", "addr", s.Addr())
	default:
		s.log.Warn("the HTTP API is served to other machines, over TLS", "addr", s.Addr())
	}
}

// Addr returns the address the server listens on, with the port it got.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it stops listening, cancels the requests'
// contexts (streams end), lets the requests in flight finish (a send waits
// for its ack) until ctx ends, then drops them. It is safe to call twice.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			_ = s.srv.Close()
			err = fmt.Errorf("stop the API server: %w", err)
		}
		<-s.served
		s.closeErr = err
	})
	return s.closeErr
}
