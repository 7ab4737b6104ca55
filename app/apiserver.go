package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"warden/app/webhookapi"
	"warden/core"
	"warden/core/api"
	"warden/core/outbox"
	"warden/core/store"
	"warden/ui"
)

// The HTTP API (core/api) is off unless the operator asks: --api ADDR for
// one run, or Settings › API for every run. Like the metrics, it listens on
// this machine only unless remote access is allowed, and then it wants TLS
// or an explicit insecure. --api wins over the settings for its run, even
// when they are saved during it. Saving Settings › API starts, moves or
// stops it at once; a saved one that cannot be served is logged, shown in
// the window, and the window still opens.

// apiEndpoint is the running API, if any.
type apiEndpoint struct {
	svc *services
	// fromFlag is set when --api chose how to serve: the settings' choice
	// then waits for a run without the flag.
	fromFlag bool

	mu  sync.Mutex
	srv *api.Server
	cfg store.API // as served; cfg.On is false when off
	// problem is why the saved settings are not served (nil: they are, or
	// they say off).
	problem error
}

// keys is the store of the API's keys: in a fleet, the fleet's.
func (s *services) apiKeys() api.KeyStore {
	if s.fleet != nil {
		return s.fleet.store
	}
	return s.db
}

// idempotency keeps the answers to sends with an Idempotency-Key: in a
// fleet, in PostgreSQL, so that every node answers a retry the same.
func (s *services) idempotency() api.IdempotencyStore {
	if s.fleet != nil {
		return s.fleet.store
	}
	return s.db
}

// start serves the API as cfg says (stopping what ran before); a cfg that
// is off stops it. Nothing changes when cfg is what runs already.
func (e *apiEndpoint) start(cfg store.API) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cfg.On && e.srv != nil && cfg == e.cfg {
		return nil
	}
	if !cfg.On {
		e.stopLocked()
		return nil
	}
	// The old server lets go of its port first: a move to another address
	// would not need it, but one that only turns TLS on keeps the port.
	old := e.cfg
	e.stopLocked()
	srv, err := e.serve(cfg)
	if err != nil && old.On {
		// Put back what ran, so that a refused change leaves the API as it was.
		if back, berr := e.serve(old); berr == nil {
			e.srv, e.cfg = back, old
		} else {
			e.svc.log.Error("the HTTP API could not be served again as it was", "addr", old.Addr, "err", berr)
		}
	}
	if err != nil {
		return plainServeError(err, cfg.Addr)
	}
	e.srv, e.cfg = srv, cfg
	return nil
}

// plainServeError says why the API could not listen without the system
// call's wording, which the log keeps: the Settings dialog shows it.
func plainServeError(err error, addr string) error {
	if addr == "" {
		addr = core.DefaultAPIAddr
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("the port of %s is already in use by another program (another Warden?): choose another port: %w", addr, errInUse)
	}
	return err
}

// errInUse keeps the cause of a port in use for errors.Is.
var errInUse = syscall.EADDRINUSE

// serve starts a server as cfg says.
func (e *apiEndpoint) serve(cfg store.API) (*api.Server, error) {
	s := e.svc
	return api.Serve(api.Config{
		Addr: cfg.Addr, AllowRemote: cfg.AllowRemote, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey, Insecure: cfg.Insecure,
		Controller: s.controller(), Keys: s.apiKeys(), Idempotency: s.idempotency(), Inbox: s.inbox, Logger: s.log,
		// The webhooks and the event stream (in a fleet, every node's
		// serve every account's, from PostgreSQL).
		Extensions: []api.Extension{&webhookapi.Extension{Outbox: s.outbox, Accounts: s.controller(), Logger: s.log}},
	})
}

// apply serves the settings' API unless --api chose for this run. A
// refused change leaves the API as it was.
func (e *apiEndpoint) apply(cfg store.API) error {
	if e.fromFlag {
		return nil
	}
	err := e.start(cfg)
	if err == nil {
		e.setProblem(nil)
	}
	return err
}

// setProblem remembers why the saved settings are not served.
func (e *apiEndpoint) setProblem(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.problem = err
}

// startSaved serves the saved settings' API at start: an address that
// cannot be served is logged and remembered for the window, and Warden
// starts anyway.
func (e *apiEndpoint) startSaved(cfg store.API) {
	if !cfg.On {
		return
	}
	if err := e.start(cfg); err != nil {
		e.svc.log.Error("the HTTP API of the settings could not start; change it in Settings › API", "addr", cfg.Addr, "err", err)
		e.setProblem(err)
	}
}

// server is the running server, nil when off.
func (e *apiEndpoint) server() *api.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

// state says where the API is served, for the window.
func (e *apiEndpoint) state() ui.APIState {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := ui.APIState{FromFlag: e.fromFlag && e.srv != nil}
	if e.srv != nil {
		st.Addr, st.TLS = e.srv.Addr(), e.cfg.TLSCert != ""
	}
	if e.problem != nil {
		st.Problem = e.problem.Error()
	}
	return st
}

