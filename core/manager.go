package core

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	randv2 "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Config configures a Manager.
type Config struct {
	Dialer Dialer
	Store  Store
	Policy Policy       // zero value: DefaultPolicy()
	Logger *slog.Logger // nil: discard
	// Now returns the current time. It must advance with real time, because
	// timers are real (tests run in testing/synctest bubbles). Nil: time.Now.
	Now func() time.Time
	// Rand returns a number in [0,1) for the jitter. Nil: math/rand/v2.
	Rand func() float64
	// LogoutTimeout bounds a logout; zero: 15 s.
	LogoutTimeout time.Duration
	// CloseTimeout bounds a session's polite close: past it, the session is
	// torn down (Session.Abort). Zero: 10 s.
	CloseTimeout time.Duration
	// Gate, in a fleet, decides which accounts this Manager may dial (see
	// ownership.go). Nil: every account.
	Gate Gate
	// Inbox keeps the messages the accounts receive. Nil: the Store, when
	// it implements Inbox; a Manager without one refuses every message,
	// which WhatsApp then keeps.
	Inbox Inbox
}

// Manager runs every account: one state machine and at most one session each.
// All its methods are safe for concurrent use.
type Manager struct {
	dialer        Dialer
	store         Store
	inbox         Inbox // nil: messages are refused
	log           *slog.Logger
	now           func() time.Time
	rand          func() float64
	logoutTimeout time.Duration
	closeTimeout  time.Duration
	gate          Gate // nil: dial every account
	policy        atomic.Pointer[Policy]

	hub    fanout[Status] // coalesced status updates
	evhub  fanout[Event]  // timeline events, in order
	events *eventLog
	runs   sync.WaitGroup // the accounts' runners
	bg     sync.WaitGroup // the self-check loop, its checks and every send in flight
	ctx    context.Context
	stop   context.CancelFunc

	staleDropped atomic.Uint64
	skipped      atomic.Uint64

	regMu sync.Mutex // serializes adding accounts: Add, AddExisting, Refresh

	devMu sync.Mutex // never held with an account's mu
	// devMu guards the following: which account holds each device
	// (Account.Device) while it dials, runs or is being deleted.
	devices map[string]AccountID

	mu sync.RWMutex
	// mu guards the following
	accounts map[AccountID]*account
	started  bool
	closed   bool

	closeOnce sync.Once
	closeErr  error
}

// account is the Manager's record of one account.
type account struct {
	id  AccountID
	log *slog.Logger

	mu sync.Mutex
	// mu guards the following
	m       machine
	seq     uint64 // the last event's sequence number
	queue   []action
	running bool // a runner goroutine is draining queue
	closed  bool // the Manager is closing: no new work
	sess    Session
	sessEp  uint64 // the epoch of sess
	cancel  context.CancelFunc
	timers  [numTimers]*time.Timer
	pending []pending // sent messages waiting for a delivery receipt, oldest first
	// checking is set while a self-check of the account runs.
	checking bool
	// token is the fencing token of this node's ownership of the account
	// (with a Gate), recorded on its events.
	token int64
	// closing is the session being closed, for Abort.
	closing Session
	// claim is the device the account holds (see claimDevice) for its
	// session, or for its delete.
	claim string
	// rxEpoch is the epoch of the session whose message the account last
	// received (see noteReceived).
	rxEpoch uint64
}

// NewManager returns a Manager. Call Start to load the stored accounts.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Dialer == nil || cfg.Store == nil {
		return nil, errors.New("core: a Manager needs a Dialer and a Store")
	}
	p := cfg.Policy
	if p.Schedule == nil {
		p = DefaultPolicy()
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		dialer:        cfg.Dialer,
		store:         cfg.Store,
		inbox:         cfg.Inbox,
		log:           cfg.Logger,
		now:           cfg.Now,
		rand:          cfg.Rand,
		logoutTimeout: cfg.LogoutTimeout,
		closeTimeout:  cfg.CloseTimeout,
		gate:          cfg.Gate,
		accounts:      make(map[AccountID]*account),
		devices:       make(map[string]AccountID),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.inbox == nil {
		m.inbox, _ = cfg.Store.(Inbox)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = randv2.Float64
	}
	if m.logoutTimeout <= 0 {
		m.logoutTimeout = 15 * time.Second
	}
	if m.closeTimeout <= 0 {
		m.closeTimeout = 10 * time.Second
	}
	m.policy.Store(&p)
	m.hub.newQueue, m.evhub.newQueue = newStatusQueue, newEventQueue
	m.ctx, m.stop = context.WithCancel(context.Background())
	m.events = newEventLog(cfg.Store, m.log)
	return m, nil
}

