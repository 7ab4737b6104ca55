// Package logbook keeps Warden's newest log lines in memory, per account and
// for everything, and streams new ones to the logs views. A *Book is a
// slog.Handler: put it beside the console and the store in the app's
// handler, and every record lands in a ring of its account, chosen by the
// record's "account" attribute ("" for Warden's own lines).
//
// Handle never blocks the logger. Subscribers read a bounded channel; when a
// subscriber falls behind, its oldest unread line makes room for the new one
// and the drop is counted.
package logbook

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"warden/core"
)

// AccountKey is the attribute that tags a record with its account.
const AccountKey = "account"

// Defaults for New.
const (
	// DefaultPerAccount is how many lines each account's ring keeps.
	DefaultPerAccount = 2_000
	// DefaultGlobal is how many lines the ring of every account keeps.
	DefaultGlobal = 10_000
	// DefaultSubscriberBuffer is how many unread lines a subscriber may have
	// before its oldest ones are dropped.
	DefaultSubscriberBuffer = 4_096
)

// Line is one log record: Warden's own (Account "") or an account's.
type Line struct {
	At      time.Time
	Level   slog.Level
	Account core.AccountID
	Message string
	// Attrs are the record's other attributes, "group.key" inside groups.
	Attrs map[string]string
}

// Options sizes a Book. Zero fields take the defaults.
type Options struct {
	PerAccount       int
	Global           int
	SubscriberBuffer int
	// Now stamps records that carry no time; time.Now when nil.
	Now func() time.Time
}

// Book is a slog.Handler that keeps the newest lines in memory. The handlers
// that WithAttrs and WithGroup return share the Book's rings and subscribers.
type Book struct {
	s     *state
	level slog.Leveler

	scope Scope // from WithAttrs and WithGroup
}

// state is what every handler derived from one Book shares.
type state struct {
	opts Options

	mu sync.Mutex
	// mu guards the following
	rings   map[core.AccountID]*ring
	all     *ring
	subs    map[chan Line]struct{}
	dropped uint64 // lines dropped for slow subscribers, in total
}

// New returns a Book that keeps records at or above level (Info when nil).
func New(level slog.Leveler, opts Options) *Book {
	if level == nil {
		level = slog.LevelInfo
	}
	if opts.PerAccount <= 0 {
		opts.PerAccount = DefaultPerAccount
	}
	if opts.Global <= 0 {
		opts.Global = DefaultGlobal
	}
	if opts.SubscriberBuffer <= 0 {
		opts.SubscriberBuffer = DefaultSubscriberBuffer
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Book{
		level: level,
		s: &state{
			opts:  opts,
			rings: map[core.AccountID]*ring{},
			all:   newRing(opts.Global),
			subs:  map[chan Line]struct{}{},
		},
	}
}

// Enabled reports whether records at l are kept.
func (b *Book) Enabled(_ context.Context, l slog.Level) bool { return l >= b.level.Level() }

// Level is the lowest level kept now.
func (b *Book) Level() slog.Level { return b.level.Level() }

// Handle keeps the record and hands it to the subscribers. It never blocks.
func (b *Book) Handle(_ context.Context, r slog.Record) error {
	line := Line{At: r.Time, Level: r.Level, Message: r.Message}
	if line.At.IsZero() {
		line.At = b.s.opts.Now()
	}
	line.Account, line.Attrs = b.scope.Read(r)
	b.s.add(line)
	return nil
}

// WithAttrs returns a handler that adds as to every record; an "account"
// attribute outside any group picks the account instead.
func (b *Book) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return b
	}
	b2 := *b
	b2.scope = b.scope.With(as)
	return &b2
}

// WithGroup returns a handler that puts the record's attributes in group
// name: their keys read "name.key".
func (b *Book) WithGroup(name string) slog.Handler {
	if name == "" {
		return b
	}
	b2 := *b
	b2.scope = b.scope.Group(name)
	return &b2
}

func (s *state) add(l Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rings[l.Account]
	if r == nil {
		r = newRing(s.opts.PerAccount)
		s.rings[l.Account] = r
	}
	r.push(l)
	s.all.push(l)
	for ch := range s.subs {
		// Drop-oldest. Only add sends, under mu, so once the channel was
		// full and one line left it (taken here or by the reader), the
		// last send finds room.
		select {
		case ch <- l:
			continue
		default:
		}
		select {
		case <-ch:
			s.dropped++
		default:
		}
		select {
		case ch <- l:
		default: // cannot happen; never block the logger anyway
			s.dropped++
		}
	}
}

// Recent returns the newest n lines of an account ("" for Warden's own),
// newest last. n <= 0 returns all the ring holds.
func (b *Book) Recent(id core.AccountID, n int) []Line {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	r := b.s.rings[id]
	if r == nil {
		return nil
	}
	return r.last(n)
}

// RecentAll returns the newest n lines of every account and Warden's own,
// in the order they were logged, newest last. n <= 0 returns all the ring
// holds.
func (b *Book) RecentAll(n int) []Line {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.s.all.last(n)
}

// Forget drops an account's ring, for instance once it is deleted. Its lines
// stay in the ring of every account until newer ones push them out.
func (b *Book) Forget(id core.AccountID) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	delete(b.s.rings, id)
}

// Subscribe returns a channel of the lines kept from now on, of every
// account, and a function that ends the subscription and closes the
// channel. A subscriber that falls more than the subscriber buffer behind
// loses its oldest unread lines; Dropped counts them.
func (b *Book) Subscribe() (<-chan Line, func()) {
	ch := make(chan Line, b.s.opts.SubscriberBuffer)
	b.s.mu.Lock()
	b.s.subs[ch] = struct{}{}
	b.s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.s.mu.Lock()
			delete(b.s.subs, ch)
			b.s.mu.Unlock()
			close(ch)
		})
	}
}

// Dropped returns how many lines slow subscribers lost, in total.
func (b *Book) Dropped() uint64 {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	return b.s.dropped
}

// ring is a fixed-size buffer of the newest lines.
type ring struct {
	buf  []Line
	next int // where the next line goes
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]Line, 0, n)} }

func (r *ring) push(l Line) {
	if !r.full {
		r.buf = append(r.buf, l)
		if len(r.buf) == cap(r.buf) {
			r.full = true
			r.next = 0
		}
		return
	}
	r.buf[r.next] = l
	r.next = (r.next + 1) % len(r.buf)
}

// last copies the newest n lines (all when n <= 0), oldest first.
func (r *ring) last(n int) []Line {
	size := len(r.buf)
	if n <= 0 || n > size {
		n = size
	}
	out := make([]Line, 0, n)
	start := size - n // in logical order, oldest = 0
	for i := start; i < size; i++ {
		j := i
		if r.full {
			j = (r.next + i) % size
		}
		out = append(out, r.buf[j])
	}
	return out
}
