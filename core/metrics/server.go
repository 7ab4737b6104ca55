package metrics

import (
	"context"
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

// Options for Serve.
type Options struct {
	// Addr is host:port, for example "127.0.0.1:9464"; empty:
	// core.DefaultMetricsAddr. core.CheckMetricsAddr checks it.
	// Port 0 picks a free port (tests); Addr reports it.
	Addr string
	// AllowRemote allows an address other machines can reach. Without it, a
	// non-loopback Addr is refused: the metrics and /healthz name accounts and
	// have no authentication.
	AllowRemote bool
	Logger      *slog.Logger // nil: discard
	// Runs, in a fleet, says which accounts this node runs: the gauges and
	// /healthz count only those, so that the fleet's nodes add up. Nil:
	// every account of the Manager.
	Runs func(core.AccountID) bool
}

// Server serves a Manager's metrics and health over HTTP.
type Server struct {
	exp    *exporter
	srv    *http.Server
	ln     net.Listener
	log    *slog.Logger
	served chan struct{} // closed when srv.Serve returned

	closeOnce sync.Once
	closeErr  error
}

// Serve starts the HTTP server for m and returns once it listens, so a bad or
// busy address is an error at once. Its counters start from the timeline
// events after Serve: call it before m.Start. Close stops it.
func Serve(m *core.Manager, opts Options) (*Server, error) {
	if m == nil {
		return nil, errors.New("metrics: Serve needs a Manager")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := opts.Addr
	if addr == "" {
		addr = core.DefaultMetricsAddr
	}
	if _, err := core.CheckMetricsListenAddr(addr, opts.AllowRemote); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("serve metrics on %s: the port is already in use by another program (another Warden?); choose another port: %w", addr, err)
		}
		return nil, fmt.Errorf("serve metrics on %s: %w", addr, err)
	}
	// A host name could resolve to more than loopback: check what was bound.
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && !opts.AllowRemote {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: %s listens on %s; use %s, or allow remote access to the metrics", core.ErrMetricsNotLoopback, addr, tcp.IP, core.DefaultMetricsAddr)
	}

	s := &Server{exp: newExporter(m, log, opts.Runs), ln: ln, log: log, served: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.exp.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the metrics server stopped", "addr", s.Addr(), "err", err)
		}
	}()
	if opts.AllowRemote {
		log.Warn("metrics and health are served to other machines, without authentication", "addr", s.Addr())
	} else {
		log.Info("serving metrics and health", "addr", s.Addr())
	}
	return s, nil
}

// Addr returns the address the server listens on, with the port it got.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it stops listening, lets the requests in flight
// finish until ctx ends (then drops them), and stops reading the Manager's
// events. It is safe to call twice.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		err := s.srv.Shutdown(ctx)
		if err != nil {
			_ = s.srv.Close()
			err = fmt.Errorf("stop the metrics server: %w", err)
		}
		<-s.served
		s.exp.close()
		s.closeErr = err
	})
	return s.closeErr
}
