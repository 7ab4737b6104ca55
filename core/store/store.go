// Package store keeps Warden's own data in one bbolt file: the accounts, their
// timelines, their logs, their inboxes, the settings, the HTTP API's keys and
// the outbox of events. *DB implements core.Store, core.Inbox,
// core/api.KeyStore, outbox.Store and outbox.MessageStore.
//
// The bucket tree (names in <angle brackets> are keys, → shows a value):
//
//	meta
//	  version              → schema version, uint64 big-endian
//	accounts
//	  <account id>         → core.Account, JSON
//	events
//	  <account id>           one bucket per account; its sequence is the last Seq
//	    <seq, u64 BE>      → one timeline event, JSON (times in UTC)
//	logs
//	  <account id | 0x00>    one bucket per account; 0x00 holds Warden's own log
//	    <seq, u64 BE>      → LogLine, JSON (times in UTC)
//	settings
//	  <setting name>       → its value, JSON
//	inbox
//	  <account id>           one bucket per account; its sequence is the last Seq
//	    msgs
//	      <seq, u64 BE>    → core.Message, JSON (times in UTC)
//	    keys
//	      <Message.Key()>  → its seq, u64 BE: a redelivered message is stored once
//	apikeys
//	  <key id>             → core.APIKey, JSON: the secret's hash, never the secret
//	outbox                   the events webhooks and streams deliver: outbox.go
//
// Writes of events, logs and messages go through one writer goroutine that
// commits everything queued while the previous commit was being synced, so
// concurrent appends share commits. A nil error from AppendEvents, AppendLogs
// or PutMessage means the data was committed and synced. A background pruner
// keeps each timeline and each inbox within its retention limits; its
// deletions ride in the writer's commits, a bounded chunk at a time, so
// appends never wait for a long prune. LogHandler is a slog.Handler that
// feeds the logs without ever blocking a logger.
//
// Open checks an existing file read-only before it opens it for writing (its
// pages, and the records a start reads), and reports a damaged or foreign
// file as ErrCorrupt without touching it; a sound file of the current schema
// is not written by Open at all. With WithWritesHeld, the store's own writes
// (log lines, pruning, the web version) wait for ReleaseWrites, so that a
// start that fails after Open leaves the file as it was. The
// data directory (DefaultDataDir, Paths) also holds whatsmeow's device
// database, DevicesFile.
package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"warden/core"
)

// Bucket names. Open creates them all, through the migrations, in one Update.
var (
	bucketMeta     = []byte("meta")
	bucketAccounts = []byte("accounts")
	bucketEvents   = []byte("events")
	bucketLogs     = []byte("logs")
	bucketSettings = []byte("settings")
	bucketInbox    = []byte("inbox") // its account buckets' msgs and keys: inbox.go

	keyVersion = []byte("version")
)

// Errors callers branch on (with errors.Is).
var (
	// ErrLocked means another process (another Warden) holds the database file.
	ErrLocked = errors.New("data directory locked")
	// ErrCorrupt means the file is damaged or is not a Warden database. The
	// file is left as it was.
	ErrCorrupt = errors.New("the file is damaged or not a Warden database")
	// ErrNewerSchema means the file was written by a newer Warden.
	ErrNewerSchema = errors.New("the file was written by a newer version of Warden")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("store closed")
	// ErrSequence is returned when an event's Seq is not above the account's
	// last stored sequence.
	ErrSequence = errors.New("event sequence is not above the last stored one")
)

// Defaults of the options.
const (
	DefaultMaxEvents     = 100_000
	DefaultMaxAge        = 90 * 24 * time.Hour
	DefaultLogCap        = 20_000
	DefaultLockTimeout   = 1 * time.Second
	DefaultPruneInterval = 10 * time.Minute
)

// Retention limits an account's timeline: at most MaxEvents events, none older
// than MaxAge. The newest event of an account is always kept. The inboxes'
// retention (WithMessageRetention) is one too, MaxEvents counting messages.
type Retention struct {
	MaxEvents int           `json:"max_events"`
	MaxAge    time.Duration `json:"max_age"`
}

// Option configures Open.
type Option func(*options)

