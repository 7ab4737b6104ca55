package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// TypeTest is the type of the event Test sends; it is never stored.
const TypeTest = "webhook.test"

// WebhookInfo is a webhook as an operator sees it: without its secret, with
// how its deliveries go.
type WebhookInfo struct {
	Webhook
	// Last is the result of its newest delivery attempt (zero: none yet).
	Last Result `json:"last,omitzero"`
	// Retrying counts the accounts whose next event failed and waits for
	// another attempt.
	Retrying int `json:"retrying"`
	// Failed counts the events it failed for good, to retry.
	Failed int `json:"failed"`
}

// Create registers a webhook: w's URL, and its Accounts and Types filters.
// It gets the events stored from now on. The returned webhook holds its
// new ID and its Secret, which is shown this once.
func (o *Outbox) Create(ctx context.Context, w Webhook) (Webhook, error) {
	if err := w.validate(); err != nil {
		return Webhook{}, err
	}
	w.ID, w.Secret, w.Created, w.After = "wh_"+randomHex(8), "whsec_"+randomHex(32), o.cfg.Now().UTC(), 0
	o.mu.Lock()
	closed := o.closed
	o.mu.Unlock()
	if closed {
		return Webhook{}, ErrClosed
	}
	w, err := o.store.PutWebhook(ctx, w)
	if err != nil {
		return Webhook{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return w, nil // stored: it runs after the next Open
	}
	o.startHook(w, nil)
	return w, nil
}

// MaxURL is the longest webhook URL, in bytes.
const MaxURL = 2048

// validate checks the webhook's URL and filters.
func (w Webhook) validate() error {
	if err := CheckURL(w.URL); err != nil {
		return err
	}
	for _, typ := range w.Types {
		if !ValidType(typ) {
			return fmt.Errorf("%w: unknown event type %q; the types are %s", ErrInvalidWebhook, typ, strings.Join(Types, ", "))
		}
	}
	return nil
}

// CheckURL checks a webhook's URL: http:// or https://, with a host, no
// user or password (the secret signs the deliveries; a password in the URL
// would be shown wherever the URL is) and no #fragment (never sent). The
// error wraps ErrInvalidWebhook and says what to change.
func CheckURL(raw string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: the URL %q %s", ErrInvalidWebhook, raw, why)
	}
	switch {
	case raw == "":
		return fmt.Errorf("%w: give the receiver's URL, http:// or https://", ErrInvalidWebhook)
	case len(raw) > MaxURL:
		return fmt.Errorf("%w: the URL is %d bytes long, at most %d", ErrInvalidWebhook, len(raw), MaxURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("is not an http:// or https:// address")
	case u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("holds a user or password; remove it: the deliveries are signed with the webhook's secret instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("has a #fragment, which is never sent; remove it")
	}
	return nil
}

// URLWarning returns what an operator should know of a valid webhook URL,
// or "": plain http:// to another machine carries the events (the messages'
// text) over the network in clear. Such a URL is accepted, with this
// warning: a receiver on the business's own network often has no
// certificate, and the signature still proves each delivery is Warden's.
func URLWarning(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return "plain http:// to " + host + ": the events, messages' text included, cross the network unencrypted; use https:// unless the network is trusted"
}

// Webhook returns the webhook id, without its secret.
func (o *Outbox) Webhook(ctx context.Context, id string) (WebhookInfo, error) {
	hooks, err := o.Webhooks(ctx)
	if err != nil {
		return WebhookInfo{}, err
	}
	i := slices.IndexFunc(hooks, func(w WebhookInfo) bool { return w.ID == id })
	if i < 0 {
		return WebhookInfo{}, fmt.Errorf("%w: %s", ErrUnknownWebhook, id)
	}
	return hooks[i], nil
}

// Webhooks returns the webhooks, without their secrets.
func (o *Outbox) Webhooks(ctx context.Context) ([]WebhookInfo, error) {
	hooks, err := o.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookInfo, len(hooks))
	for i, w := range hooks {
		w.Secret = ""
		out[i] = WebhookInfo{Webhook: w}
		o.mu.Lock()
		h := o.hooks[w.ID]
		o.mu.Unlock()
		switch {
		case o.fleet != nil:
			// Each node delivers its own accounts: the stored lanes
			// hold every node's last attempts.
			lanes, err := o.store.WebhookLanes(ctx, w.ID)
			if err != nil {
				return nil, err
			}
			for _, l := range lanes {
				if l.Last.At.After(out[i].Last.At) {
					out[i].Last = l.Last
				}
				if l.Attempts > 0 {
					out[i].Retrying++
				}
			}
		case h != nil:
			out[i].Last, out[i].Retrying = h.info()
		}
		failed, err := o.store.WebhookFailures(ctx, w.ID)
		if err != nil {
			return nil, err
		}
		out[i].Failed = len(failed)
	}
	slices.SortFunc(out, func(a, b WebhookInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Delete stops a webhook's deliveries and removes it, its lanes and its
// failures.
func (o *Outbox) Delete(ctx context.Context, id string) error {
	w, err := o.webhook(ctx, id)
	if err != nil {
		return err
	}
	o.mu.Lock()
	if h := o.hooks[w.ID]; h != nil {
		h.cancel()
		delete(o.hooks, w.ID)
	}
	if o.fleet != nil {
		o.fleet.deleted[w.ID] = true // the poll may have read it still stored
	}
	o.mu.Unlock()
	return o.store.DeleteWebhook(ctx, w.ID)
}

// webhook returns the stored webhook id, with its secret.
func (o *Outbox) webhook(ctx context.Context, id string) (Webhook, error) {
	hooks, err := o.store.Webhooks(ctx)
	if err != nil {
		return Webhook{}, err
	}
	i := slices.IndexFunc(hooks, func(w Webhook) bool { return w.ID == id })
	if i < 0 {
		return Webhook{}, fmt.Errorf("%w: %s", ErrUnknownWebhook, id)
	}
	return hooks[i], nil
}

// Test posts a webhook.test event to the webhook now, once, and returns how
// it went. The event is not stored and not retried.
func (o *Outbox) Test(ctx context.Context, id string) (Result, error) {
	w, err := o.webhook(ctx, id)
	if err != nil {
		return Result{}, err
	}
	data, _ := json.Marshal(map[string]string{"webhook": w.ID}) // a map of strings always encodes
	ev := Event{ID: "test:" + randomHex(8), Type: TypeTest, Time: o.cfg.Now().UTC(), Data: data}
	return o.post(ctx, w, ev), nil
}

// Failures returns the events the webhook failed for good, oldest first.
func (o *Outbox) Failures(ctx context.Context, id string) ([]Failure, error) {
	if _, err := o.webhook(ctx, id); err != nil {
		return nil, err
	}
	return o.store.WebhookFailures(ctx, id)
}

// ErrDeliveryFailed is returned (wrapped, with the receiver's answer) by a
// retry the receiver did not take.
var ErrDeliveryFailed = errors.New("the webhook did not take the event")

// Retry posts the failed event eventID to the webhook once, now. Taken, it is
// no longer a failure; refused, it stays one, with this attempt counted, and
// the error wraps ErrDeliveryFailed. A retried event arrives after events of
// its account that came later.
func (o *Outbox) Retry(ctx context.Context, webhookID, eventID string) (Result, error) {
	w, err := o.webhook(ctx, webhookID)
	if err != nil {
		return Result{}, err
	}
	failed, err := o.store.WebhookFailures(ctx, w.ID)
	if err != nil {
		return Result{}, err
	}
	i := slices.IndexFunc(failed, func(f Failure) bool { return f.Event.ID == eventID })
	if i < 0 {
		return Result{}, fmt.Errorf("%w: %s of webhook %s", ErrUnknownFailure, eventID, w.ID)
	}
	return o.retry(ctx, w, failed[i])
}

// RetryFailed retries every failed event of the webhook, oldest first, and
// says how many it delivered; the error is the first refusal's.
func (o *Outbox) RetryFailed(ctx context.Context, webhookID string) (delivered int, err error) {
	w, err := o.webhook(ctx, webhookID)
	if err != nil {
		return 0, err
	}
	failed, err := o.store.WebhookFailures(ctx, w.ID)
	if err != nil {
		return 0, err
	}
	var first error
	for _, f := range failed {
		if _, err := o.retry(ctx, w, f); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		delivered++
	}
	return delivered, first
}

// retry makes one attempt at a failure and stores its outcome.
func (o *Outbox) retry(ctx context.Context, w Webhook, f Failure) (Result, error) {
	res := o.post(ctx, w, f.Event)
	if res.OK() {
		return res, o.store.DeleteWebhookFailure(ctx, w.ID, f.Seq)
	}
	f.Attempts++
	f.Last = res
	if err := o.store.PutWebhookFailure(ctx, f); err != nil {
		return res, err
	}
	return res, fmt.Errorf("retry %s: %w: %s", f.Event.ID, ErrDeliveryFailed, res.Error)
}
