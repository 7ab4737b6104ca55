// Package core is Warden's engine: accounts, their state machine, the reconnect
// policies and the Manager that runs one WhatsApp session per account.
//
// core imports no Fyne, no bbolt and no whatsmeow. It talks to the outside through
// two small ports it defines itself: Dialer/Session (core/whatsapp implements them
// with whatsmeow, core/coretest with an in-memory fake) and Store (core/store
// implements it with bbolt).
//
// The one invariant everything here protects: one client per account, always.
// It rests on three guards:
//  1. one session at a time: a new Session is created only after the previous
//     one's Close has returned (each account runs its actions in order);
//  2. epochs: every session has an epoch, and events of an older epoch are dropped;
//  3. one pending reconnection: at most one reconnect timer or dial per account.
package core

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// AccountID identifies an account. It never changes, even when the account is
// renamed or paired to another phone.
type AccountID string

// Account is what Warden stores about a WhatsApp account (a "connection").
type Account struct {
	ID        AccountID `json:"id"`
	Name      string    `json:"name"`
	JID       string    `json:"jid,omitempty"` // empty until paired
	CreatedAt time.Time `json:"created_at"`
	// AutoStart is true while the operator wants the account running. It is
	// cleared by Disconnect and by the states that need the operator, and it
	// decides which accounts Start brings back after a restart.
	AutoStart bool `json:"auto_start"`
	// Proxy is the account's own proxy URL (see NormalizeProxy), ProxyDirect
	// for none even when a default proxy is set, or "" for the default.
	Proxy string `json:"proxy,omitempty"`
}

// Phone returns the user part of the account's JID ("15551234567" of
// "15551234567.0:12@s.whatsapp.net"), or "" when the account is not paired.
func (a Account) Phone() string {
	user := a.JID
	for i, r := range user {
		if r == '@' || r == ':' || r == '.' {
			user = user[:i]
			break
		}
	}
	return user
}

// Device returns the account's WhatsApp device in one canonical form, "user:device@server"
// (the agent dropped, device 0 left out), so that two spellings of one
// device compare equal; "" when the account is not paired. Two accounts with
// the same Device hold the same keys and must never both run.
func (a Account) Device() string {
	return CanonicalDevice(a.JID)
}

// CanonicalDevice returns a device JID in the canonical form of
// Account.Device: "15551234567.0:12@s.whatsapp.net" and
// "15551234567:12@s.whatsapp.net" are one device. A JID it cannot read is
// returned as it is.
func CanonicalDevice(jid string) string {
	at := strings.LastIndexByte(jid, '@')
	if jid == "" || at <= 0 {
		return jid
	}
	user, server := jid[:at], jid[at+1:]
	device := ""
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user, device = user[:i], user[i+1:]
		n, err := strconv.ParseUint(device, 10, 16)
		if err != nil {
			return jid
		}
		device = strconv.FormatUint(n, 10)
	}
	if i := strings.IndexByte(user, '.'); i >= 0 {
		user = user[:i]
	}
	if device == "" || device == "0" {
		return user + "@" + server
	}
	return user + ":" + device + "@" + server
}

// State is the state of one account. See the table in DESIGN.md.
type State int

// The states of an account.
const (
	Idle       State = iota // not running: stopped by the operator, or never ran
	Pairing                 // QR codes or a phone code are shown
	Connecting              // a session is dialling or logging in
	Connected               // logged in and receiving
	Waiting                 // between attempts; Attempt and NextAttempt say what comes next
	Replaced                // another client took the account (stream conflict, 440)
	LoggedOut               // the phone unlinked the device; it needs pairing again
	Banned                  // temporarily banned until NextAttempt
	Outdated                // WhatsApp says this client is too old (405)
	Failed                  // another permanent failure; Reason says which
)

// States lists every state in declaration order.
var States = []State{Idle, Pairing, Connecting, Connected, Waiting, Replaced, LoggedOut, Banned, Outdated, Failed}

var stateNames = [...]string{"Idle", "Pairing", "Connecting", "Connected", "Waiting", "Replaced", "LoggedOut", "Banned", "Outdated", "Failed"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state's name, so stored events read well.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return errors.New("core: unknown state " + string(b))
}