// Policy returns the policy in force.
func (m *Manager) Policy() Policy { return *m.policy.Load() }

// SetPolicy replaces the policy; it applies to every decision from now on.
func (m *Manager) SetPolicy(p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	p.Schedule = slices.Clone(p.Schedule)
	m.policy.Store(&p)
	return nil
}

// Start loads the stored accounts and starts again those that were running
// when Warden was closed, spread over a few seconds.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.started {
		m.mu.Unlock()
		return errors.New("core: the Manager is already started")
	}
	m.started = true
	m.bg.Add(1)
	go m.selfChecks()
	m.mu.Unlock()

	accts, err := m.store.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("load accounts: %w", err)
	}
	slices.SortFunc(accts, compareAccounts)
	// Everything loads before any account is added: a Start that fails
	// leaves none, so that Close writes nothing to a store that did not load.
	lastStates := make([]State, len(accts))
	loaded := make([]*account, len(accts))
	for i, acct := range accts {
		a := m.newAccount(acct)
		last, err := m.store.Events(ctx, acct.ID, 1)
		if err != nil {
			return fmt.Errorf("load the timeline of %s: %w", acct.ID, err)
		}
		lastStates[i] = Idle
		if len(last) > 0 {
			a.seq, a.m.Epoch, lastStates[i] = last[0].Seq, last[0].Epoch, last[0].To
		}
		loaded[i] = a
	}
	missing := m.keysMissing(ctx, accts)
	var autostart, keyless []*account
	for i, acct := range accts {
		a, lastState := loaded[i], lastStates[i]
		m.mu.Lock()
		m.accounts[acct.ID] = a
		m.mu.Unlock()
		m.hub.publish(a.m.Status)
		// A logout (by the operator or the phone) deletes the keys and
		// turns AutoStart off: those keys are not missing, they are gone.
		loggedOut := lastState == LoggedOut && !acct.AutoStart
		if missing[acct.ID] && !loggedOut && m.mayRun(acct.ID) == nil {
			keyless = append(keyless, a)
			continue
		}
		if acct.AutoStart && acct.JID != "" {
			if m.mayRun(acct.ID) != nil {
				a.m.Reason = ReasonElsewhere // its node starts it once it owns it
			} else {
				autostart = append(autostart, a)
			}
		}
	}
	p := m.Policy()
	gap := p.StartSpread
	if n := len(autostart); n > 1 && p.StartWindow > 0 && gap*time.Duration(n-1) > p.StartWindow {
		gap = p.StartWindow / time.Duration(n-1)
	}
	for i, a := range autostart {
		m.inputTo(a, input{kind: inStartup, delay: time.Duration(i) * gap})
	}
	for _, a := range keyless {
		m.inputTo(a, input{kind: inKeysMissing})
	}
	if len(keyless) > 0 {
		m.log.Warn("some paired accounts have no device keys in devices.db: they need pairing again, "+
			"unless devices.db is put back from a backup", "accounts", len(keyless))
	}
	m.mu.Lock()
	if !m.closed {
		m.bg.Add(1)
		go m.loadTraffic(loaded)
	}
	m.mu.Unlock()
	m.log.Info("manager started", "accounts", len(accts), "autostart", len(autostart))
	return nil
}

func (m *Manager) newAccount(acct Account) *account {
	return &account{
		id:  acct.ID,
		log: m.log.With("account", string(acct.ID)),
		m:   machine{Status: Status{Account: acct, State: Idle, Since: m.now()}},
	}
}

func compareAccounts(a, b Account) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// MaxNameLen is the longest account name, in characters.
const MaxNameLen = 64

// ValidateName checks an account name and returns it trimmed.
func ValidateName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: the name is empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: the name is not valid text", ErrInvalidName)
	case utf8.RuneCountInString(name) > MaxNameLen:
		return "", fmt.Errorf("%w: the name is longer than %d characters", ErrInvalidName, MaxNameLen)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: the name contains control characters", ErrInvalidName)
	}
	return name, nil
}

