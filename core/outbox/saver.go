package outbox

import (
	"context"
	"sync"

	"warden/core"
)

// laneKey names a lane.
type laneKey struct {
	webhook string
	account core.AccountID
}

// saver stores the lanes from one goroutine: each write holds every lane
// that moved since the last, so that a commit serves many deliveries and a
// delivered event does not wait for its lane's commit before the next goes.
// A Warden that stops before the write delivers those events again: at
// least once. A lane's newer state replaces its older one before the write,
// so lanes are stored in the order they moved.
type saver struct {
	store Store
	log   func(msg string, args ...any)

	mu sync.Mutex
	// mu guards the following
	lanes    map[laneKey]Lane
	failures []Failure
	waiters  []chan error

	signal chan struct{} // capacity 1: "there is something to write"
}

func newSaver(store Store, log func(string, ...any)) *saver {
	return &saver{store: store, log: log, lanes: map[laneKey]Lane{}, signal: make(chan struct{}, 1)}
}

// save queues the lane and a failure (nil: none) for the next write. It
// returns at once; a failure is written before it returns (or ctx ends),
// since it moves the lane past an event no one received.
func (s *saver) save(ctx context.Context, l Lane, failed *Failure) error {
	var done chan error
	s.mu.Lock()
	s.lanes[laneKey{l.Webhook, l.Account}] = l
	if failed != nil {
		s.failures = append(s.failures, *failed)
		done = make(chan error, 1)
		s.waiters = append(s.waiters, done)
	}
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run writes until ctx ends, then writes what is left.
func (s *saver) run(ctx context.Context) {
	for {
		select {
		case <-s.signal:
			s.write()
		case <-ctx.Done():
			s.write()
			return
		}
	}
}

// write stores what was queued, in one commit.
func (s *saver) write() {
	s.mu.Lock()
	lanes := make([]Lane, 0, len(s.lanes))
	for _, l := range s.lanes {
		lanes = append(lanes, l)
	}
	clear(s.lanes)
	failures, waiters := s.failures, s.waiters
	s.failures, s.waiters = nil, nil
	s.mu.Unlock()
	if len(lanes) == 0 && len(failures) == 0 {
		return
	}
	// Not the outbox's context: the last write runs as it closes.
	err := s.store.PutWebhookLanes(context.Background(), lanes, failures)
	if err != nil {
		s.log("could not store where the webhooks are; after a restart they deliver some events again", "err", err)
	}
	for _, w := range waiters {
		w <- err
	}
}
