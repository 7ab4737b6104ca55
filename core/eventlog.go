package core

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// eventLog writes timeline events to the Store in batches from one goroutine,
// so recording an event never blocks the Manager. flush waits until every
// event recorded before it is stored.
type eventLog struct {
	store Store
	log   *slog.Logger

	mu sync.Mutex
	// mu guards the following
	buf     []Event
	waiters []chan error

	failures int // consecutive failed writes of the batch at the head of buf

	signal chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// maxRetained bounds the events kept in memory while the store keeps failing.
const maxRetained = 100_000

// maxFailures is how many times a batch is retried before it is given up, so
// that one event the store refuses for good cannot hold back every later one.
const maxFailures = 5

func newEventLog(store Store, log *slog.Logger) *eventLog {
	w := &eventLog{
		store:  store,
		log:    log,
		signal: make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *eventLog) add(ev Event) {
	w.mu.Lock()
	w.buf = append(w.buf, ev)
	w.mu.Unlock()
	w.wake()
}

func (w *eventLog) wake() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// flush waits until every event added before it is stored, and returns the
// store's error if the last write failed.
func (w *eventLog) flush(ctx context.Context) error {
	ch := make(chan error, 1)
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return ErrClosed
	default:
	}
	w.waiters = append(w.waiters, ch)
	w.mu.Unlock()
	w.wake()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close writes what is left and stops the writer.
func (w *eventLog) close(ctx context.Context) error {
	err := w.flush(ctx)
	w.once.Do(func() { close(w.stop) })
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

func (w *eventLog) run() {
	defer func() {
		w.mu.Lock()
		for _, ch := range w.waiters {
			ch <- ErrClosed
		}
		w.waiters = nil
		close(w.done)
		w.mu.Unlock()
	}()
	retry := time.Duration(0)
	for {
		var timer <-chan time.Time
		if retry > 0 {
			timer = time.After(retry)
		}
		select {
		case <-w.stop:
			w.write() // a last try
			return
		case <-w.signal:
		case <-timer:
		}
		if err := w.write(); err != nil {
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
		} else {
			retry = 0
		}
	}
}

// write stores the buffered events in one call and answers the waiters that
// were registered before it took the buffer.
func (w *eventLog) write() error {
	w.mu.Lock()
	batch := w.buf
	w.buf = nil
	waiters := w.waiters
	w.waiters = nil
	w.mu.Unlock()

	var err error
	if len(batch) > 0 {
		err = w.store.AppendEvents(context.Background(), batch...)
		if err != nil {
			// One account's refused event (a shared store's timeline
			// moved on) must not hold back the others': store each
			// account's events on its own, and keep only what failed.
			batch, err = w.writeEach(batch, err)
		}
		if err == nil {
			w.failures = 0
		} else if w.failures++; w.failures >= maxFailures {
			w.log.Error("storing timeline events failed for good; dropping them", "events", len(batch), "err", err)
			w.failures = 0
		} else {
			w.mu.Lock()
			// Keep the events for the next try, oldest first, within a bound.
			w.buf = append(batch, w.buf...)
			if n := len(w.buf) - maxRetained; n > 0 {
				w.log.Error("dropping timeline events: the store keeps failing", "dropped", n)
				w.buf = w.buf[n:]
			}
			w.mu.Unlock()
			w.log.Error("storing timeline events failed; will retry", "events", len(batch), "err", err)
		}
	}
	for _, ch := range waiters {
		ch <- err
	}
	return err
}

// writeEach stores batch, whose write failed with err, one account at a
// time, in order, and returns the events of the accounts whose write failed
// again, with the first error.
func (w *eventLog) writeEach(batch []Event, err error) ([]Event, error) {
	var order []AccountID
	byAccount := map[AccountID][]Event{}
	for _, ev := range batch {
		if _, ok := byAccount[ev.Account]; !ok {
			order = append(order, ev.Account)
		}
		byAccount[ev.Account] = append(byAccount[ev.Account], ev)
	}
	if len(order) < 2 {
		return batch, err // nothing to tell apart
	}
	var failed []Event
	var first error
	for _, id := range order {
		if err := w.store.AppendEvents(context.Background(), byAccount[id]...); err != nil {
			failed = append(failed, byAccount[id]...)
			if first == nil {
				first = err
			}
		}
	}
	return failed, first
}