// NormalizePhone checks a phone number for pairing by code and returns its
// digits: international format, country code first, 8 to 15 digits (E.164).
// Spaces, dashes, dots, parentheses and one leading "+" are allowed and
// dropped. Errors wrap ErrInvalidPhone and say what to type instead.
func NormalizePhone(phone string) (string, error) {
	bad := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s", ErrInvalidPhone, fmt.Sprintf(format, args...))
	}
	const example = "enter the phone number with its country code, for example +1 555 123 4567"
	s := strings.TrimPrefix(strings.TrimSpace(phone), "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		case r == '+':
			return bad(`"+" may only come first, before the country code`)
		default:
			return bad("%q is not allowed: use digits only, with the country code first", r)
		}
	}
	digits := b.String()
	switch {
	case digits == "":
		return bad(example)
	case strings.HasPrefix(digits, "00"):
		return bad(`leave out the "00": start with the country code, for example 44 7700 900123`)
	case digits[0] == '0':
		return bad("start with the country code, not 0: for example +44 7700 900123 instead of 07700 900123")
	case len(digits) < 8:
		return bad("%d digits is too short: a number with its country code has 8 to 15 digits", len(digits))
	case len(digits) > 15:
		return bad("%d digits is too long: a number with its country code has at most 15 digits", len(digits))
	}
	return digits, nil
}

func newAccountID() AccountID {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return AccountID("a" + hex.EncodeToString(b[:]))
}

// Add creates an account and starts pairing it. The options (WithProxy) are
// applied before the first dial.
func (m *Manager) Add(ctx context.Context, name string, opts ...AccountOption) (Account, error) {
	name, err := ValidateName(name)
	if err != nil {
		return Account{}, err
	}
	acct := Account{ID: newAccountID(), Name: name, CreatedAt: m.now().UTC().Truncate(time.Millisecond), AutoStart: true}
	for _, opt := range opts {
		if err := opt(&acct); err != nil {
			return Account{}, err
		}
	}
	added, err := m.register(ctx, []Account{acct}, "account added")
	if len(added) == 1 {
		return added[0], err
	}
	return Account{}, err
}

// register stores new accounts, adds them and starts those that should
// run: all of them, or none. An account without an ID, or with one taken
// here, gets a new ID; one whose WhatsApp device is here already, or twice
// among accts, is refused. When the store refuses one, those stored before
// it are deleted again.
func (m *Manager) register(ctx context.Context, accts []Account, what string) ([]Account, error) {
	m.regMu.Lock()
	defer m.regMu.Unlock()
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	accts = slices.Clone(accts)
	if err := m.admit(accts); err != nil {
		return nil, err
	}
	for i, acct := range accts {
		if err := m.store.PutAccount(ctx, acct); err != nil {
			if len(accts) > 1 {
				err = fmt.Errorf("save %q: %w", acct.Name, err)
			} else {
				err = fmt.Errorf("save the new account: %w", err)
			}
			return nil, m.unregister(ctx, accts[:i], err)
		}
	}
	added := make([]*account, len(accts))
	for i, acct := range accts {
		added[i] = m.newAccount(acct)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, m.unregister(ctx, accts, ErrClosed)
	}
	for i, acct := range accts {
		if m.accounts[acct.ID] != nil { // taken meanwhile: that one is not ours to delete
			m.mu.Unlock()
			ours := slices.Delete(slices.Clone(accts), i, i+1)
			return nil, m.unregister(ctx, ours, fmt.Errorf("%w: account ID %s", ErrBusy, acct.ID))
		}
	}
	for _, a := range added {
		m.accounts[a.id] = a
	}
	m.mu.Unlock()
	var errs []error
	for _, a := range added {
		m.hub.publish(a.m.Status)
		a.log.Info(what)
		acct := a.m.Account
		if !acct.AutoStart || m.mayRun(acct.ID) != nil {
			// In a fleet, the node starts it once it owns it (core/cluster).
			continue
		}
		if err := m.inputTo(a, input{kind: inConnect}); err != nil {
			errs = append(errs, fmt.Errorf("start %s: %w", acct.Name, err))
		}
	}
	return accts, errors.Join(errs...)
}

// admit checks new accounts before register stores them, and gives those
// without an ID, or with one taken, a new one. It refuses a WhatsApp device
// that an account here holds, or that two of accts hold.
func (m *Manager) admit(accts []Account) error {
	// An account being deleted still holds its device: its delete may log
	// out for a while on a live session, and then wipes the keys.
	here := m.Devices()
	twice := make(map[string]string, len(accts))
	ids := make(map[AccountID]bool, len(accts))
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := range accts {
		acct := &accts[i]
		if dev := acct.Device(); dev != "" {
			if holder, held := here[dev]; held {
				return fmt.Errorf("%w: %s (%s), here as %q", ErrDuplicateAccount, acct.Name, MaskPhone(acct.Phone()), holder)
			}
			if other, seen := twice[dev]; seen {
				return fmt.Errorf("%q and %q are one WhatsApp account (%s): add it once", other, acct.Name, MaskPhone(acct.Phone()))
			}
			twice[dev] = acct.Name
		}
		for acct.ID == "" || ids[acct.ID] || m.accounts[acct.ID] != nil {
			acct.ID = newAccountID()
		}
		ids[acct.ID] = true
	}
	return nil
}

