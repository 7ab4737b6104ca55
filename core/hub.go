package core

import "sync"

// fanout hands values to subscribers without ever blocking the publisher:
// each subscriber has its own queue, and one goroutine per subscriber moves
// the queue to its channel. The queue decides what a slow reader loses
// (grpc-go's pubsub and tailscale's canSkipStatus work the same way).
type fanout[T any] struct {
	newQueue func() queue[T]

	mu sync.Mutex
	// mu guards the following
	subs   map[*subscriber[T]]struct{}
	closed bool
}

// queue is a subscriber's backlog. It is used under the subscriber's lock.
type queue[T any] interface {
	push(T)
	pop() (T, bool)
}

type subscriber[T any] struct {
	mu sync.Mutex
	// mu guards q
	q queue[T]

	signal chan struct{} // capacity 1: "q is not empty"
	done   chan struct{} // closed by cancel
	out    chan T
	once   sync.Once
}

// subscribe returns a channel of values and its cancel function. The channel
// is closed after cancel, or when the fanout closes.
func (f *fanout[T]) subscribe() (<-chan T, func()) {
	s := &subscriber[T]{q: f.newQueue(), signal: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan T)}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if f.subs == nil {
		f.subs = make(map[*subscriber[T]]struct{})
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	go s.run()
	return s.out, func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
		s.stop()
	}
}

func (f *fanout[T]) publish(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.mu.Lock()
		s.q.push(v)
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

func (f *fanout[T]) close() {
	f.mu.Lock()
	subs := f.subs
	f.subs, f.closed = nil, true
	f.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

func (s *subscriber[T]) stop() { s.once.Do(func() { close(s.done) }) }

func (s *subscriber[T]) run() {
	defer close(s.out)
	for {
		select {
		case <-s.done:
			return
		case <-s.signal:
		}
		for {
			s.mu.Lock()
			v, ok := s.q.pop()
			s.mu.Unlock()
			if !ok {
				break
			}
			select {
			case s.out <- v:
			case <-s.done:
				return
			}
		}
	}
}

// statusQueue keeps only the newest Status of each account, oldest account
// first: a slow reader skips intermediate statuses, never the latest.
type statusQueue struct {
	pending map[AccountID]Status
	order   []AccountID
}

func newStatusQueue() queue[Status] { return &statusQueue{pending: make(map[AccountID]Status)} }

func (q *statusQueue) push(st Status) {
	id := st.Account.ID
	if _, ok := q.pending[id]; !ok {
		q.order = append(q.order, id)
	}
	q.pending[id] = st
}

func (q *statusQueue) pop() (Status, bool) {
	if len(q.order) == 0 {
		return Status{}, false
	}
	id := q.order[0]
	q.order[0] = ""
	q.order = q.order[1:]
	if len(q.order) == 0 {
		q.order = nil // let the backing array go
	}
	st := q.pending[id]
	delete(q.pending, id)
	return st, true
}

// eventBuffer is how many events a subscriber may lag behind.
const eventBuffer = 4096

// eventQueue keeps the newest eventBuffer events in order; a reader that lets
// it fill loses the oldest (the store keeps them all).
type eventQueue struct {
	buf []Event
}

func newEventQueue() queue[Event] { return &eventQueue{} }

func (q *eventQueue) push(ev Event) {
	if len(q.buf) >= eventBuffer {
		copy(q.buf, q.buf[1:])
		q.buf = q.buf[:len(q.buf)-1]
	}
	q.buf = append(q.buf, ev)
}

func (q *eventQueue) pop() (Event, bool) {
	if len(q.buf) == 0 {
		return Event{}, false
	}
	ev := q.buf[0]
	q.buf = q.buf[1:]
	return ev, true
}

// StatusHub fans statuses out to subscribers as the Manager does: coalesced,
// newest per account. Views built on top of Managers (a fleet's console) use
// it to offer the same Subscribe.
type StatusHub struct{ f fanout[Status] }

// NewStatusHub returns an empty hub.
func NewStatusHub() *StatusHub { return &StatusHub{f: fanout[Status]{newQueue: newStatusQueue}} }

// Publish sends st to every subscriber.
func (h *StatusHub) Publish(st Status) { h.f.publish(st) }

// Subscribe returns coalesced updates until cancel or Close.
func (h *StatusHub) Subscribe() (<-chan Status, func()) { return h.f.subscribe() }

// Close ends every subscription.
func (h *StatusHub) Close() { h.f.close() }

// EventHub fans timeline events out in order, as the Manager does.
type EventHub struct{ f fanout[Event] }

// NewEventHub returns an empty hub.
func NewEventHub() *EventHub { return &EventHub{f: fanout[Event]{newQueue: newEventQueue}} }

// Publish sends ev to every subscriber.
func (h *EventHub) Publish(ev Event) { h.f.publish(ev) }

// Subscribe returns the events until cancel or Close.
func (h *EventHub) Subscribe() (<-chan Event, func()) { return h.f.subscribe() }

// Close ends every subscription.
func (h *EventHub) Close() { h.f.close() }