type options struct {
	logger           *slog.Logger
	retention        Retention
	messageRetention Retention
	now              func() time.Time
	lockTimeout      time.Duration
	logCap           int
	pruneInterval    time.Duration
	held             bool
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRetention sets the default event retention (non-positive values keep
// the defaults, 100,000 events and 90 days); the settings override it.
func WithRetention(maxEvents int, maxAge time.Duration) Option {
	return func(o *options) { o.retention = Retention{MaxEvents: maxEvents, MaxAge: maxAge} }
}

// WithMessageRetention sets the retention of each account's inbox: at most
// max messages, none received more than maxAge ago (non-positive values keep
// the defaults, core.DefaultMaxMessages and core.DefaultMessageMaxAge). The
// newest message is always kept.
func WithMessageRetention(max int, maxAge time.Duration) Option {
	return func(o *options) { o.messageRetention = Retention{MaxEvents: max, MaxAge: maxAge} }
}

// WithNow sets the clock used for retention by age (default time.Now).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLockTimeout sets how long Open waits for the file lock before it
// returns ErrLocked (default 1 s).
func WithLockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// WithLogCap sets how many log lines are kept per account (default 20,000).
func WithLogCap(n int) Option { return func(o *options) { o.logCap = n } }

// WithPruneInterval sets how often the pruner runs (default 10 minutes). It
// also runs once shortly after Open and whenever the retention settings change.
func WithPruneInterval(d time.Duration) Option { return func(o *options) { o.pruneInterval = d } }

// WithWritesHeld makes the store write nothing by itself until
// ReleaseWrites: the log handler keeps its lines in memory, so does
// SaveWebVersion (which the dialer calls in the background), and the pruner
// waits. A start that fails after Open then leaves the file as it was: Close
// before ReleaseWrites drops the held lines. Explicit writes (PutAccount,
// AppendEvents, SaveSettings…) are not held.
func WithWritesHeld() Option { return func(o *options) { o.held = true } }

// DB is Warden's store. It is safe for concurrent use.
type DB struct {
	bolt   *bolt.DB
	path   string
	log    *slog.Logger
	now    func() time.Time
	logCap int

	sink     *logSink       // LogHandler's buffer and flusher
	writes   chan *writeReq // to the writer goroutine
	pruneNow chan struct{}  // nudges the pruner; buffered 1
	closing  chan struct{}  // closed by Close
	released chan struct{}  // closed by ReleaseWrites (at Open without WithWritesHeld)
	release  sync.Once
	wg       sync.WaitGroup // the writer and the pruner

	closeOnce sync.Once
	closeErr  error

	retentionOption Retention // the option's value: the setting's default
	// messageRetention is the inboxes' retention; MaxEvents counts messages.
	messageRetention Retention

	// mu guards the following.
	mu        sync.Mutex
	retention Retention // the retention in force: the setting's, else the option's
	// heldVersion is the web version saved under WithWritesHeld, written
	// by ReleaseWrites.
	heldVersion *webVersionRecord
}

// Open opens (creating it if needed) the store at path. The directory is
// created with mode 0700 and the file with 0600; an existing file that other
// users may read is set to 0600, and the logger told.
//
// It returns ErrLocked, after the lock timeout, when another process holds the
// file; ErrCorrupt when the file is damaged or not a Warden database, or a
// record Warden reads at start (an account, the last event of a timeline)
// does not decode (the file is not modified); ErrNewerSchema when a newer
// Warden wrote it. An empty file is taken as a new store: a crash before the
// first write leaves one. A sound file of the current schema is not written
// to by Open itself; one of an older schema is migrated.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{
		logger:        slog.Default(),
		retention:     Retention{MaxEvents: DefaultMaxEvents, MaxAge: DefaultMaxAge},
		now:           time.Now,
		lockTimeout:   DefaultLockTimeout,
		logCap:        DefaultLogCap,
		pruneInterval: DefaultPruneInterval,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.lockTimeout <= 0 {
		o.lockTimeout = DefaultLockTimeout // bbolt would wait forever
	}
	if o.logCap <= 0 {
		o.logCap = DefaultLogCap
	}
	if o.pruneInterval <= 0 {
		o.pruneInterval = DefaultPruneInterval
	}
	if o.retention.MaxEvents <= 0 {
		o.retention.MaxEvents = DefaultMaxEvents
	}
	if o.retention.MaxAge <= 0 {
		o.retention.MaxAge = DefaultMaxAge
	}
	if o.messageRetention.MaxEvents <= 0 {
		o.messageRetention.MaxEvents = core.DefaultMaxMessages
	}
	if o.messageRetention.MaxAge <= 0 {
		o.messageRetention.MaxAge = core.DefaultMessageMaxAge
	}
	dir := filepath.Dir(path)
	if err := EnsureDataDir(dir); err != nil {
		return nil, err
	}
	// A store that is new (no file, or an empty one) and cannot be set up,
	// for a full disk say, is put back as it was, not left half-written.
	undo := func() {}
	if info, err := os.Stat(path); err == nil {
		if info.Size() == 0 {
			undo = func() { _ = os.Truncate(path, 0) }
		}
		if info.Size() > 0 {
			if err := checkFile(path, o.lockTimeout); err != nil {
				return nil, err
			}
		}
		// Windows has ACLs, not modes. A damaged file is left as it is.
		if mode := info.Mode().Perm(); runtime.GOOS != "windows" && mode&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return nil, fmt.Errorf("open store: %s is accessible by other users (mode %v) and its mode could not be set to 0600: %w", path, mode, err)
			}
			o.logger.Warn("the store file was accessible by other users; Warden set its mode to 0600",
				"file", path, "mode", mode.String())
		}
	} else if errors.Is(err, os.ErrNotExist) {
		undo = func() { _ = os.Remove(path) }
	} else {
		return nil, fmt.Errorf("open store: %w", err)
	}

	bdb, err := openBolt(path, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		if !errors.Is(err, ErrLocked) { // a locked file is another Warden's
			undo()
		}
		return nil, err
	}
	// Grow the file in larger steps: fewer syncs of a growing file.
	bdb.AllocSize = 4 << 20

	// An Update commits even when it changes nothing, so it runs only when
	// a migration is due.
	var version int
	err = bdb.View(func(tx *bolt.Tx) (err error) { version, err = readVersion(tx); return err })
	if err == nil && version != schemaVersion {
		err = bdb.Update(func(tx *bolt.Tx) error { return migrate(tx, migrations, o.logger) })
	}
	if err != nil {
		_ = bdb.Close()
		undo()
		if errors.Is(err, ErrCorrupt) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return nil, fmt.Errorf("open %s: migrate: %w", path, err)
	}

	db := &DB{
		bolt:            bdb,
		path:            path,
		log:             o.logger,
		now:             o.now,
		logCap:          o.logCap,
		writes:          make(chan *writeReq),
		pruneNow:        make(chan struct{}, 1),
		closing:         make(chan struct{}),
		released:        make(chan struct{}),
		retention:       o.retention,
		retentionOption: o.retention,

		messageRetention: o.messageRetention,
	}
	s, err := db.Settings(context.Background())
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	db.retention = s.EventRetention

	db.sink = newLogSink(db)
	db.sink.held = o.held
	if !o.held {
		db.ReleaseWrites()
	}
	db.wg.Add(2)
	go db.writeLoop()
	go db.pruneLoop(o.pruneInterval)
	go db.sink.run()
	return db, nil
}

// ReleaseWrites ends WithWritesHeld: the held log lines and web version are
// written and the pruner starts. It is safe to call twice.
func (db *DB) ReleaseWrites() {
	db.release.Do(func() {
		db.mu.Lock()
		close(db.released)
		v := db.heldVersion
		db.heldVersion = nil
		db.mu.Unlock()
		if v != nil {
			if err := db.saveWebVersion(context.Background(), *v); err != nil {
				db.log.Warn("saving the WhatsApp Web version failed", "err", err)
			}
		}
		db.sink.release()
	})
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close writes the log lines LogHandler buffered, stops the writer and the
// pruner and closes the file. Appends already accepted are committed first.
// It is safe to call twice.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.sink.close() // needs the writer
		close(db.closing)
		db.wg.Wait()
		if err := db.bolt.Close(); err != nil {
			db.closeErr = fmt.Errorf("close %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// closed reports whether Close has been called.
func (db *DB) closed() bool {
	select {
	case <-db.closing:
		return true
	default:
		return false
	}
}

// view runs fn in a read transaction, after checking the store is open.
func (db *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if db.closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// update runs fn in a write transaction of its own (not through the writer).
func (db *DB) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if db.closed() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(fn)
}

func seqKey(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
