// Package coretest provides in-memory fakes of core's ports for tests: a
// scriptable Dialer whose sessions are driven by the test, and a Store.
//
// The Dialer counts open sessions per account (created and not yet closed) and
// remembers the most ever open at once, so a test can prove the single-client
// invariant: MaxOpen must never exceed 1.
package coretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"warden/core"
)

// ErrOffline is returned by a fake session's Logout when it is not connected.
var ErrOffline = fmt.Errorf("fake session offline: %w", core.ErrNotConnected)

// Dialer is a fake core.Dialer. Its exported fields script the sessions it
// creates; set them before use or under Lock/Unlock.
type Dialer struct {
	mu sync.Mutex
	// mu guards the following and the exported fields.

	// OnConnect runs inside Session.Connect. Nil: the default behaviour,
	// Behave(s): a paired account reports Connected, an unpaired one its first
	// QR code.
	OnConnect func(ctx context.Context, s *Session) error
	// NewSessionErr makes NewSession fail.
	NewSessionErr error
	// LogoutErr makes Logout fail (nil: Logout succeeds when connected).
	LogoutErr error
	// DeleteDeviceErr makes DeleteDevice fail.
	DeleteDeviceErr error
	// PairCode is the code PairPhone returns.
	PairCode string
	// OnSend runs inside SendText of a connected session, instead of the
	// default (an immediate ack). It may block, to play a slow server.
	OnSend func(ctx context.Context, s *Session, to, text string) (core.Sent, error)
	// OnNewSession runs inside NewSession before the session exists; it may
	// block, to play a slow device store, and its error fails NewSession.
	OnNewSession func(ctx context.Context, acct core.Account) error
	// OnLogout runs inside Logout of a connected session before it succeeds;
	// it may block, to play a slow server, and its error fails Logout.
	OnLogout func(ctx context.Context, s *Session) error
	// CloseDelay is how long a polite Close takes (the goodbye to the
	// server); Abort ends it at once.
	CloseDelay time.Duration

	sessions map[core.AccountID][]*Session
	open     map[core.AccountID]int
	maxOpen  map[core.AccountID]int
	// openDev and maxOpenDev count the same by device (the account's JID
	// when the session was made): two accounts may hold one device.
	openDev    map[string]int
	maxOpenDev map[string]int
	devices    map[string]bool // JIDs whose keys exist
	deleted    []core.AccountID
	created    int
	next       int // for fake JIDs
	sent       []Message
}

// Message is a message a fake session sent (acknowledged or not).
type Message struct {
	Account core.AccountID
	Session int // Session.N of the session it went out on
	To      string
	Text    string
	ID      string // "" when OnSend failed it
}

// NewDialer returns a fake Dialer with the default behaviour.
func NewDialer() *Dialer {
	return &Dialer{
		sessions:   make(map[core.AccountID][]*Session),
		open:       make(map[core.AccountID]int),
		maxOpen:    make(map[core.AccountID]int),
		openDev:    make(map[string]int),
		maxOpenDev: make(map[string]int),
		devices:    make(map[string]bool),
		PairCode:   "ABCD-EFGH",
	}
}

// Lock and Unlock guard the exported fields while sessions are running.
func (d *Dialer) Lock()   { d.mu.Lock() }
func (d *Dialer) Unlock() { d.mu.Unlock() }

// NewSession implements core.Dialer.
func (d *Dialer) NewSession(ctx context.Context, acct core.Account, emit func(core.SessionEvent) error) (core.Session, error) {
	d.mu.Lock()
	hook := d.OnNewSession
	d.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, acct); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.NewSessionErr != nil {
		return nil, d.NewSessionErr
	}
	d.created++
	s := &Session{d: d, Account: acct, N: len(d.sessions[acct.ID]) + 1, emit: emit, device: acct.JID, aborted: make(chan struct{})}
	s.paired = acct.JID != "" && d.devices[acct.JID]
	d.sessions[acct.ID] = append(d.sessions[acct.ID], s)
	d.open[acct.ID]++
	d.maxOpen[acct.ID] = max(d.maxOpen[acct.ID], d.open[acct.ID])
	if s.device != "" {
		d.openDev[s.device]++
		d.maxOpenDev[s.device] = max(d.maxOpenDev[s.device], d.openDev[s.device])
	}
	return s, nil
}

// DeleteDevice implements core.Dialer.
func (d *Dialer) DeleteDevice(ctx context.Context, acct core.Account) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.DeleteDeviceErr != nil {
		return d.DeleteDeviceErr
	}
	delete(d.devices, acct.JID)
	d.deleted = append(d.deleted, acct.ID)
	return nil
}

