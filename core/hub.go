package core

import "sync"

// hub fans statuses out to subscribers. Publishing never blocks: each
// subscriber keeps only the newest Status per account until its reader takes
// it (grpc-go's pubsub and tailscale's canSkipStatus work the same way).
type hub struct {
	mu sync.Mutex
	// mu guards the following
	subs   map[*subscriber]struct{}
	closed bool
}

type subscriber struct {
	mu sync.Mutex
	// mu guards the following
	pending map[AccountID]Status
	order   []AccountID

	signal chan struct{} // capacity 1: "pending is not empty"
	done   chan struct{} // closed by cancel
	out    chan Status
	once   sync.Once
}

// subscribe returns a channel of coalesced updates and its cancel function.
// The channel is closed after cancel, or when the hub closes.
func (h *hub) subscribe() (<-chan Status, func()) {
	s := &subscriber{
		pending: make(map[AccountID]Status),
		signal:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		out:     make(chan Status),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[*subscriber]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.run()
	cancel := func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.stop()
	}
	return s.out, cancel
}

func (h *hub) publish(st Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.offer(st)
	}
}

func (h *hub) close() {
	h.mu.Lock()
	subs := h.subs
	h.subs = nil
	h.closed = true
	h.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

func (s *subscriber) stop() { s.once.Do(func() { close(s.done) }) }

func (s *subscriber) offer(st Status) {
	id := st.Account.ID
	s.mu.Lock()
	if _, ok := s.pending[id]; !ok {
		s.order = append(s.order, id)
	}
	s.pending[id] = st
	s.mu.Unlock()
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

// take removes and returns the oldest pending account's newest Status.
func (s *subscriber) take() (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return Status{}, false
	}
	id := s.order[0]
	s.order[0] = ""
	s.order = s.order[1:]
	st := s.pending[id]
	delete(s.pending, id)
	if len(s.order) == 0 {
		s.order = nil // let the backing array go
	}
	return st, true
}

func (s *subscriber) run() {
	defer close(s.out)
	for {
		select {
		case <-s.done:
			return
		case <-s.signal:
		}
		for {
			st, ok := s.take()
			if !ok {
				break
			}
			select {
			case s.out <- st:
			case <-s.done:
				return
			}
		}
	}
}

// eventHub fans timeline events out to subscribers. Each subscriber has a
// bounded buffer; when a slow reader lets it fill, the oldest events are
// dropped (the store still has them) and counted. Publishing never blocks.
type eventHub struct {
	mu sync.Mutex
	// mu guards the following
	subs   map[*eventSub]struct{}
	closed bool
}

// eventBuffer is how many events a subscriber may lag behind.
const eventBuffer = 4096

type eventSub struct {
	mu sync.Mutex
	// mu guards the following
	buf     []Event
	dropped uint64

	signal chan struct{}
	done   chan struct{}
	out    chan Event
	once   sync.Once
}

func (h *eventHub) subscribe() (<-chan Event, func()) {
	s := &eventSub{signal: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan Event)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[*eventSub]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.run()
	return s.out, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.stop()
	}
}

func (h *eventHub) publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		if len(s.buf) >= eventBuffer {
			copy(s.buf, s.buf[1:])
			s.buf = s.buf[:len(s.buf)-1]
			s.dropped++
		}
		s.buf = append(s.buf, ev)
		s.mu.Unlock()
		select {
		case s.signal <- struct{}{}:
		default:
		}
	}
}

func (h *eventHub) close() {
	h.mu.Lock()
	subs := h.subs
	h.subs, h.closed = nil, true
	h.mu.Unlock()
	for s := range subs {
		s.stop()
	}
}

func (s *eventSub) stop() { s.once.Do(func() { close(s.done) }) }

func (s *eventSub) run() {
	defer close(s.out)
	for {
		select {
		case <-s.done:
			return
		case <-s.signal:
		}
		for {
			s.mu.Lock()
			if len(s.buf) == 0 {
				s.mu.Unlock()
				break
			}
			ev := s.buf[0]
			s.buf = s.buf[1:]
			s.mu.Unlock()
			select {
			case s.out <- ev:
			case <-s.done:
				return
			}
		}
	}
}
