package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
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

// validate checks the webhook's URL and filters.
func (w Webhook) validate() error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: the URL %q is not an http:// or https:// address", ErrInvalidWebhook, w.URL)
	}
	for _, typ := range w.Types {
		if !ValidType(typ) {
			return fmt.Errorf("%w: unknown event type %q", ErrInvalidWebhook, typ)
		}
	}
	return nil
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
