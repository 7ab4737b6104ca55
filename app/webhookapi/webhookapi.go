// Package webhookapi adds the webhooks and the live event stream to the
// HTTP API: /v1/webhooks and GET /v1/events (Server-Sent Events), through
// an api.Extension over the outbox.
//
// Why a package of its own under app/: core/api is an adapter and core/store
// (an adapter too) imports core/outbox, so core/outbox may not import
// core/api (core/store would then reach core/api through it, which
// core/adapters_test.go forbids), and core/api's own tests may not open the
// bbolt store a real outbox needs. Here, beside app/ which wires
// everything, the routes import both core/api and core/outbox, and their
// tests run over a real outbox on a real bbolt file, with -race.
//
// The routes depend on Outbox, an interface *outbox.Outbox satisfies,
// whichever store holds it: Warden's file, or a fleet's PostgreSQL.
package webhookapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/outbox"
)

// Outbox is what the routes need of the outbox: *outbox.Outbox implements it.
type Outbox interface {
	Create(ctx context.Context, w outbox.Webhook) (outbox.Webhook, error)
	Webhooks(ctx context.Context) ([]outbox.WebhookInfo, error)
	Webhook(ctx context.Context, id string) (outbox.WebhookInfo, error)
	Delete(ctx context.Context, id string) error
	Test(ctx context.Context, id string) (outbox.Result, error)
	Failures(ctx context.Context, id string) ([]outbox.Failure, error)
	Retry(ctx context.Context, webhookID, eventID string) (outbox.Result, error)
	RetryFailed(ctx context.Context, webhookID string) (int, error)
	Subscribe(ctx context.Context, after uint64) (<-chan outbox.Event, error)
}

var _ Outbox = (*outbox.Outbox)(nil)

// Accounts lists the accounts, to refuse a webhook for one that does not
// exist: core.Manager, or a fleet's Console.
type Accounts interface {
	Statuses() []core.Status
}

// DefaultKeepAlive is how often an idle event stream gets a comment, so
// that proxies and clients see it alive.
const DefaultKeepAlive = 15 * time.Second

// writeTimeout bounds one write to an event stream: a client that stopped
// reading is dropped, and resumes with Last-Event-ID.
const writeTimeout = time.Minute

// maxAccounts bounds a webhook's list of accounts.
const maxAccounts = 1000

// Extension serves the webhooks and the event stream.
type Extension struct {
	// Outbox holds the webhooks and the events. Required.
	Outbox Outbox
	// Accounts, when set, refuses a webhook naming an unknown account.
	Accounts Accounts
	// KeepAlive is the idle stream's comment interval; 0: DefaultKeepAlive.
	KeepAlive time.Duration
	Logger    *slog.Logger // nil: discard
}

var _ api.Extension = (*Extension)(nil)

// The access rules, in the document's words.
const (
	hookAccess = "Needs a key that may operate (not read-only): a webhook's URL may carry the receiver's own credentials. " +
		"A key limited to some accounts sees and manages only the webhooks limited to those accounts; any other is 404 to it."
	createAccess = hookAccess + " Such a key's new webhook gets its accounts when the body names none, and 403 when it names another. " +
		"The URL is http:// or https://, with a host, without user or password and without #fragment (422 otherwise); " +
		"plain http:// to another machine than this one is accepted with a warning, since the events then cross the network in clear. " +
		"The secret signs every delivery (Warden-Signature: v1=HMAC-SHA256(secret, Warden-Timestamp + \".\" + body)) and is shown only in this answer."
	streamAccess = "Server-Sent Events: each event is `id: <seq>`, `event: <type>`, `data: <the JSON a webhook delivery carries: {\"id\",\"type\",\"account\",\"time\",\"data\"}>`. " +
		"Resume after the last id seen with the Last-Event-ID header (or ?after= for clients that cannot set it): the stream gives exactly the events after it. " +
		"Without either it starts at the oldest event kept (7 days). Only the events of the key's accounts are sent; read-only keys may stream. " +
		"An idle stream gets a comment line every 15 seconds. The stream ends when Warden stops; reconnect with Last-Event-ID."
)

