package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"warden/core"
	"warden/core/logbook"
)

// Log persistence through slog.
const (
	// logFlushDelay is how long the log flusher gathers lines before it
	// writes them, so lines logged together share a commit.
	logFlushDelay = 200 * time.Millisecond
	// logFlushAt pending lines make the flusher write at once.
	logFlushAt = 1000
	// logMaxPending bounds the lines waiting to be written; beyond it lines
	// are dropped (and counted) rather than block a logger.
	logMaxPending = 20_000
)

// AccountKey is the attribute that tags a log record with its account, as in
// logger.With(store.AccountKey, id). Records without it go to Warden's own log.
const AccountKey = logbook.AccountKey

// LogHandler returns a slog.Handler that stores records at or above level in
// the store's logs: a record's "account" attribute picks the account, and the
// other attributes become LogLine.Attrs ("group.key" inside groups). Handle
// never blocks on the disk: lines are buffered and written by one goroutine
// about every 200 ms; when too many wait, new ones are dropped and a line in
// Warden's own log says how many. Close writes what is buffered.
//
// Combine it with a console handler to log to both (for instance with a
// small fan-out handler); the store itself logs nothing while it writes, so
// giving Open a logger that ends here is safe.
func (db *DB) LogHandler(level slog.Leveler) slog.Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	return &logHandler{sink: db.sink, level: level}
}

// logSink buffers lines for the flusher goroutine.
type logSink struct {
	db   *DB
	max  int           // logMaxPending; lower in tests
	wake chan struct{} // the first line arrived; buffered 1
	full chan struct{} // logFlushAt lines wait; buffered 1
	stop chan struct{} // closed by close
	done chan struct{} // closed when the flusher has written everything

	mu sync.Mutex
	// mu guards the following
	pending map[core.AccountID][]LogLine
	n       int  // lines in pending
	dropped int  // lines dropped since the last flush
	closed  bool // no more lines are taken
	held    bool // WithWritesHeld, until ReleaseWrites: lines wait, unwritten
	lastErr error
	// forward, when set, writes the lines of accounts elsewhere.
	forward func(ctx context.Context, batch map[core.AccountID][]LogLine) error
}

func newLogSink(db *DB) *logSink {
	return &logSink{
		db:      db,
		pending: make(map[core.AccountID][]LogLine),
		max:     logMaxPending,
		wake:    make(chan struct{}, 1),
		full:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *logSink) add(id core.AccountID, l LogLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return
	case s.n >= s.max:
		s.dropped++
		return
	}
	s.pending[id] = append(s.pending[id], l)
	s.n++
	if s.n == 1 {
		signal(s.wake)
	}
	if s.n == logFlushAt {
		signal(s.full)
	}
}

// run is the flusher. It ends after writing what is left when stop closes.
func (s *logSink) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			s.flush()
			return
		case <-s.wake:
		}
		t := time.NewTimer(logFlushDelay)
		select {
		case <-s.stop:
			t.Stop()
			s.flush()
			return
		case <-t.C:
		case <-s.full:
			t.Stop()
		}
		s.flush()
	}
}

// release writes the held lines, and every later one as usual.
func (s *logSink) release() {
	s.mu.Lock()
	s.held = false
	s.mu.Unlock()
	signal(s.wake)
}

// close stops taking lines and waits until the buffered ones are written;
// held lines are dropped.
func (s *logSink) close() {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	if s.held {
		s.pending, s.n, s.dropped = nil, 0, 0
	}
	s.mu.Unlock()
	if !already {
		close(s.stop)
	}
	<-s.done
}

func (s *logSink) flush() {
	s.mu.Lock()
	if s.held {
		s.mu.Unlock()
		return
	}
	batch, dropped := s.pending, s.dropped
	s.pending, s.n, s.dropped = make(map[core.AccountID][]LogLine), 0, 0
	s.mu.Unlock()
	if dropped > 0 {
		batch[""] = append(batch[""], LogLine{At: s.db.now(), Level: slog.LevelWarn,
			Message: fmt.Sprintf("dropped %d log lines: they came faster than the store could write them", dropped)})
	}
	if len(batch) == 0 {
		return
	}
	s.mu.Lock()
	forward := s.forward
	s.mu.Unlock()
	var errs []error
	if forward != nil {
		accounts := make(map[core.AccountID][]LogLine, len(batch))
		for id, lines := range batch {
			if id != "" {
				accounts[id] = lines
				delete(batch, id)
			}
		}
		if len(accounts) > 0 {
			errs = append(errs, forward(context.Background(), accounts))
		}
	}
	if len(batch) > 0 {
		errs = append(errs, s.db.appendLogBatch(context.Background(), batch))
	}
	s.mu.Lock()
	s.lastErr = errors.Join(errs...)
	s.mu.Unlock()
}

// FlushLogs writes the log lines buffered so far, now.
func (db *DB) FlushLogs() { db.sink.flush() }

// ForwardAccountLogs makes the log handler write the lines of accounts with
// f instead of to this store (a fleet keeps them in its shared database);
// Warden's own lines stay here. Call it before the first account logs.
func (db *DB) ForwardAccountLogs(f func(ctx context.Context, batch map[core.AccountID][]LogLine) error) {
	db.sink.mu.Lock()
	defer db.sink.mu.Unlock()
	db.sink.forward = f
}

// LogWriteErr returns the error of the log handler's last write, nil when it
// succeeded. The handler cannot log its own failures.
func (db *DB) LogWriteErr() error {
	db.sink.mu.Lock()
	defer db.sink.mu.Unlock()
	return db.sink.lastErr
}

// logHandler is the slog.Handler of LogHandler.
type logHandler struct {
	sink  *logSink
	level slog.Leveler
	scope logbook.Scope // from WithAttrs and WithGroup, read as the log book reads them
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	line := LogLine{At: r.Time, Level: r.Level, Message: r.Message}
	if line.At.IsZero() {
		line.At = h.sink.db.now()
	}
	account, attrs := h.scope.Read(r)
	line.Attrs = attrs
	h.sink.add(account, line)
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.scope = h.scope.With(as)
	return &h2
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.scope = h.scope.Group(name)
	return &h2
}
