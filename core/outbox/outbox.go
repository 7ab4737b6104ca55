// Package outbox delivers Warden's events to the business's software: every
// message an account receives, every message it sent that WhatsApp
// acknowledged or the recipient got or read, and every change of an
// account's state.
// Each event is stored before anything else happens to it, then POSTed,
// signed, to each webhook that wants it (at least once, in order per
// account), and offered to event streams (Subscribe) that resume after the
// last event they saw.
//
// Where events come from, and why none is lost or doubled:
//
//   - message.received: the Manager's inbox is Outbox.Inbox, which stores
//     each message's event in the commit that stores the message, before
//     WhatsApp gets its receipt: no crash leaves a message without its
//     event. The event's ID is the account's and the message's inbox Seq.
//     (Handing the stored message over afterwards, idempotently, would hold
//     too, since WhatsApp delivers again a message whose receipt a crash
//     withheld; but one commit instead of two is what lets 200 accounts
//     keep up with 2,000 messages a second: see BENCHMARKS.md.)
//   - every other type: Follow reads the Manager's timeline. It keeps, per
//     account, a durable cursor (the last timeline Seq it turned into
//     events), stored in the same commit as the events. At start it catches
//     up from the stored timeline, then follows the live one, filling any gap
//     from the store. Event IDs are the account's and the timeline Seq.
//
// Every event gets a Seq in the outbox, one order for all accounts: it is
// what a stream resumes after (the Server-Sent Events id, Last-Event-ID).
//
// Delivery: each webhook has a lane per account, one goroutine delivering
// that account's events one after another. A failed attempt (no answer
// within AttemptTimeout, a status other than 2xx, a redirect) is tried again
// after a backoff that doubles from MinBackoff to MaxBackoff, with jitter,
// for RetryWindow; then the event is kept as a Failure of the webhook, which
// an operator lists and retries, and the lane moves on. Later events of the
// account wait behind a failing one; other accounts' lanes go on. Where a
// lane is gets stored after its attempts, by one saver, many lanes a commit:
// a Warden stopped or killed mid-delivery delivers again, with the same IDs,
// the events whose lane had not been stored past them.
//
// In a fleet (Config.Owns set; see fleet.go), the store is the fleet's
// PostgreSQL and each account's events are delivered by the node that owns
// the account, one node at a time; a node taking an account over resumes
// its lanes from their stored places.
//
// Retention: an event is kept Retention (7 days) after it happened, and
// longer while a webhook still has to deliver it; a failure is kept until it
// is retried, or FailedRetention (30 days).
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"sync"
	"time"

	"warden/core"
)

// Defaults of Config.
const (
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultMinBackoff      = time.Second
	DefaultMaxBackoff      = 10 * time.Minute
	DefaultRetryWindow     = 24 * time.Hour
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultFailedRetention = 30 * 24 * time.Hour
	DefaultPruneInterval   = time.Hour
	DefaultPoll            = time.Second
)

// Errors callers branch on.
var (
	ErrClosed         = errors.New("the outbox is closed")
	ErrUnknownWebhook = errors.New("no such webhook")
	ErrUnknownFailure = errors.New("no such failed delivery")
	ErrInvalidWebhook = errors.New("invalid webhook")
)

// Config configures an Outbox. Zero durations take the defaults.
type Config struct {
	Store  Store
	Logger *slog.Logger // nil: discard
	// Client posts the deliveries. Nil: one that follows no redirect.
	Client *http.Client
	// Now returns the current time (nil: time.Now); Rand a number in
	// [0,1) for the jitter (nil: math/rand/v2).
	Now  func() time.Time
	Rand func() float64

	AttemptTimeout  time.Duration // bounds one delivery attempt
	MinBackoff      time.Duration // the wait after a first failed attempt
	MaxBackoff      time.Duration // the longest wait between attempts
	RetryWindow     time.Duration // how long an event is tried before it fails
	Retention       time.Duration // how long a delivered event is kept
	FailedRetention time.Duration // how long a failure is kept
	PruneInterval   time.Duration

	// NoDelivery manages the webhooks without delivering anything and
	// without pruning: for a command that adds, lists, removes or tests
	// webhooks while Warden is stopped. Test still posts.
	NoDelivery bool

	// Owns, when set, makes the outbox one node's of a fleet sharing the
	// store (fleet.go): it delivers and follows only the accounts Owns
	// reports true for now (this node owns the account, under a lease
	// surely alive), and it polls the store every Poll for what the other
	// nodes changed. Nil: a Warden alone, which owns every account.
	Owns func(core.AccountID) bool
	Poll time.Duration // zero: DefaultPoll
}

// withDefaults returns c with its zero fields set.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AttemptTimeout, DefaultAttemptTimeout)
	def(&c.MinBackoff, DefaultMinBackoff)
	def(&c.MaxBackoff, DefaultMaxBackoff)
	def(&c.RetryWindow, DefaultRetryWindow)
	def(&c.Retention, DefaultRetention)
	def(&c.FailedRetention, DefaultFailedRetention)
	def(&c.PruneInterval, DefaultPruneInterval)
	def(&c.Poll, DefaultPoll)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Client == nil {
		c.Client = newClient()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = randv2.Float64
	}
	return c
}