// Routes implements api.Extension. The webhook routes name their webhook
// {webhook}, not {id}: the API reads {id} as an account.
func (e *Extension) Routes() []api.Route {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.KeepAlive <= 0 {
		e.KeepAlive = DefaultKeepAlive
	}
	one := func(desc string, s api.Schema) map[int]api.Response {
		return map[int]api.Response{http.StatusOK: {Description: desc, Schema: s}}
	}
	return []api.Route{
		{Method: http.MethodPost, Path: "/v1/webhooks", ID: "createWebhook", Summary: "register a webhook", Description: createAccess, Write: true,
			Body:      createSchema,
			Responses: map[int]api.Response{http.StatusCreated: {Description: "the webhook, with its secret, shown this once", Schema: createdSchema}},
			Handler:   http.HandlerFunc(e.create)},
		{Method: http.MethodGet, Path: "/v1/webhooks", ID: "listWebhooks", Summary: "list the webhooks", Description: hookAccess, Write: true,
			Responses: one("the webhooks the key may see, oldest first, without their secrets", object([]string{"webhooks"}, map[string]api.Schema{"webhooks": list(webhookSchema)})),
			Handler:   http.HandlerFunc(e.list)},
		{Method: http.MethodGet, Path: "/v1/webhooks/{webhook}", ID: "getWebhook", Summary: "read a webhook and how its deliveries go", Description: hookAccess, Write: true,
			Responses: one("the webhook, without its secret", webhookSchema), Handler: http.HandlerFunc(e.get)},
		{Method: http.MethodDelete, Path: "/v1/webhooks/{webhook}", ID: "deleteWebhook", Summary: "remove a webhook", Description: hookAccess, Write: true,
			Responses: one("removed, with its pending and failed deliveries", object([]string{"id", "deleted"}, map[string]api.Schema{"id": text("the webhook's id"), "deleted": boolean("always true")})),
			Handler:   http.HandlerFunc(e.delete)},
		{Method: http.MethodPost, Path: "/v1/webhooks/{webhook}/test", ID: "testWebhook", Summary: "send a webhook.test event to a webhook now", Description: hookAccess + " The test event is posted once, signed, and neither stored nor retried.", Write: true,
			Responses: one("how the receiver answered", resultSchema), Handler: http.HandlerFunc(e.test)},
		{Method: http.MethodGet, Path: "/v1/webhooks/{webhook}/failures", ID: "listWebhookFailures", Summary: "list the events a webhook failed to take for a day", Description: hookAccess, Write: true,
			Responses: one("the failed deliveries, oldest first", object([]string{"failures"}, map[string]api.Schema{"failures": list(failureSchema)})),
			Handler:   http.HandlerFunc(e.failures)},
		{Method: http.MethodPost, Path: "/v1/webhooks/{webhook}/failures/retry", ID: "retryWebhookFailures", Summary: "retry every failed delivery of a webhook, once, now", Description: hookAccess, Write: true,
			Responses: one("how many were delivered and how many are still failed", retriedSchema), Handler: http.HandlerFunc(e.retryAll)},
		{Method: http.MethodPost, Path: "/v1/webhooks/{webhook}/failures/{event}/retry", ID: "retryWebhookFailure", Summary: "retry one failed delivery, once, now", Description: hookAccess + " {event} is the event's id.", Write: true,
			Responses: one("how the receiver answered; taken, it is no longer a failure", resultSchema), Handler: http.HandlerFunc(e.retryOne)},
		{Method: http.MethodGet, Path: "/v1/events", ID: "streamEvents", Summary: "follow the events live (Server-Sent Events)", Description: streamAccess,
			Headers: []api.Param{{Name: "Last-Event-ID", Description: "resume after this event's id (its seq)", Schema: api.Schema{"type": "string", "pattern": "^[0-9]+$"}}},
			Query: []api.Param{
				{Name: "after", Description: "resume after this seq, for clients that cannot send Last-Event-ID (the header wins)", Schema: api.Schema{"type": "integer", "minimum": 0}},
				{Name: "types", Description: "only these event types, comma-separated: " + strings.Join(outbox.Types, ", "), Schema: api.Schema{"type": "string"}},
			},
			Responses: map[int]api.Response{http.StatusOK: {Description: "the stream of events", ContentType: "text/event-stream", Schema: api.Schema{"type": "string"}}},
			Handler:   http.HandlerFunc(e.stream)},
	}
}