// unregister deletes the stored accounts of a register that failed with err,
// and returns err, with any failure to delete them.
func (m *Manager) unregister(ctx context.Context, stored []Account, err error) error {
	for _, acct := range stored {
		if derr := m.store.DeleteAccount(context.WithoutCancel(ctx), acct.ID); derr != nil {
			err = fmt.Errorf("%w; and %q, stored already, could not be removed again: %w", err, acct.Name, derr)
		}
	}
	return err
}

// Connect starts the account, retries now, takes it over from another client or
// pairs it again, depending on its state. It returns once the dial is queued.
func (m *Manager) Connect(ctx context.Context, id AccountID) error {
	if err := m.mayRun(id); err != nil {
		return err
	}
	return m.command(ctx, id, input{kind: inConnect}, false)
}

// Disconnect closes the account's session and keeps its pairing. It returns
// when the session is closed.
func (m *Manager) Disconnect(ctx context.Context, id AccountID) error {
	if err := m.mayRun(id); err != nil {
		return err
	}
	return m.command(ctx, id, input{kind: inDisconnect}, true)
}

// Logout unlinks the device on the phone. It needs a live connection.
func (m *Manager) Logout(ctx context.Context, id AccountID) error {
	if err := m.mayRun(id); err != nil {
		return err
	}
	reply := make(chan result, 1)
	if err := m.command(ctx, id, input{kind: inLogout, reply: reply}, false); err != nil {
		return err
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return fmt.Errorf("log out: %w", r.err)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return m.barrier(ctx, id)
}

// Delete logs the account out if it is live, closes its session, and wipes its
// device keys, the account and its timeline. If the device could not be
// unlinked on WhatsApp, the account is still deleted and the error wraps
// ErrStillLinked: the operator must remove the device on the phone.
func (m *Manager) Delete(ctx context.Context, id AccountID) error {
	if err := m.mayRun(id); err != nil {
		return err
	}
	reply := make(chan result, 1)
	if err := m.command(ctx, id, input{kind: inDelete, reply: reply}, false); err != nil {
		return err
	}
	select {
	case r := <-reply:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PairPhone asks for a pairing code for the phone number; the operator types
// it on the phone. Only while pairing.
func (m *Manager) PairPhone(ctx context.Context, id AccountID, phone string) (string, error) {
	digits, err := NormalizePhone(phone)
	if err != nil {
		return "", err
	}
	if err := m.mayRun(id); err != nil {
		return "", err
	}
	reply := make(chan result, 1)
	if err := m.command(ctx, id, input{kind: inPairPhone, phone: digits, reply: reply}, false); err != nil {
		return "", err
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return "", fmt.Errorf("pair by phone number: %w", r.err)
		}
		return r.code, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Rename changes the account's name.
func (m *Manager) Rename(ctx context.Context, id AccountID, name string) error {
	name, err := ValidateName(name)
	if err != nil {
		return err
	}
	if err := m.mayRun(id); err != nil {
		return err
	}
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	a.mu.Lock()
	if a.m.deleted {
		a.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	if a.m.Account.Name == name {
		a.mu.Unlock()
		return nil
	}
	a.m.Account.Name = name
	m.apply(a, []action{{kind: actSave, account: a.m.Account}})
	m.hub.publish(a.m.Status)
	a.mu.Unlock()
	return m.barrier(ctx, id)
}

// IsConnectionActive reports whether the account is Connected.
func (m *Manager) IsConnectionActive(id AccountID) bool {
	a := m.lookup(id)
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m.State == Connected && !a.m.deleted
}

// Status returns one account's status.
func (m *Manager) Status(id AccountID) (Status, bool) {
	a := m.lookup(id)
	if a == nil {
		return Status{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.m.Status, !a.m.deleted
}

// Statuses returns every account's status, oldest account first.
func (m *Manager) Statuses() []Status {
	accts := m.all()
	out := make([]Status, 0, len(accts))
	for _, a := range accts {
		a.mu.Lock()
		if !a.m.deleted {
			out = append(out, a.m.Status)
		}
		a.mu.Unlock()
	}
	slices.SortFunc(out, func(x, y Status) int { return compareAccounts(x.Account, y.Account) })
	return out
}

// Subscribe returns a stream of status updates. It is coalesced: a slow reader
// gets the newest Status of each account and may miss intermediate ones; it
// never blocks the Manager. A Status with Removed set means the account was
// deleted. The channel is closed by cancel or when the Manager closes.
func (m *Manager) Subscribe() (updates <-chan Status, cancel func()) {
	return m.hub.subscribe()
}

// SubscribeEvents returns a stream of every timeline event as it happens, for
// live timelines. It never blocks the Manager: a reader that falls more than a
// few thousand events behind loses the oldest (the store keeps them all). The
// channel is closed by cancel or when the Manager closes.
func (m *Manager) SubscribeEvents() (events <-chan Event, cancel func()) {
	return m.evhub.subscribe()
}

// Events returns the account's newest timeline events, newest last.
func (m *Manager) Events(ctx context.Context, id AccountID, limit int) ([]Event, error) {
	if m.lookup(id) == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if err := m.events.flush(ctx); err != nil && !errors.Is(err, ErrClosed) {
		return nil, fmt.Errorf("store the timeline: %w", err)
	}
	return m.store.Events(ctx, id, limit)
}

// Counters are the Manager's guard counters, for the logs and the UI.
type Counters struct {
	StaleDropped uint64 // session events of an older epoch, dropped
	Skipped      uint64 // reconnection requests skipped because one was running
}

// Counters returns the guard counters.
func (m *Manager) Counters() Counters {
	return Counters{StaleDropped: m.staleDropped.Load(), Skipped: m.skipped.Load()}
}

// Close closes every session, writes the timeline and stops. It is safe to
// call twice; later commands return ErrClosed.
func (m *Manager) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { m.closeErr = m.close(ctx) })
	return m.closeErr
}

func (m *Manager) close(ctx context.Context) error {
	m.mu.Lock()
	m.closed = true
	accts := make([]*account, 0, len(m.accounts))
	for _, a := range m.accounts {
		accts = append(accts, a)
	}
	m.mu.Unlock()

	for _, a := range accts {
		a.mu.Lock()
		// In a fleet, only the accounts this node runs note the shutdown:
		// the others' timelines are their owners' to write.
		if !a.closed && !a.m.deleted && m.mayRun(a.id) == nil {
			m.stepLocked(a, input{kind: inShutdown})
		}
		a.closed = true
		a.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { m.runs.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		// Out of time: tear down what is still closing, so that no socket
		// outlives Warden.
		for _, a := range accts {
			m.abort(a)
		}
		t := time.NewTimer(abortWait)
		select {
		case <-done:
		case <-t.C:
			err = fmt.Errorf("close sessions: %w", ctx.Err())
		}
		t.Stop()
	}
	m.stop() // cancels any dial, send or self-check still running
	bgDone := make(chan struct{})
	go func() { m.bg.Wait(); close(bgDone) }()
	select {
	case <-bgDone:
	case <-ctx.Done():
		if err == nil {
			err = fmt.Errorf("stop the self-checks: %w", ctx.Err())
		}
	}
	if werr := m.events.close(ctx); werr != nil && err == nil {
		err = fmt.Errorf("store the timeline: %w", werr)
	}
	m.hub.close()
	m.evhub.close()
	m.log.Info("manager closed")
	return err
}

// --- plumbing --------------------------------------------------------------

// all returns every account's record, in no order.
func (m *Manager) all() []*account {
	m.mu.RLock()
	defer m.mu.RUnlock()
	accts := make([]*account, 0, len(m.accounts))
	for _, a := range m.accounts {
		accts = append(accts, a)
	}
	return accts
}

func (m *Manager) lookup(id AccountID) *account {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.accounts[id]
}

// command feeds an operator's command to an account. With wait, it returns
// only after every action the command caused has run.
func (m *Manager) command(ctx context.Context, id AccountID, in input, wait bool) error {
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if err := m.inputTo(a, in); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	return m.barrier(ctx, id)
}

// barrier waits until the account's queued actions have run.
func (m *Manager) barrier(ctx context.Context, id AccountID) error {
	a := m.lookup(id)
	if a == nil {
		return nil // deleted meanwhile: nothing left to wait for
	}
	return m.barrierOf(ctx, a)
}

// barrierOf waits until a's queued actions have run.
func (m *Manager) barrierOf(ctx context.Context, a *account) error {
	done := make(chan result, 1)
	a.mu.Lock()
	if !a.running {
		a.mu.Unlock()
		return nil // nothing in flight
	}
	a.queue = append(a.queue, action{kind: actBarrier, reply: done})
	a.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// input feeds a session event, a timer tick or a runner's result.
func (m *Manager) input(id AccountID, in input) {
	if a := m.lookup(id); a != nil {
		_ = m.inputTo(a, in)
	}
}

func (m *Manager) inputTo(a *account, in input) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	if a.m.deleted {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, a.id)
	}
	return m.stepLocked(a, in)
}

// stepLocked runs step and applies its result. a.mu is held.
func (m *Manager) stepLocked(a *account, in input) error {
	in.rnd = m.rand()
	before := a.m.Status
	next, acts, err := step(a.m, in, m.now(), m.Policy())
	if err != nil {
		return err
	}
	a.m = next
	m.apply(a, acts)
	if a.m.Status != before {
		// Published under a.mu so that updates of one account keep their order;
		// the hub never blocks.
		m.hub.publish(a.m.Status)
	}
	return nil
}

// apply carries out the immediate actions and queues the others. a.mu is held.
func (m *Manager) apply(a *account, acts []action) {
	for _, act := range acts {
		switch act.kind {
		case actArm:
			if t := a.timers[act.timer]; t != nil {
				t.Stop()
			}
			id, k, at := a.id, act.timer, act.at
			a.timers[k] = time.AfterFunc(at.Sub(m.now()), func() {
				m.input(id, input{kind: inTick, timer: k, at: at})
			})
		case actDisarm:
			if t := a.timers[act.timer]; t != nil {
				t.Stop()
				a.timers[act.timer] = nil
			}
		case actRecord:
			a.seq++
			ev := act.event
			ev.Seq = a.seq
			if ev.Token == 0 {
				ev.Token = a.token
			}
			m.logEvent(a, ev)
			m.events.add(ev)
			m.evhub.publish(ev)
		case actClose, actDelete:
			// Stop a dial in progress at once; the close itself runs in order.
			// A delete that logs out first needs its live session.
			if a.cancel != nil && a.sessEp == act.epoch && !act.tryLogout {
				a.cancel()
			}
			m.enqueue(a, act)
		default:
			m.enqueue(a, act)
		}
	}
}

func (m *Manager) logEvent(a *account, ev Event) {
	switch ev.Cause {
	case CauseStale:
		m.staleDropped.Add(1)
		a.log.Debug("dropped a stale session event", "reason", ev.Reason, "epoch", ev.Epoch)
		return
	case CauseSkipped:
		m.skipped.Add(1)
	}
	attrs := []any{"from", ev.From.String(), "to", ev.To.String(), "cause", ev.Cause, "epoch", ev.Epoch}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	if ev.Attempt > 0 {
		attrs = append(attrs, "attempt", ev.Attempt)
	}
	if ev.Delay > 0 {
		attrs = append(attrs, "delay", ev.Delay.Round(time.Millisecond).String())
	}
	// An event that leaves the state as it was (Warden closed while the
	// account waits for the operator, a skipped reconnect) is not a
	// transition, and entering the state already warned.
	if ev.From == ev.To {
		a.log.Info("state "+ev.To.String()+", unchanged", attrs...)
		return
	}
	level := slog.LevelInfo
	switch ev.To {
	case Replaced, LoggedOut, Banned, Outdated, Failed:
		level = slog.LevelWarn
	}
	a.log.Log(context.Background(), level, "state "+ev.From.String()+" → "+ev.To.String(), attrs...)
}

// actBarrier is a queued marker: the runner answers it when it gets there.
const actBarrier actionKind = 100

// enqueue appends an action to the account's queue and makes sure a runner
// drains it. a.mu is held.
func (m *Manager) enqueue(a *account, act action) {
	a.queue = append(a.queue, act)
	if a.running {
		return
	}
	a.running = true
	m.runs.Add(1)
	go m.run(a)
}

// run executes an account's queued actions one after another, so that a
// session is always closed before the next one is dialled.
func (m *Manager) run(a *account) {
	defer m.runs.Done()
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.running = false
			a.queue = nil
			a.mu.Unlock()
			return
		}
		act := a.queue[0]
		a.queue[0] = action{}
		a.queue = a.queue[1:]
		a.mu.Unlock()
		m.exec(a, act)
	}
}

func (m *Manager) exec(a *account, act action) {
	switch act.kind {
	case actDial:
		m.dial(a, act.epoch)
	case actClose:
		m.closeSession(a, act.epoch)
	case actLogout:
		m.logout(a, act)
	case actPairPhone:
		m.pairPhone(a, act)
	case actDelete:
		m.delete(a, act)
	case actSave:
		if err := m.store.PutAccount(m.ctx, act.account); err != nil {
			a.log.Error("saving the account failed", "err", err)
		}
	case actBarrier:
		act.reply <- result{}
	}
}

func (m *Manager) dial(a *account, epoch uint64) {
	a.mu.Lock()
	if a.m.Epoch != epoch || !a.m.open || a.closed {
		a.mu.Unlock()
		return // abandoned before it started
	}
	if a.sess != nil {
		// Unreachable while step is right: the close comes first in the queue.
		a.log.Error("BUG: a session was still open at dial; closing it first", "epoch", a.sessEp)
		old := a.sess
		a.sess = nil
		a.mu.Unlock()
		old.Close()
		a.mu.Lock()
	}
	id := a.id
	var grant Grant
	if m.gate != nil {
		var ok bool
		if grant, ok = m.gate.Allowed(id); !ok {
			a.mu.Unlock()
			m.input(id, input{kind: inDialFailed, epoch: epoch, err: ErrNotOwned, permanent: true})
			return
		}
		a.token = grant.Token
	}
	acct := a.m.Account
	if holder, ok := m.claimDevice(id, acct.Device()); !ok {
		a.mu.Unlock()
		name := string(holder)
		if st, ok := m.Status(holder); ok {
			name = st.Account.Name
		}
		m.input(id, input{kind: inDialFailed, epoch: epoch, err: fmt.Errorf("%w: %q", ErrDeviceInUse, name)})
		return
	}
	a.claim = acct.Device()
	// The dial's context ends when the dial is abandoned (a close, a
	// Disconnect), when the Manager closes, and when this node's right to
	// run the account ends.
	ctx, cancelDial := context.WithCancel(m.ctx)
	cancel := cancelDial
	if grant.Lease != nil {
		stop := context.AfterFunc(grant.Lease, cancelDial)
		cancel = func() { stop(); cancelDial() }
	}
	a.cancel, a.sessEp = cancel, epoch
	a.mu.Unlock()

	sess, err := m.dialer.NewSession(ctx, acct, func(ev SessionEvent) error {
		switch ev.Kind {
		case SessionDelivered, SessionRead:
			m.delivered(id, ev) // a receipt changes no state
			return nil
		case SessionMessage:
			return m.received(id, epoch, ev.Message)
		}
		m.input(id, input{kind: inSession, epoch: epoch, ev: ev})
		return nil
	})
	if err != nil {
		a.mu.Lock()
		dev := a.claim
		a.claim = ""
		a.mu.Unlock()
		m.releaseDevice(id, dev)
		switch {
		case m.gate != nil && !m.allowed(id, grant.Token):
			m.input(id, input{kind: inDialFailed, epoch: epoch, err: ErrNotOwned, permanent: true})
		case ctx.Err() != nil:
			// Abandoned: whoever cancelled it changed the state already.
		default:
			m.input(id, input{kind: inDialFailed, epoch: epoch, err: err, permanent: true})
		}
		return
	}
	a.mu.Lock()
	a.sess = sess
	a.mu.Unlock()
	// The last moment before the socket opens: the node may have lost the
	// account while the session was being made.
	if m.gate != nil && !m.allowed(id, grant.Token) {
		m.input(id, input{kind: inDialFailed, epoch: epoch, err: ErrNotOwned, permanent: true})
		return // the yield's close closes sess
	}
	if ctx.Err() != nil {
		return // closed before it dialled; the queued close closes sess
	}
	if err := sess.Connect(ctx); err != nil {
		// The timeline says it in one line; the log keeps the error chain.
		a.log.Info("the dial failed", "err", err)
		m.input(id, input{kind: inDialFailed, epoch: epoch, err: err})
	}
}

// allowed reports whether the Gate still allows the account under the same
// ownership (token).
func (m *Manager) allowed(id AccountID, token int64) bool {
	g, ok := m.gate.Allowed(id)
	return ok && g.Token == token
}

func (m *Manager) closeSession(a *account, epoch uint64) {
	a.mu.Lock()
	s := a.sess
	if a.sessEp != epoch {
		s = nil
	} else {
		a.sess = nil
		a.closing = s
		if a.cancel != nil {
			a.cancel()
			a.cancel = nil
		}
	}
	a.mu.Unlock()
	if s == nil {
		return
	}
	// A goodbye the server never answers must not keep the socket, nor
	// everything queued behind the close, waiting.
	late := time.AfterFunc(m.closeTimeout, func() {
		a.log.Warn("session torn down: its close took longer than " + m.closeTimeout.String())
		s.Abort()
	})
	s.Close()
	late.Stop()
	a.mu.Lock()
	a.closing = nil
	dev := ""
	if !a.m.deleted { // a delete holds the device until its keys are gone
		dev, a.claim = a.claim, ""
	}
	a.mu.Unlock()
	m.releaseDevice(a.id, dev)
}

func (m *Manager) session(a *account, epoch uint64) Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sessEp != epoch {
		return nil
	}
	return a.sess
}

func (m *Manager) logout(a *account, act action) {
	err := ErrNotConnected
	if s := m.session(a, act.epoch); s != nil {
		ctx, cancel := context.WithTimeout(m.ctx, m.logoutTimeout)
		err = s.Logout(ctx)
		cancel()
	}
	m.input(a.id, input{kind: inLogoutDone, epoch: act.epoch, err: err})
	act.reply <- result{err: err}
}

func (m *Manager) pairPhone(a *account, act action) {
	s := m.session(a, act.epoch)
	if s == nil {
		act.reply <- result{err: ErrNotPairing}
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
	defer cancel()
	code, err := s.PairPhone(ctx, act.phone)
	act.reply <- result{code: code, err: err}
}

// delete runs Delete's steps in order: log out (only a live, logged-in
// session), close, wipe the device keys, then the account and its timeline.
func (m *Manager) delete(a *account, act action) {
	acct := act.account
	// The account holds its device until its keys are gone, session or not.
	if dev := acct.Device(); dev != "" {
		if _, ok := m.claimDevice(a.id, dev); ok {
			a.mu.Lock()
			a.claim = dev
			a.mu.Unlock()
		}
	}
	defer func() {
		a.mu.Lock()
		dev := a.claim
		a.claim = ""
		a.mu.Unlock()
		m.releaseDevice(a.id, dev)
	}()
	s := m.session(a, act.epoch)
	var unlinkErr error
	if act.tryLogout && s != nil {
		ctx, cancel := context.WithTimeout(m.ctx, m.logoutTimeout)
		unlinkErr = s.Logout(ctx)
		cancel()
	} else if act.linked {
		unlinkErr = ErrNotConnected
	}
	m.closeSession(a, act.epoch)

	ctx := m.ctx
	if err := m.dialer.DeleteDevice(ctx, acct); err != nil {
		m.undelete(a, fmt.Errorf("wipe the device keys: %w", err), act.reply)
		return
	}
	reason := "deleted by the operator"
	if unlinkErr != nil {
		reason = "deleted; the device could not be unlinked (" + unlinkErr.Error() +
			"): remove it on the phone in WhatsApp → Settings → Linked devices"
	}
	a.mu.Lock()
	a.seq++
	ev := Event{Seq: a.seq, Account: a.id, At: m.now(), From: a.m.State, To: Idle, Cause: CauseDelete, Reason: reason, Epoch: a.m.Epoch}
	a.mu.Unlock()
	m.logEvent(a, ev)
	m.events.add(ev)
	m.evhub.publish(ev)
	if err := m.events.flush(ctx); err != nil {
		a.log.Warn("storing the last timeline events before delete failed", "err", err)
	}
	if err := m.store.DeleteAccount(ctx, a.id); err != nil {
		m.undelete(a, fmt.Errorf("delete the account's data: %w", err), act.reply)
		return
	}
	m.mu.Lock()
	delete(m.accounts, a.id)
	m.mu.Unlock()
	a.mu.Lock()
	st := a.m.Status
	a.mu.Unlock()
	st.Removed = true
	a.log.Info("account deleted", "unlinked", unlinkErr == nil) // before Removed: its last line
	m.hub.publish(st)
	if unlinkErr != nil {
		act.reply <- result{err: fmt.Errorf("%w: %s was deleted, but its device could not be unlinked (%v); remove it on the phone in WhatsApp → Settings → Linked devices",
			ErrStillLinked, acct.Name, unlinkErr)}
		return
	}
	act.reply <- result{}
}

// undelete puts a half-deleted account back as Idle when wiping failed, so
// nothing is lost and the operator can try again.
func (m *Manager) undelete(a *account, err error, reply chan result) {
	a.mu.Lock()
	a.m.deleted = false
	a.m.State, a.m.Since, a.m.Reason = Idle, m.now(), "delete failed: "+err.Error()
	st := a.m.Status
	a.mu.Unlock()
	m.hub.publish(st)
	a.log.Error("delete failed", "err", err)
	reply <- result{err: fmt.Errorf("delete: %w", err)}
}
