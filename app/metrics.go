package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"warden/core"
	"warden/core/metrics"
)

// The metrics endpoint for ops tools (Prometheus metrics and /healthz, see
// core/metrics) is off unless the operator asks: --metrics ADDR for one run,
// or Settings › Metrics for every run. It listens on this machine only,
// unless remote access is allowed explicitly (--metrics-allow-remote, or the
// Settings check box), and then Warden warns in its log. --metrics wins over
// the settings for its run, even when they are saved during it. Changing the address
// in Settings restarts the endpoint, whose counters start again from zero.

type metricsEndpoint struct {
	svc *services
	// fromFlag is set when --metrics chose the address: the settings' one
	// then waits for a run without the flag.
	fromFlag bool

	mu          sync.Mutex
	srv         *metrics.Server
	addr        string // as asked for; "" when off
	allowRemote bool
}

// start serves on addr (stopping what ran before); "" turns it off.
func (e *metricsEndpoint) start(addr string, allowRemote bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil && addr == e.addr && allowRemote == e.allowRemote {
		return nil
	}
	e.stopLocked()
	if addr == "" {
		return nil
	}
	loopback, err := core.CheckMetricsAddr(addr, allowRemote)
	if err != nil {
		return err
	}
	opts := metrics.Options{Addr: addr, AllowRemote: allowRemote, Logger: e.svc.log}
	if e.svc.fleet != nil {
		fleet := e.svc.fleet.fleet
		opts.Runs = fleet.Runs
	}
	srv, err := metrics.Serve(e.svc.manager, opts)
	if err != nil {
		return err
	}
	e.srv, e.addr, e.allowRemote = srv, addr, allowRemote
	if !loopback {
		e.svc.log.Warn("the metrics endpoint is reachable from other machines: anyone who can reach it sees every account's name and state",
			"addr", srv.Addr())
	}
	e.svc.log.Info("serving metrics", "url", fmt.Sprintf("http://%s/metrics", srv.Addr()), "healthz", fmt.Sprintf("http://%s/healthz", srv.Addr()))
	return nil
}

// boundAddr is where it listens, "" when off.
func (e *metricsEndpoint) boundAddr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return ""
	}
	return e.srv.Addr()
}

func (e *metricsEndpoint) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopLocked()
}

func (e *metricsEndpoint) stopLocked() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.srv.Close(ctx); err != nil {
		e.svc.log.Warn("closing the metrics endpoint", "err", err)
	}
	e.srv, e.addr = nil, ""
}