// key is the caller's API key; the API authenticated it.
func key(r *http.Request) core.APIKey {
	k, _ := api.KeyFrom(r.Context())
	return k
}

// visible reports whether the key may see the webhook: every webhook for a
// key of every account; for a key limited to accounts, the webhooks limited
// to some of them.
func visible(k core.APIKey, accounts []core.AccountID) bool {
	if len(k.Accounts) == 0 {
		return true
	}
	if len(accounts) == 0 {
		return false
	}
	for _, id := range accounts {
		if !k.Allows(id) {
			return false
		}
	}
	return true
}

// createRequest is the body of POST /v1/webhooks.
type createRequest struct {
	URL      string           `json:"url"`
	Accounts []core.AccountID `json:"accounts"`
	Events   []string         `json:"events"`
}

func (e *Extension) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !api.DecodeBody(w, r, &req) {
		return
	}
	k := key(r)
	if len(req.Accounts) > maxAccounts {
		api.WriteError(w, http.StatusUnprocessableEntity, "invalid_webhook", fmt.Sprintf("a webhook names at most %d accounts; leave accounts out for all of them", maxAccounts))
		return
	}
	accounts := dedupe(req.Accounts)
	if len(accounts) == 0 && len(k.Accounts) > 0 {
		accounts = slices.Clone(k.Accounts) // a limited key's webhook is limited alike
	}
	for _, id := range accounts {
		if !k.Allows(id) {
			api.WriteError(w, http.StatusForbidden, "account_not_allowed", "this API key is not allowed to use account "+string(id)+": its webhooks may name only its own accounts")
			return
		}
	}
	if rep := e.checkAccounts(accounts); rep != "" {
		api.WriteError(w, http.StatusUnprocessableEntity, "unknown_account", rep)
		return
	}
	hook, err := e.Outbox.Create(r.Context(), outbox.Webhook{URL: strings.TrimSpace(req.URL), Accounts: accounts, Types: dedupe(req.Events)})
	if err != nil {
		e.failure(w, err)
		return
	}
	view := created{webhookView: viewOf(outbox.WebhookInfo{Webhook: hook}), Secret: hook.Secret, Warning: outbox.URLWarning(hook.URL)}
	api.WriteJSON(w, http.StatusCreated, view)
}

// checkAccounts says which account does not exist, or "".
func (e *Extension) checkAccounts(ids []core.AccountID) string {
	if e.Accounts == nil || len(ids) == 0 {
		return ""
	}
	known := map[core.AccountID]bool{}
	for _, st := range e.Accounts.Statuses() {
		known[st.Account.ID] = true
	}
	for _, id := range ids {
		if !known[id] {
			return "no account " + string(id) + " (GET /v1/accounts lists them)"
		}
	}
	return ""
}

func (e *Extension) list(w http.ResponseWriter, r *http.Request) {
	hooks, err := e.Outbox.Webhooks(r.Context())
	if err != nil {
		e.failure(w, err)
		return
	}
	k := key(r)
	out := []webhookView{}
	for _, h := range hooks {
		if visible(k, h.Accounts) {
			out = append(out, viewOf(h))
		}
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Webhooks []webhookView `json:"webhooks"`
	}{out})
}

// webhook returns the request's {webhook}, or answers 404 when there is
// none the key may see.
func (e *Extension) webhook(w http.ResponseWriter, r *http.Request) (outbox.WebhookInfo, bool) {
	id := r.PathValue("webhook")
	h, err := e.Outbox.Webhook(r.Context(), id)
	if err == nil && !visible(key(r), h.Accounts) {
		err = fmt.Errorf("%w: %s", outbox.ErrUnknownWebhook, id)
	}
	if err != nil {
		e.failure(w, err)
		return outbox.WebhookInfo{}, false
	}
	return h, true
}