// Status is the live state of one account, as the UI shows it.
type Status struct {
	Account Account
	State   State
	Since   time.Time // when the account entered State

	// Attempt is the number of the next (in Waiting) or current (in
	// Connecting) reconnect attempt; 0 when none is pending.
	Attempt int
	// NextAttempt is when the next dial happens: in Waiting, in Replaced while a
	// takeover is pending, and in Banned (the expiry). Zero when nothing is
	// scheduled; a Replaced or Banned account with a zero NextAttempt is parked
	// until the operator acts.
	NextAttempt time.Time
	// Reason says why the account is in this state, in an operator's words.
	Reason string
	// Problem is what kept the last dial from reaching WhatsApp, kept while
	// the account tries again (Waiting, Connecting) or, unpaired, was
	// stopped by it (Idle); ProblemNone otherwise. Reason then says it in
	// one line and Detail is the dial's error as it came, for a Details
	// control. Refusals counts the dials in a row that failed with Problem.
	Problem  DialProblem `json:",omitzero"`
	Refusals int         `json:",omitzero"`
	Detail   string      `json:",omitempty"`

	// QR pairing, in Pairing.
	QRCode    string
	QRIndex   int // 1-based
	QRTotal   int
	QRExpires time.Time

	// Epoch is the current (or last) session's epoch.
	Epoch uint64

	// KeepAliveFailingSince is set while the server leaves keepalives
	// unanswered on a Connected session.
	KeepAliveFailingSince time.Time
	// LastCheck is the outcome of the last periodic self-check.
	LastCheck SelfCheck
	// Removed is set on the last Status published for a deleted account.
	Removed bool
	// Traffic is what the account sent and received, for the Overview.
	Traffic Traffic `json:",omitzero"`
	// Node, in a fleet, is the Warden node that runs the account ("" when
	// none does, and outside a fleet). Set by core/cluster's Console.
	Node string `json:",omitempty"`
}

// NeedsAction reports whether the account waits for the operator: it will not
// recover by itself.
func (s Status) NeedsAction() bool {
	switch s.State {
	case LoggedOut, Outdated, Failed:
		return true
	case Replaced, Banned:
		return s.NextAttempt.IsZero()
	case Waiting, Connecting:
		// Warden keeps trying, but a proxy that keeps refusing is the
		// operator's to fix.
		return s.Stuck()
	}
	return false
}

// Stuck reports whether the account's dials keep failing in a way only the
// operator can fix: RefusalLimit times in a row the same problem that
// NeedsOperator, such as a proxy refusing the password.
func (s Status) Stuck() bool {
	return s.Problem.NeedsOperator() && s.Refusals >= RefusalLimit
}

// Event is one entry of an account's timeline: a transition, or a note such as a
// skipped reconnection or a dropped stale event (those have From == To).
type Event struct {
	Seq     uint64        `json:"seq"`
	Account AccountID     `json:"account"`
	At      time.Time     `json:"at"`
	From    State         `json:"from"`
	To      State         `json:"to"`
	Cause   string        `json:"cause"`            // what triggered it: a command, a session event, a timer
	Reason  string        `json:"reason,omitempty"` // in an operator's words
	Attempt int           `json:"attempt,omitempty"`
	Delay   time.Duration `json:"delay,omitempty"` // the delay chosen before the next dial
	Epoch   uint64        `json:"epoch,omitempty"`
	// MessageID is set on the notes of a sent message (sent, failed, delivered).
	MessageID string `json:"message_id,omitempty"`
	// Latency is set on the note of an acknowledged message (CauseSent): the
	// time from handing it to the session to WhatsApp's ack, as
	// SendResult.Latency. For metrics; the Reason says it in words.
	Latency time.Duration `json:"latency,omitempty"`
	// Token is the fencing token of the fleet node's ownership of the
	// account (see Gate) when the event happened; 0 outside a fleet.
	Token int64 `json:"token,omitempty"`
}

// Causes of events. A command's cause is the command's name.
const (
	CauseConnect      = "connect"
	CauseDisconnect   = "disconnect"
	CauseLogout       = "logout"
	CauseDelete       = "delete"
	CauseTimer        = "timer"
	CauseDialFailed   = "dial failed"
	CauseZombie       = "keepalive timeout"
	CauseLoginTimeout = "login timeout"
	CauseStale        = "stale event dropped"
	CauseSkipped      = "already reconnecting, skipped"
	CauseStartup      = "warden started"
	CauseShutdown     = "warden stopped"
	CauseLogoutError  = "logout failed"
)

// Dialer creates sessions. It is core's port to WhatsApp.
type Dialer interface {
	// NewSession returns a new, unconnected session for acct. Every event of that
	// session is passed to emit, from any goroutine. emit returns nil, except
	// for a SessionMessage that could not be stored: the session must then
	// not tell WhatsApp the message was delivered, so that WhatsApp delivers
	// it again. ctx bounds the making
	// (reading the device keys): the Manager cancels it when the dial is
	// abandoned or this node's right to run the account ends.
	NewSession(ctx context.Context, acct Account, emit func(SessionEvent) error) (Session, error)
	// DeleteDevice removes the account's device keys (used by Delete).
	DeleteDevice(ctx context.Context, acct Account) error
}