func (e *apiEndpoint) close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return nil
	}
	err := e.srv.Close(ctx)
	e.srv, e.cfg = nil, store.API{}
	return err
}

func (e *apiEndpoint) stopLocked() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.srv.Close(ctx); err != nil {
		e.svc.log.Warn("closing the HTTP API", "err", err)
	}
	e.srv, e.cfg = nil, store.API{}
	e.svc.log.Info("the HTTP API stopped")
}

// windowAPI is Settings › API's keys and state: ui.API on core/api's keys.
type windowAPI struct{ svc *services }

func (w windowAPI) State() ui.APIState {
	if w.svc.api == nil {
		return ui.APIState{}
	}
	return w.svc.api.state()
}

func (w windowAPI) Keys(ctx context.Context) ([]core.APIKey, error) {
	return w.svc.apiKeys().APIKeys(ctx)
}

func (w windowAPI) CreateKey(ctx context.Context, name string, readOnly bool, accounts []core.AccountID) (core.APIKey, string, error) {
	k, token, err := api.NewKey(name, readOnly, accounts, time.Now())
	if err != nil {
		return core.APIKey{}, "", err
	}
	if err := w.svc.apiKeys().PutAPIKey(ctx, k); err != nil {
		return core.APIKey{}, "", err
	}
	w.svc.log.Info("API key created in the window", "key", k.ID, "name", k.Name, "read_only", k.ReadOnly, "accounts", len(k.Accounts))
	return k, token, nil
}

func (w windowAPI) RevokeKey(ctx context.Context, id string) error {
	if err := w.svc.apiKeys().RevokeAPIKey(ctx, id, time.Now()); err != nil {
		if errors.Is(err, core.ErrUnknownAPIKey) {
			return fmt.Errorf("this key does not exist any more")
		}
		return err
	}
	w.svc.log.Info("API key revoked in the window", "key", id)
	return nil
}

// windowWebhooks is Settings › API's webhooks: ui.Webhooks on the outbox.
type windowWebhooks struct{ o *outbox.Outbox }

// windowHooks returns the window's webhooks: in a fleet, the fleet's.
func (s *services) windowHooks() ui.Webhooks { return windowWebhooks{s.outbox} }

func delivery(r outbox.Result) ui.Delivery {
	return ui.Delivery{At: r.At, EventID: r.EventID, Status: r.Status, Error: r.Error}
}

func uiWebhook(w outbox.Webhook) ui.Webhook {
	return ui.Webhook{ID: w.ID, URL: w.URL, Accounts: w.Accounts, Types: w.Types, Created: w.Created}
}

func (w windowWebhooks) List(ctx context.Context) ([]ui.Webhook, error) {
	infos, err := w.o.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.Webhook, len(infos))
	for i, in := range infos {
		out[i] = uiWebhook(in.Webhook)
		out[i].Last, out[i].Retrying, out[i].Failed = delivery(in.Last), in.Retrying, in.Failed
	}
	return out, nil
}

func (w windowWebhooks) Create(ctx context.Context, url string, accounts []core.AccountID, types []string) (ui.Webhook, string, error) {
	h, err := w.o.Create(ctx, outbox.Webhook{URL: url, Accounts: accounts, Types: types})
	if err != nil {
		return ui.Webhook{}, "", err
	}
	return uiWebhook(h), h.Secret, nil
}

func (w windowWebhooks) Delete(ctx context.Context, id string) error { return w.o.Delete(ctx, id) }

func (w windowWebhooks) Test(ctx context.Context, id string) (ui.Delivery, error) {
	r, err := w.o.Test(ctx, id)
	return delivery(r), err
}

func (w windowWebhooks) Failures(ctx context.Context, id string) ([]ui.FailedDelivery, error) {
	fails, err := w.o.Failures(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]ui.FailedDelivery, len(fails))
	for i, f := range fails {
		out[i] = ui.FailedDelivery{EventID: f.Event.ID, Type: f.Event.Type, Account: f.Event.Account, Time: f.Event.Time,
			Attempts: f.Attempts, FailedAt: f.FailedAt, Last: delivery(f.Last)}
	}
	return out, nil
}

func (w windowWebhooks) Retry(ctx context.Context, webhookID, eventID string) (ui.Delivery, error) {
	r, err := w.o.Retry(ctx, webhookID, eventID)
	return delivery(r), err
}

func (w windowWebhooks) RetryAll(ctx context.Context, webhookID string) (int, error) {
	return w.o.RetryFailed(ctx, webhookID)
}

func (w windowWebhooks) Types() []string { return outbox.Types }

var (
	_ ui.API      = windowAPI{}
	_ ui.Webhooks = windowWebhooks{}
)