func (e *Extension) get(w http.ResponseWriter, r *http.Request) {
	if h, ok := e.webhook(w, r); ok {
		api.WriteJSON(w, http.StatusOK, viewOf(h))
	}
}

func (e *Extension) delete(w http.ResponseWriter, r *http.Request) {
	h, ok := e.webhook(w, r)
	if !ok {
		return
	}
	if err := e.Outbox.Delete(r.Context(), h.ID); err != nil {
		e.failure(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{h.ID, true})
}

func (e *Extension) test(w http.ResponseWriter, r *http.Request) {
	h, ok := e.webhook(w, r)
	if !ok {
		return
	}
	res, err := e.Outbox.Test(r.Context(), h.ID)
	if err != nil {
		e.failure(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, resultOf(res))
}

func (e *Extension) failures(w http.ResponseWriter, r *http.Request) {
	h, ok := e.webhook(w, r)
	if !ok {
		return
	}
	fails, err := e.Outbox.Failures(r.Context(), h.ID)
	if err != nil {
		e.failure(w, err)
		return
	}
	out := make([]failureView, len(fails))
	for i, f := range fails {
		out[i] = failureView{Event: f.Event, Attempts: f.Attempts, FirstFailure: f.FirstFailure, FailedAt: f.FailedAt, Last: resultOf(f.Last)}
	}
	api.WriteJSON(w, http.StatusOK, struct {
		Failures []failureView `json:"failures"`
	}{out})
}

func (e *Extension) retryAll(w http.ResponseWriter, r *http.Request) {
	h, ok := e.webhook(w, r)
	if !ok {
		return
	}
	delivered, err := e.Outbox.RetryFailed(r.Context(), h.ID)
	if err != nil && !errors.Is(err, outbox.ErrDeliveryFailed) {
		e.failure(w, err)
		return
	}
	left, lerr := e.Outbox.Failures(r.Context(), h.ID)
	if lerr != nil {
		e.failure(w, lerr)
		return
	}
	view := retried{Delivered: delivered, Failed: len(left)}
	if err != nil {
		view.Error = err.Error()
	}
	api.WriteJSON(w, http.StatusOK, view)
}

func (e *Extension) retryOne(w http.ResponseWriter, r *http.Request) {
	h, ok := e.webhook(w, r)
	if !ok {
		return
	}
	res, err := e.Outbox.Retry(r.Context(), h.ID, r.PathValue("event"))
	if err != nil && !errors.Is(err, outbox.ErrDeliveryFailed) {
		e.failure(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, resultOf(res))
}

// failure answers an error of the outbox.
func (e *Extension) failure(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, outbox.ErrUnknownWebhook):
		api.WriteError(w, http.StatusNotFound, "unknown_webhook", err.Error()+" (GET /v1/webhooks lists them)")
	case errors.Is(err, outbox.ErrUnknownFailure):
		api.WriteError(w, http.StatusNotFound, "unknown_failure", err.Error()+" (GET /v1/webhooks/{webhook}/failures lists them)")
	case errors.Is(err, outbox.ErrInvalidWebhook):
		api.WriteError(w, http.StatusUnprocessableEntity, "invalid_webhook", err.Error())
	case errors.Is(err, outbox.ErrClosed):
		api.WriteError(w, http.StatusServiceUnavailable, "shutting_down", "Warden is stopping; retry once it is back")
	default:
		e.Logger.Error("api: a webhook operation failed", "err", err)
		api.WriteError(w, http.StatusInternalServerError, "internal", "Warden failed to do this; its log says why")
	}
}

// dedupe drops empty and repeated entries, keeping the order.
func dedupe[T ~string](in []T) []T {
	var out []T
	for _, v := range in {
		if v = T(strings.TrimSpace(string(v))); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
