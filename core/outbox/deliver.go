package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"warden/core"
)

// hook is a running webhook: its lanes deliver until its context ends.
type hook struct {
	gen    uint64 // Outbox.hookGen when it started
	w      Webhook
	ctx    context.Context
	cancel context.CancelFunc
	lanes  map[core.AccountID]*lane // guarded by Outbox.mu

	mu sync.Mutex
	// mu guards the following, for WebhookInfo
	last     Result                  // the newest attempt's
	retrying map[core.AccountID]bool // the lanes whose next event failed
}

// note records the outcome of a lane's attempt.
func (h *hook) note(state Lane) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if state.Last.At.After(h.last.At) {
		h.last = state.Last
	}
	if state.Attempts > 0 {
		h.retrying[state.Account] = true
	} else {
		delete(h.retrying, state.Account)
	}
}

// info returns the webhook's live figures.
func (h *hook) info() (last Result, retrying int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last, len(h.retrying)
}

// lane is the goroutine delivering one account's events to one webhook:
// wake tells it there may be more events. It runs until its context ends
// (its webhook's, or its own: in a fleet, when the node no longer owns the
// account).
type lane struct {
	account core.AccountID
	signal  chan struct{} // capacity 1: "there may be more events"
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{} // closed when the goroutine returned
}

// ended reports whether the lane's goroutine returned.
func (l *lane) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *lane) wake() {
	select {
	case l.signal <- struct{}{}:
	default:
	}
}

// pageSize is how many events a lane reads ahead.
const pageSize = 128

// maxErrorBody is how much of a refusing receiver's answer is kept in the
// error; the rest of a body, up to maxDrain, is read and dropped so that
// the connection can be reused.
const (
	maxErrorBody = 256
	maxDrain     = 64 << 10
)

// newClient returns the client of the deliveries: it follows no redirect
// (a receiver that moved is told by its failing deliveries, and a signed
// event never goes to another host), and keeps connections to the
// receivers open.
func newClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// startHook runs a webhook's lanes, for every account with events it wants
// (in a fleet: that this node owns), from where stored lanes say. o.mu is
// held. A webhook running already is left as it is.
func (o *Outbox) startHook(w Webhook, stored []Lane) {
	if o.hooks[w.ID] != nil {
		return
	}
	ctx, cancel := context.WithCancel(o.ctx)
	o.hookGen++
	h := &hook{gen: o.hookGen, w: w, ctx: ctx, cancel: cancel, lanes: map[core.AccountID]*lane{}, retrying: map[core.AccountID]bool{}}
	o.hooks[w.ID] = h
	from := map[core.AccountID]Lane{}
	for _, l := range stored {
		from[l.Account] = l
		h.note(l)
	}
	for id := range o.accounts {
		l, ok := from[id]
		if !ok {
			l = Lane{Webhook: w.ID, Account: id, Cursor: w.After}
		}
		o.startLane(h, l)
	}
}