// AddDevice records keys for jid, as if it had been paired before.
func (d *Dialer) AddDevice(jid string) {
	d.mu.Lock()
	d.devices[jid] = true
	d.mu.Unlock()
}

// HasDevice reports whether keys for jid exist.
func (d *Dialer) HasDevice(jid string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.devices[jid]
}

// DeletedDevices lists the accounts whose keys DeleteDevice wiped.
func (d *Dialer) DeletedDevices() []core.AccountID {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.deleted)
}

// Open returns the number of sessions of the account created and not closed.
func (d *Dialer) Open(id core.AccountID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.open[id]
}

// MaxOpen returns the most sessions of the account ever open at once.
func (d *Dialer) MaxOpen(id core.AccountID) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.maxOpen[id]
}

// OpenDevice returns the number of sessions of the device (a JID) created
// and not closed, over every account that holds it.
func (d *Dialer) OpenDevice(jid string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.openDev[jid]
}

// MaxOpenDevice returns the most sessions of the device (a JID) ever open at
// once, over every account that holds it.
func (d *Dialer) MaxOpenDevice(jid string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.maxOpenDev[jid]
}

// MaxOpenAnyDevice returns the highest MaxOpenDevice over all devices.
func (d *Dialer) MaxOpenAnyDevice() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, v := range d.maxOpenDev {
		n = max(n, v)
	}
	return n
}

// MaxOpenAny returns the highest MaxOpen over all accounts.
func (d *Dialer) MaxOpenAny() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, v := range d.maxOpen {
		n = max(n, v)
	}
	return n
}

// TotalOpen returns the number of open sessions over all accounts.
func (d *Dialer) TotalOpen() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, v := range d.open {
		n += v
	}
	return n
}

// Created returns how many sessions were created.
func (d *Dialer) Created() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.created
}

// Sessions returns the account's sessions, oldest first.
func (d *Dialer) Sessions(id core.AccountID) []*Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sessions[id])
}

// Last returns the account's newest session, or nil.
func (d *Dialer) Last(id core.AccountID) *Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	ss := d.sessions[id]
	if len(ss) == 0 {
		return nil
	}
	return ss[len(ss)-1]
}

// Sent returns every message a session was asked to send while connected, in
// order. A refused send (not connected, closed) reaches no one and is not here.
func (d *Dialer) Sent() []Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.sent)
}

// Session is a fake core.Session. Tests drive it with Emit.
type Session struct {
	d       *Dialer
	Account core.Account
	N       int // 1 for the account's first session, 2 for the next...
	emit    func(core.SessionEvent) error
	device  string        // the JID the session was made for, "" when pairing
	aborted chan struct{} // closed by Abort

	mu sync.Mutex
	// mu guards the following
	paired    bool
	dialed    bool // Connect was called
	connected bool
	closed    bool
	loggedOut bool
	abortOnce sync.Once
	hard      bool // the session ended by Abort, not a polite Close
	counted   bool // gone has counted it closed
}

// Connect implements core.Session.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("fake session: connect after close")
	}
	s.dialed = true
	s.mu.Unlock()
	s.d.mu.Lock()
	hook := s.d.OnConnect
	s.d.mu.Unlock()
	if hook == nil {
		hook = Behave
	}
	if err := hook(ctx, s); err != nil {
		return err
	}
	return ctx.Err()
}

// Behave is the default OnConnect: a paired account logs in, an unpaired
// one shows its first QR code.
func Behave(ctx context.Context, s *Session) error {
	if s.Paired() {
		s.Emit(core.SessionEvent{Kind: core.SessionConnected})
	} else {
		s.Emit(core.SessionEvent{Kind: core.SessionQR, QRCode: s.QR(1), QRIndex: 1, QRTotal: 6, QRExpires: time.Now().Add(60 * time.Second)})
	}
	return nil
}

// QR returns the fake QR code number k of this session.
func (s *Session) QR(k int) string {
	return "ref" + strconv.Itoa(k) + "," + string(s.Account.ID) + "," + strconv.Itoa(s.N)
}

// Paired reports whether the session's account has device keys.
func (s *Session) Paired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paired
}

// Emit reports an event to the Manager, as the real adapter would, even after
// Close (to play a late event of a dying client), and returns the Manager's
// answer (an error for a message it could not store). Connected marks the
// session connected; PairSuccess stores keys for the JID; LoggedOut removes
// them.
func (s *Session) Emit(ev core.SessionEvent) error {
	s.mu.Lock()
	switch ev.Kind {
	case core.SessionConnected:
		s.connected = !s.closed
	case core.SessionPairSuccess:
		s.paired = true
		s.d.AddDevice(ev.JID)
	case core.SessionDisconnected, core.SessionReplaced, core.SessionTemporaryBan, core.SessionOutdated,
		core.SessionConnectFailure:
		s.connected = false
	case core.SessionLoggedOut:
		s.connected = false
		s.d.mu.Lock()
		delete(s.d.devices, s.Account.JID)
		s.d.mu.Unlock()
	}
	s.mu.Unlock()
	return s.emit(ev)
}