// Outbox stores events and delivers them. All its methods are safe for
// concurrent use.
type Outbox struct {
	cfg   Config
	store Store
	log   *slog.Logger
	saver *saver

	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the follower, the lanes, the streams and the pruner
	// stopSaver ends the saver once the lanes stopped; saverDone is closed
	// when it wrote their last places.
	stopSaver context.CancelFunc
	saverDone chan struct{}

	mu sync.Mutex
	// mu guards the following
	hooks    map[string]*hook
	accounts map[core.AccountID]bool // the accounts with events
	changed  chan struct{}           // closed when events are stored, then replaced
	closed   bool
	hookGen  uint64 // counts the webhooks started

	fleet *fleetState // nil outside a fleet (Config.Owns)
}

// Open starts an outbox on its store: the webhooks' lanes take up where
// they were.
func Open(ctx context.Context, cfg Config) (*Outbox, error) {
	if cfg.Store == nil {
		return nil, errors.New("outbox: a store is needed")
	}
	cfg = cfg.withDefaults()
	o := &Outbox{cfg: cfg, store: cfg.Store, log: cfg.Logger, hooks: map[string]*hook{},
		accounts: map[core.AccountID]bool{}, changed: make(chan struct{})}
	if cfg.Owns != nil {
		// The last Seq before the accounts: an account whose first
		// event comes after the read is found by the poll.
		last, err := o.store.OutboxLastSeq(ctx)
		if err != nil {
			return nil, err
		}
		o.fleet = newFleetState(last)
	}
	accts, err := o.store.OutboxAccounts(ctx)
	if err != nil {
		return nil, err
	}
	hooks, err := o.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	o.ctx, o.stop = context.WithCancel(context.Background())
	o.saver = newSaver(o.store, o.log.Error)
	saverCtx, stopSaver := context.WithCancel(context.Background())
	o.stopSaver, o.saverDone = stopSaver, make(chan struct{})
	go func() {
		defer close(o.saverDone)
		o.saver.run(saverCtx)
	}()
	for _, id := range accts {
		o.accounts[id] = true
	}
	for _, w := range hooks {
		lanes, err := o.store.WebhookLanes(ctx, w.ID)
		if err != nil {
			_ = o.Close(ctx)
			return nil, err
		}
		o.mu.Lock()
		o.startHook(w, lanes)
		o.mu.Unlock()
	}
	if !cfg.NoDelivery {
		o.wg.Add(1)
		go o.pruneLoop()
		if o.fleet != nil {
			o.wg.Add(1)
			go o.pollLoop()
		}
	}
	return o, nil
}

// Close stops the deliveries, the follower and the streams, and waits for
// them, or for ctx. An attempt in flight is abandoned: it is made again
// after the next Open. Safe to call twice.
func (o *Outbox) Close(ctx context.Context) error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.stop()
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		o.stopSaver() // after the lanes: it writes their last places
		<-o.saverDone
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// append stores events and wakes the lanes and streams that take them.
func (o *Outbox) append(ctx context.Context, evs []Event, cursors map[core.AccountID]uint64) error {
	stored, err := o.store.AppendOutbox(ctx, evs, cursors)
	if err != nil {
		return err
	}
	if len(stored) > 0 {
		o.published(stored)
	}
	return nil
}

// published wakes what waits for the stored events.
func (o *Outbox) published(evs []Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	close(o.changed)
	o.changed = make(chan struct{})
	for _, ev := range evs {
		if !o.accounts[ev.Account] {
			o.accounts[ev.Account] = true
			if o.fleet != nil {
				// Another node may have delivered some already: the poll
				// loop starts the lanes from their stored places.
				o.fleet.wake()
				continue
			}
			for _, h := range o.hooks {
				o.startLane(h, Lane{Webhook: h.w.ID, Account: ev.Account, Cursor: h.w.After})
			}
		}
		for _, h := range o.hooks {
			if l := h.lanes[ev.Account]; l != nil && h.w.Wants(ev) {
				l.wake()
			}
		}
	}
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// pruneLoop prunes the outbox every PruneInterval.
func (o *Outbox) pruneLoop() {
	defer o.wg.Done()
	for sleep(o.ctx, o.cfg.PruneInterval) {
		if err := o.Prune(o.ctx); err != nil && o.ctx.Err() == nil {
			o.log.Error("could not prune the outbox; it will try again", "err", err)
		}
	}
}

// Prune deletes the events and failures past their retention.
func (o *Outbox) Prune(ctx context.Context) error {
	now := o.cfg.Now()
	for more := true; more; {
		evs, fails, m, err := o.store.PruneOutbox(ctx, now.Add(-o.cfg.Retention), now.Add(-o.cfg.FailedRetention))
		if err != nil {
			return err
		}
		if evs > 0 || fails > 0 {
			o.log.Info("outbox pruned", "events", evs, "failures", fails)
		}
		more = m
	}
	return nil
}