// Session is one client connection of one account.
type Session interface {
	// Connect dials and logs in, or starts pairing if the account has no device.
	// A nil error means the socket is up, not that the login succeeded: that is
	// reported by a SessionConnected event.
	Connect(ctx context.Context) error
	// PairPhone asks for a phone pairing code; only while pairing.
	PairPhone(ctx context.Context, phone string) (code string, err error)
	// Logout unlinks the device on the phone. It returns an error (ErrNotConnected)
	// when offline and never hangs.
	Logout(ctx context.Context) error
	// SendText sends a text message to the phone number to (digits only, country
	// code first, as NormalizePhone returns it) and returns once WhatsApp's server
	// acknowledged it. It never queues: if the session is not logged in and its
	// socket is not up, it fails at once with an error wrapping ErrNotConnected.
	// Errors wrap ErrNotOnWhatsApp, ErrNoDevices, ErrRateLimited, ErrNoAck or
	// ErrNotConnected when they are one of those. A delivery receipt from the
	// recipient's phone comes later as a SessionDelivered event.
	SendText(ctx context.Context, to, text string) (Sent, error)
	// Close returns only when the socket is closed. It is safe to call twice.
	Close()
	// Abort tears the socket down at once, without the goodbye that Close
	// exchanges with the server, and makes a Close in progress return. It is
	// safe to call at any time, before, during or after Close; Close must
	// still be called. The fence uses it when a polite close takes too long:
	// what counts is that no logged-in socket outlives the node's lease.
	Abort()
}

// Sent is what WhatsApp's server acknowledged of a sent message.
type Sent struct {
	ID         string    // the message ID
	ServerTime time.Time // the server's timestamp on the ack
}

// SessionEventKind says what happened to a session.
type SessionEventKind int

// The kinds of session events.
const (
	SessionConnected SessionEventKind = iota + 1
	SessionQR
	SessionPairSuccess
	SessionPairError
	SessionDisconnected
	SessionReplaced
	SessionLoggedOut
	SessionTemporaryBan
	SessionOutdated
	SessionConnectFailure
	SessionKeepAliveTimeout
	SessionKeepAliveRestored
	SessionQRTimeout
	SessionDelivered // a recipient's phone received a message: MessageID, At
	SessionMessage   // a message came in: Message; emit returns whether it was stored
	SessionRead      // a recipient read a message: MessageID, At
)

var sessionEventNames = [...]string{"", "connected", "qr", "pair success", "pair error", "disconnected", "replaced",
	"logged out", "temporary ban", "outdated", "connect failure", "keepalive timeout", "keepalive restored", "qr timeout", "delivered", "message", "read"}

func (k SessionEventKind) String() string {
	if k > 0 && int(k) < len(sessionEventNames) {
		return sessionEventNames[k]
	}
	return "SessionEventKind(" + strconv.Itoa(int(k)) + ")"
}

// SessionEvent is what a session reports.
type SessionEvent struct {
	Kind      SessionEventKind
	JID       string    // PairSuccess
	QRCode    string    // QR
	QRIndex   int       // QR, 1-based
	QRTotal   int       // QR
	QRExpires time.Time // QR
	Code      int       // LoggedOut, TemporaryBan, ConnectFailure, Disconnected (a stream error code)
	Reason    string    // free text from the server or the adapter
	Until     time.Time // TemporaryBan: the expiry
	MessageID string    // Delivered, Read: the message a receipt is for
	At        time.Time // Delivered, Read: when the receipt says the phone received it, or it was read
	Message   *Message  // Message: what came in (its Account and Seq are set by the Manager)
}

// Store keeps accounts and their timelines. core/store implements it on bbolt.
type Store interface {
	Accounts(ctx context.Context) ([]Account, error)
	PutAccount(ctx context.Context, a Account) error
	// DeleteAccount removes the account and its events.
	DeleteAccount(ctx context.Context, id AccountID) error
	// AppendEvents stores events. An event with Seq 0 gets the account's next
	// sequence number; an event with a Seq keeps it (it must be above the last).
	AppendEvents(ctx context.Context, evs ...Event) error
	// Events returns the account's newest events, at most limit, newest last.
	Events(ctx context.Context, id AccountID, limit int) ([]Event, error)
}

// Errors callers branch on.
var (
	ErrUnknownAccount   = errors.New("no such account")
	ErrNotConnected     = errors.New("the account is not connected")
	ErrAlreadyConnected = errors.New("the account is already connected")
	ErrBusy             = errors.New("the account is busy with another operation")
	ErrInvalidName      = errors.New("invalid name")
	ErrInvalidPhone     = errors.New("invalid phone number")
	ErrNotPairing       = errors.New("the account is not pairing")
	ErrClosed           = errors.New("warden is shutting down")
	// Send failures, each in an operator's words.
	ErrNotOnWhatsApp = errors.New("the number is not on WhatsApp")
	ErrNoDevices     = errors.New("the number has no device that can receive messages")
	ErrRateLimited   = errors.New("WhatsApp is rate-limiting this account: wait a few minutes before sending again")
	ErrNoAck         = errors.New("WhatsApp did not acknowledge the message in time")
	// ErrStillLinked is returned (wrapped) by Delete when the account was deleted
	// but its device could not be unlinked on WhatsApp: the operator must remove
	// it on the phone (Settings → Linked devices).
	ErrStillLinked = errors.New("the device is still linked on the phone")
	// ErrDeviceInUse is the dial error of an account whose WhatsApp device
	// another account here holds (it runs, or is being deleted): one device,
	// one client.
	ErrDeviceInUse = errors.New("another account in Warden holds this WhatsApp device")
)