// Receive plays a message coming in on the session, as the adapter hands it
// over before it tells WhatsApp the message was delivered: nil means the
// Manager stored it.
func (s *Session) Receive(m core.Message) error {
	return s.Emit(core.SessionEvent{Kind: core.SessionMessage, Message: &m})
}

// Pair plays the phone scanning a QR code: PairSuccess with a new JID, then
// Connected. It returns the JID.
func (s *Session) Pair() string {
	s.d.mu.Lock()
	s.d.next++
	jid := fmt.Sprintf("1555%07d.0:1@s.whatsapp.net", s.d.next)
	s.d.mu.Unlock()
	s.Emit(core.SessionEvent{Kind: core.SessionPairSuccess, JID: jid})
	s.Emit(core.SessionEvent{Kind: core.SessionConnected})
	return jid
}

// PairPhone implements core.Session.
func (s *Session) PairPhone(ctx context.Context, phone string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("fake session: closed")
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.PairCode, nil
}

// Logout implements core.Session.
func (s *Session) Logout(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.connected || s.closed {
		return ErrOffline
	}
	s.d.mu.Lock()
	hook := s.d.OnLogout
	s.d.mu.Unlock()
	if hook != nil {
		s.mu.Unlock()
		err := hook(ctx, s)
		s.mu.Lock()
		if err != nil {
			return err
		}
		if !s.connected || s.closed {
			return ErrOffline
		}
	}
	s.d.mu.Lock()
	err := s.d.LogoutErr
	if err == nil {
		delete(s.d.devices, s.Account.JID)
	}
	s.d.mu.Unlock()
	if err != nil {
		return err
	}
	s.loggedOut = true
	s.connected = false
	return nil
}

// SendText implements core.Session: refused unless connected, then OnSend or
// an immediate ack with a fresh message ID.
func (s *Session) SendText(ctx context.Context, to, text string) (core.Sent, error) {
	s.mu.Lock()
	live := s.connected && !s.closed
	s.mu.Unlock()
	if !live {
		return core.Sent{}, ErrOffline
	}
	s.d.mu.Lock()
	hook := s.d.OnSend
	n := len(s.d.sent)
	s.d.sent = append(s.d.sent, Message{Account: s.Account.ID, Session: s.N, To: to, Text: text})
	s.d.mu.Unlock()
	sent := core.Sent{ID: "FAKE" + strconv.Itoa(n+1), ServerTime: time.Now()}
	var err error
	if hook != nil {
		sent, err = hook(ctx, s, to, text)
	}
	if err == nil {
		s.d.mu.Lock()
		s.d.sent[n].ID = sent.ID
		s.d.mu.Unlock()
	}
	return sent, err
}

// Close implements core.Session: it takes the Dialer's CloseDelay (the
// goodbye), unless Abort ends it first. The session counts as open until
// then.
func (s *Session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.connected = false
	s.mu.Unlock()
	s.d.mu.Lock()
	delay := s.d.CloseDelay
	s.d.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.aborted:
		}
		t.Stop()
	}
	s.gone()
}

// Abort implements core.Session: the socket is closed at once, without the
// goodbye, and a Close in progress returns.
func (s *Session) Abort() {
	s.mu.Lock()
	s.hard = true
	first := !s.closed
	s.closed = true
	s.connected = false
	s.mu.Unlock()
	s.abortOnce.Do(func() { close(s.aborted) })
	if first {
		s.gone()
	}
}

// gone counts the session closed, once.
func (s *Session) gone() {
	s.mu.Lock()
	if s.counted {
		s.mu.Unlock()
		return
	}
	s.counted = true
	s.mu.Unlock()
	s.d.mu.Lock()
	s.d.open[s.Account.ID]--
	if s.device != "" {
		s.d.openDev[s.device]--
	}
	s.d.mu.Unlock()
}

// Dialed reports whether Connect was called: the socket was opened.
func (s *Session) Dialed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialed
}

// Aborted reports whether the session was torn down by Abort.
func (s *Session) Aborted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hard
}

// Closed reports whether Close was called.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// LoggedOut reports whether Logout succeeded on this session.
func (s *Session) LoggedOut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loggedOut
}
