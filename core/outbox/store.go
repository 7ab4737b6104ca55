package outbox

import (
	"context"
	"slices"
	"time"

	"warden/core"
)

// Store keeps the outbox durably. core/store implements it in Warden's bbolt
// file. A nil error from a write means it is committed and synced.
type Store interface {
	// AppendOutbox stores the events whose ID it does not hold yet, each
	// under the next Seq, and sets the timeline cursors given (nil: none),
	// in one commit. It returns the events it stored, with their Seq; an
	// event it already held is left out.
	AppendOutbox(ctx context.Context, evs []Event, cursors map[core.AccountID]uint64) ([]Event, error)
	// OutboxEvents returns the events with a Seq above after, oldest first,
	// at most limit.
	OutboxEvents(ctx context.Context, after uint64, limit int) ([]Event, error)
	// OutboxAccountEvents is OutboxEvents for one account's events.
	OutboxAccountEvents(ctx context.Context, id core.AccountID, after uint64, limit int) ([]Event, error)
	// OutboxLastSeq returns the last Seq given (0: none yet).
	OutboxLastSeq(ctx context.Context) (uint64, error)
	// OutboxAccounts lists the accounts the outbox holds events of.
	OutboxAccounts(ctx context.Context) ([]core.AccountID, error)
	// TimelineCursors returns each account's timeline cursor (the last
	// timeline Seq turned into events), and whether any were ever set.
	TimelineCursors(ctx context.Context) (cursors map[core.AccountID]uint64, set bool, err error)

	// PutWebhook stores a webhook, new or changed. A new one's After is
	// set to the last Seq, in the same commit, and returned.
	PutWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// Webhooks returns every webhook, with its secret.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook removes a webhook, its lanes and its failures.
	DeleteWebhook(ctx context.Context, id string) error
	// WebhookLanes returns the webhook's stored lanes.
	WebhookLanes(ctx context.Context, webhook string) ([]Lane, error)
	// PutWebhookLanes stores lanes and failures in one commit. Those of a
	// deleted webhook are not stored.
	PutWebhookLanes(ctx context.Context, lanes []Lane, failed []Failure) error
	// WebhookFailures returns the webhook's failed deliveries, oldest first.
	WebhookFailures(ctx context.Context, webhook string) ([]Failure, error)
	// PutWebhookFailure stores a failure again (after a retry failed).
	PutWebhookFailure(ctx context.Context, f Failure) error
	// DeleteWebhookFailure removes the failure of the event of Seq seq.
	DeleteWebhookFailure(ctx context.Context, webhook string, seq uint64) error
	// PruneOutbox deletes the events older than before that every webhook
	// that wants them is done with, and the failures older than
	// failedBefore. It deletes a bounded chunk, says how many of each, and
	// whether more may be due.
	PruneOutbox(ctx context.Context, before, failedBefore time.Time) (events, failures int, more bool, err error)
}

// Webhook is a receiver of events: an HTTP(S) URL Warden POSTs each event to.
type Webhook struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// Accounts, when not empty, limits the webhook to these accounts' events.
	Accounts []core.AccountID `json:"accounts,omitempty"`
	// Types, when not empty, limits the webhook to events of these types.
	Types []string `json:"types,omitempty"`
	// Secret signs the deliveries (see Sign). It is shown once, by Create;
	// Webhooks leaves it out.
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
	// After is the outbox Seq when the webhook was created: it gets the
	// events after it.
	After uint64 `json:"after"`
}

// Wants reports whether the webhook takes ev.
func (w Webhook) Wants(ev Event) bool {
	return w.WantsAccount(ev.Account) && (len(w.Types) == 0 || slices.Contains(w.Types, ev.Type))
}

// WantsAccount reports whether the webhook takes events of the account.
func (w Webhook) WantsAccount(id core.AccountID) bool {
	return len(w.Accounts) == 0 || slices.Contains(w.Accounts, id)
}

// Lane is where one webhook is in one account's events: they go in order,
// each once the previous one was delivered or failed for good.
type Lane struct {
	Webhook string         `json:"webhook"`
	Account core.AccountID `json:"account"`
	// Cursor is the Seq of the last event done with: delivered, failed
	// for good, or not wanted.
	Cursor uint64 `json:"cursor"`
	// Attempts counts the failed attempts at the next event, since
	// FirstFailure.
	Attempts     int       `json:"attempts,omitempty"`
	FirstFailure time.Time `json:"first_failure,omitzero"`
	// Last is the result of the lane's last attempt.
	Last Result `json:"last,omitzero"`
}

// Result is the outcome of one delivery attempt.
type Result struct {
	At      time.Time `json:"at"`
	EventID string    `json:"event_id"`
	// Status is the receiver's HTTP status; 0 when there was no answer.
	Status int `json:"status,omitempty"`
	// Error says why the attempt failed; "" when it succeeded.
	Error string `json:"error,omitempty"`
}

// OK reports whether the attempt delivered the event.
func (r Result) OK() bool { return r.Error == "" && !r.At.IsZero() }

// Failure is an event a webhook could not take within the retry window. It
// is kept, with a copy of the event, until it is retried or pruned.
type Failure struct {
	Webhook      string    `json:"webhook"`
	Event        Event     `json:"event"`
	Seq          uint64    `json:"seq"` // Event.Seq, which Event's JSON leaves out
	Attempts     int       `json:"attempts"`
	FirstFailure time.Time `json:"first_failure"`
	FailedAt     time.Time `json:"failed_at"`
	Last         Result    `json:"last"`
}