// startLane runs one lane of h, unless the webhook does not want the
// account. o.mu is held.
func (o *Outbox) startLane(h *hook, state Lane) {
	if !h.w.WantsAccount(state.Account) || o.cfg.NoDelivery || !o.owns(state.Account) {
		return
	}
	ctx, cancel := context.WithCancel(h.ctx)
	l := &lane{account: state.Account, signal: make(chan struct{}, 1), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	l.wake()
	h.lanes[state.Account] = l
	o.wg.Add(1)
	go o.runLane(h, l, state)
}

// owns reports whether this node delivers the account's events now: always
// outside a fleet.
func (o *Outbox) owns(id core.AccountID) bool {
	return o.cfg.Owns == nil || o.cfg.Owns(id)
}

// runLane delivers the account's events to the webhook, in order, until the
// lane's context ends, or in a fleet the node no longer owns the account.
func (o *Outbox) runLane(h *hook, l *lane, state Lane) {
	defer o.wg.Done()
	defer close(l.done)
	defer l.cancel()
	var ahead []Event
	for {
		for len(ahead) == 0 {
			var ok bool
			if ahead, ok = o.readAhead(h, l, state); !ok {
				return
			}
		}
		ev := ahead[0]
		ahead = ahead[1:]
		if !h.w.Wants(ev) {
			state.Cursor = ev.Seq
			continue
		}
		if !o.deliver(h, l, &state, ev) {
			return
		}
	}
}

// readAhead waits until the lane may have events, and reads a page of them
// after its cursor. It returns false when the webhook stopped.
func (o *Outbox) readAhead(h *hook, l *lane, state Lane) ([]Event, bool) {
	select {
	case <-l.signal:
	case <-l.ctx.Done():
		return nil, false
	}
	evs, err := o.store.OutboxAccountEvents(l.ctx, state.Account, state.Cursor, pageSize)
	if err != nil {
		if l.ctx.Err() != nil {
			return nil, false
		}
		o.log.Error("a webhook could not read its events; it tries again", "webhook", h.w.ID, "account", state.Account, "err", err)
		l.wake()
		return nil, sleep(l.ctx, o.cfg.MinBackoff)
	}
	if len(evs) == pageSize {
		l.wake() // read on after this page
	}
	return evs, true
}

// deliver posts ev until the webhook takes it or the retry window ends, and
// stores the lane after each attempt. It returns false when the lane's
// context ended first, or the node no longer owns the account: in a fleet,
// each attempt is made only while this node owns the account, so that a
// node that lost it (its lease fenced, or the account moved) makes none
// while the new owner delivers.
func (o *Outbox) deliver(h *hook, l *lane, state *Lane, ev Event) bool {
	for {
		if !o.owns(ev.Account) {
			return false
		}
		res := o.post(l.ctx, h.w, ev)
		if l.ctx.Err() != nil {
			return false // stopped mid-attempt: not the receiver's failure
		}
		state.Last = res
		if res.OK() {
			state.Cursor, state.Attempts, state.FirstFailure = ev.Seq, 0, time.Time{}
			o.saveLane(h, l, *state, nil)
			return true
		}
		if state.Attempts == 0 {
			state.FirstFailure = res.At
		}
		state.Attempts++
		if res.At.Sub(state.FirstFailure) >= o.cfg.RetryWindow {
			o.giveUp(h, l, state, ev)
			return true
		}
		o.saveLane(h, l, *state, nil)
		if !sleep(l.ctx, o.backoff(state.Attempts)) {
			return false
		}
	}
}

// giveUp keeps ev as a failure of the webhook and moves the lane past it.
func (o *Outbox) giveUp(h *hook, l *lane, state *Lane, ev Event) {
	f := &Failure{Webhook: h.w.ID, Event: ev, Seq: ev.Seq, Attempts: state.Attempts,
		FirstFailure: state.FirstFailure, FailedAt: state.Last.At, Last: state.Last}
	o.log.Warn("a webhook did not take an event within the retry window; it is kept as a failed delivery to retry",
		"webhook", h.w.ID, "account", ev.Account, "event", ev.ID, "attempts", f.Attempts, "err", state.Last.Error)
	state.Cursor, state.Attempts, state.FirstFailure = ev.Seq, 0, time.Time{}
	o.saveLane(h, l, *state, f)
}

// saveLane notes the lane's attempt and stores the lane (see saver). A
// failure that could not be stored is logged: the event is lost to the
// webhook.
func (o *Outbox) saveLane(h *hook, l *lane, state Lane, failed *Failure) {
	h.note(state)
	if err := o.saver.save(l.ctx, state, failed); err != nil && l.ctx.Err() == nil {
		o.log.Error("could not keep a failed delivery", "webhook", h.w.ID, "account", state.Account, "err", err)
	}
}

// backoff returns the wait after the attempts-th failed attempt: MinBackoff
// doubled for each earlier failure, at most MaxBackoff, of which a random
// part up to half is taken off, so that lanes failing together spread out.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.cfg.MinBackoff
	for i := 1; i < attempts && d < o.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.cfg.MaxBackoff)
	return d - time.Duration(o.cfg.Rand()*float64(d)/2)
}

// post makes one delivery attempt of ev to w.
func (o *Outbox) post(ctx context.Context, w Webhook, ev Event) Result {
	res := Result{EventID: ev.ID}
	body, err := json.Marshal(ev)
	if err != nil {
		res.At, res.Error = o.cfg.Now(), fmt.Sprintf("encode the event: %v", err)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		res.At, res.Error = o.cfg.Now(), fmt.Sprintf("make the request: %v", err)
		return res
	}
	Sign(req.Header, w.Secret, ev.ID, o.cfg.Now(), body)
	req.Header.Set("User-Agent", "Warden-Webhook/1")
	resp, err := o.cfg.Client.Do(req)
	res.At = o.cfg.Now()
	if err != nil {
		res.Error = describeError(err, o.cfg.AttemptTimeout)
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		res.Error = fmt.Sprintf("the receiver answered %s", resp.Status)
		if len(head) > 0 {
			res.Error += ": " + string(bytes.ToValidUTF8(head, nil))
		}
	}
	return res
}

// describeError says why an attempt got no answer, in an operator's words.
func describeError(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("the receiver did not answer within %s", timeout)
	}
	return fmt.Sprintf("no answer from the receiver: %v", err)
}
