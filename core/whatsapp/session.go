package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/socket"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"warden/core"
)

// Timeouts of the session's own bounded waits. Variables so that tests can
// shorten them.
var (
	// LogoutTimeout bounds Logout when the caller's context does not.
	LogoutTimeout = 10 * time.Second
	// CloseTimeout bounds how long Close waits for the socket to close.
	CloseTimeout = 5 * time.Second
	// AckTimeout bounds how long SendText waits for the server's ack.
	AckTimeout = 20 * time.Second
)

// pairClientDisplay is how a phone-code pairing names the client; WhatsApp
// accepts only "Browser (OS)" of common browsers and systems.
const pairClientDisplay = "Chrome (Linux)"

// errSessionUsed is returned by a second Connect: a session dials once, and
// core makes a new session (with a new epoch) for every dial.
var errSessionUsed = errors.New("the session was already connected once")

// errSessionClosed is returned by Connect after Close.
var errSessionClosed = errors.New("the session is closed")

// Session is one whatsmeow client of one account. It implements core.Session.
type Session struct {
	d      *Dialer
	acct   core.Account
	cli    *whatsmeow.Client
	log    *slog.Logger
	emitFn func(core.SessionEvent) error

	// ctx lives until Close (or a cancelled Connect). whatsmeow runs its node
	// handlers and the QR channel under it, and the session its reconnect
	// after a 515 (restart); it carries the zerolog logger whatsmeow uses
	// for some lines.
	ctx    context.Context
	cancel context.CancelFunc
	// conns are the session's websocket connections, for Abort.
	conns *connSet
	// restarts tracks the restart goroutines, background the history
	// syncs being read; Close waits for both.
	restarts   sync.WaitGroup
	background sync.WaitGroup

	// emitMu is held for reading while an event is delivered, and for
	// writing by Close while it sets closed: once Close has set it, no event
	// is being delivered and none will be.
	emitMu sync.RWMutex

	mu sync.Mutex // guards the following
	// closed is set by Close (under emitMu too); no event is emitted after it.
	closed    bool
	connected bool // Connect was called
	pairing   bool // the session connected without a device and has not paired yet
	// pairEnded, on a session that began without a device, is closed once
	// the pairing's outcome (PairSuccess or PairError) was delivered; nil on
	// a paired session's.
	pairEnded chan struct{}
	pairOver  bool // pairEnded is closed
	// loggedIn is true between Connected and the event that ends the socket.
	loggedIn bool
	// ended is set once an event that ends the socket was emitted, until the
	// next Connected: a late Disconnected of the same socket is not news.
	ended   bool
	qrTotal int
	// jid is the device's JID: the stored one, or the one just paired.
	jid types.JID
	// qrShown is closed at the first QR code: PairPhone must wait for it.
	qrShown chan struct{}
	// strikes counts the watchdog's checks in a row that found a logged-in
	// session without a socket.
	strikes int
	// proxy is the proxy the session goes through, "" for none. Set once.
	proxy string
	// announced is the WhatsApp Web version this session logged in with.
	announced string
	// offlineLeft counts the messages WhatsApp kept while the account was
	// away that are still to come (see offlineSync).
	offlineLeft int
	// outdatedPending is set from WhatsApp's refusal as outdated until the
	// session reported what it decided (see outdated): the socket's other
	// endings are not news meanwhile.
	outdatedPending bool
}

var _ core.Session = (*Session)(nil)

// newSession makes the session; ws carries its websocket and pre-login
// requests, media (nil: whatsmeow's own) its media.
func newSession(d *Dialer, acct core.Account, device *store.Device, emit func(core.SessionEvent) error, ws, media *http.Client) *Session {
	log := d.log.With("account", acct.ID)
	cli := whatsmeow.NewClient(device, newWALogger(log, "Client", d.level))
	cli.EnableAutoReconnect = false
	// A message's delivery receipt waits for its handler, which stores it,
	// and a message decrypted but not stored is decrypted again from
	// whatsmeow's buffer when WhatsApp redelivers it (see receive.go).
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	// The phone's history sync is read by the session itself (see
	// historySync): whatsmeow's own reading stores what it holds on a
	// goroutine of its own that nothing can wait for or stop, which wrote
	// the device's row back after Delete had removed it.
	cli.ManualHistorySyncDownload = true
	// The session reconnects after a 515 itself (see restart): whatsmeow
	// would only log a failure of that reconnect.
	cli.DisableLoginAutoReconnect = true
	cli.SetPreLoginHTTPClient(ws)
	cli.SetWebsocketHTTPClient(ws)
	if media != nil {
		cli.SetMediaHTTPClient(media)
	}
	zl := newZerolog(log)
	ctx, cancel := context.WithCancel(zl.WithContext(context.Background()))
	cli.BackgroundEventCtx = ctx
	s := &Session{
		d:       d,
		acct:    acct,
		cli:     cli,
		log:     log,
		emitFn:  emit,
		ctx:     ctx,
		cancel:  cancel,
		qrTotal: 6,
		qrShown: make(chan struct{}),
	}
	if device.ID != nil {
		s.jid = *device.ID
	}
	// Registered before GetQRChannel's handler, so that the QR total is known
	// before the channel yields its first code.
	cli.AddEventHandlerWithSuccessStatus(s.handleStatus)
	return s
}

// Connect dials and logs in, or starts pairing when the account has no device.
// A nil error means the socket is up; the login result comes as an event. If
// ctx ends while dialling, the session is dead: no socket is left open, and
// the caller must Close it.
func (s *Session) Connect(ctx context.Context) error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return fmt.Errorf("connect %s: %w", s.acct.ID, errSessionClosed)
	case s.connected:
		s.mu.Unlock()
		return fmt.Errorf("connect %s: %w", s.acct.ID, errSessionUsed)
	}
	s.connected = true
	s.pairing = s.cli.Store.ID == nil
	pairing := s.pairing
	if pairing {
		s.pairEnded = make(chan struct{})
	}
	s.mu.Unlock()

	if pairing {
		qr, err := s.cli.GetQRChannel(s.ctx)
		if err != nil {
			return fmt.Errorf("connect %s: start pairing: %w", s.acct.ID, err)
		}
		go s.watchQR(qr)
	}
	s.d.watch(s)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed { // Close ran since the check above, and may have missed watch
		s.d.unwatch(s)
	}

	// ctx bounds the dial only; the session's own context must outlive it.
	// Cancelling ctx mid-dial cancels the session's context, which aborts
	// the websocket dial and the handshake.
	stop := context.AfterFunc(ctx, s.cancel)
	// whatsmeow reads the announced version while it logs in: hold it still.
	s.d.versionMu.RLock()
	announced := s.d.WebVersion().Version
	err := s.cli.ConnectContext(s.ctx)
	s.d.versionMu.RUnlock()
	s.mu.Lock()
	s.announced = announced
	s.mu.Unlock()
	if !stop() {
		s.cli.Disconnect()
		return fmt.Errorf("connect %s: %w", s.acct.ID, context.Cause(ctx))
	}
	if err != nil {
		if perr := classifyProxyError(err, s.proxy); perr != nil {
			s.log.Warn("the proxy failed", "err", perr, "detail", err)
			return perr
		}
		return fmt.Errorf("connect %s: %w", s.acct.ID, err)
	}
	s.log.Debug("socket up", "pairing", pairing)
	return nil
}

// PairPhone asks WhatsApp for an 8-character code that the operator types on
// the phone, as an alternative to the QR code. Only while pairing.
func (s *Session) PairPhone(ctx context.Context, phone string) (string, error) {
	s.mu.Lock()
	pairing, shown := s.pairing, s.qrShown
	s.mu.Unlock()
	if !pairing {
		return "", fmt.Errorf("pair %s by phone: %w", s.acct.ID, core.ErrNotPairing)
	}
	// whatsmeow needs the pairing refs before it can ask for a code; the
	// first QR code says they arrived.
	select {
	case <-shown:
	case <-ctx.Done():
		return "", fmt.Errorf("pair %s by phone: %w", s.acct.ID, ctx.Err())
	case <-s.ctx.Done():
		return "", fmt.Errorf("pair %s by phone: %w", s.acct.ID, core.ErrNotConnected)
	}
	code, err := s.cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, pairClientDisplay)
	switch {
	case errors.Is(err, whatsmeow.ErrPhoneNumberTooShort), errors.Is(err, whatsmeow.ErrPhoneNumberIsNotInternational):
		return "", fmt.Errorf("pair %s by phone: %w: %w", s.acct.ID, core.ErrInvalidPhone, err)
	case errors.Is(err, whatsmeow.ErrNotConnected):
		return "", fmt.Errorf("pair %s by phone: %w: %w", s.acct.ID, core.ErrNotConnected, err)
	case err != nil:
		return "", fmt.Errorf("pair %s by phone: %w", s.acct.ID, err)
	}
	return code, nil
}

// Logout unlinks the device on the phone and deletes its keys. It returns
// core.ErrNotConnected (wrapped) unless the session is logged in and its
// socket is up, and gives up after LogoutTimeout.
func (s *Session) Logout(ctx context.Context) error {
	s.mu.Lock()
	live := s.loggedIn && !s.closed
	s.mu.Unlock()
	if !live || !s.cli.IsConnected() {
		return fmt.Errorf("log out %s: %w", s.acct.ID, core.ErrNotConnected)
	}
	ctx, cancel := context.WithTimeout(ctx, LogoutTimeout)
	defer cancel()
	err := s.cli.Logout(ctx)
	switch {
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return fmt.Errorf("log out %s: %w: %w", s.acct.ID, core.ErrNotConnected, err)
	case err != nil:
		return fmt.Errorf("log out %s: %w", s.acct.ID, err)
	}
	s.mu.Lock()
	s.loggedIn, s.ended = false, true
	s.mu.Unlock()
	s.log.Info("logged out: device unlinked")
	return nil
}

// Close closes the socket and returns when it is closed (or after
// CloseTimeout, which is logged). No event is emitted after Close began
// (it waits for one being delivered). It is safe to call twice, and while
// Connect runs: that Connect is aborted.
//
// Close must not be called from inside the emit function.
func (s *Session) Close() {
	s.emitMu.Lock()
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	s.mu.Unlock()
	s.emitMu.Unlock()

	// Cancelling first aborts a dial in progress, which holds whatsmeow's
	// socket lock, and makes any later reconnect (restart) fail.
	s.cancel()
	if first {
		s.d.unwatch(s)
	}
	// The event handler stays: once closed is set it does nothing, and it
	// refuses every message (see handleStatus). Removed, it would leave
	// whatsmeow handling a message that arrives while the socket closes
	// with no handler at all, which whatsmeow takes for success: it
	// forgets the plaintext and confirms the message, which core never
	// stored. (emitMu is the barrier for events in flight.)
	// No restart or history sync starts once closed is set; one running
	// ends with ctx.
	s.restarts.Wait()
	s.background.Wait()
	s.cli.Disconnect()
	deadline := time.Now().Add(CloseTimeout)
	aborted := false
	for s.cli.IsConnected() {
		if time.Now().After(deadline) {
			if aborted {
				s.log.Warn("socket still open after close", "waited", CloseTimeout)
				return
			}
			// The goodbye went unanswered: tear the connection down.
			s.Abort()
			aborted, deadline = true, time.Now().Add(time.Second)
		}
		time.Sleep(2 * time.Millisecond)
		s.cli.Disconnect()
	}
}

// Abort tears the socket down at once: its TCP connection is closed without
// the websocket's closing handshake, which waits for the server's answer. A
// Close in progress then returns, and no later dial of this session can open
// a connection.
func (s *Session) Abort() {
	s.cancel()
	if n := s.conns.closeAll(); n > 0 {
		s.log.Warn("socket torn down without the goodbye", "connections", n)
	}
}

// handleStatus receives every whatsmeow event, on whatsmeow's goroutines, and
// reports whether it was handled: false withholds a message's delivery
// receipt (see receive.go).
func (s *Session) handleStatus(evt any) bool {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		_, isMessage := evt.(*events.Message)
		return !isMessage
	}
	switch e := evt.(type) {
	case *events.Message:
		if hs := e.Message.GetProtocolMessage().GetHistorySyncNotification(); hs != nil && e.Info.IsFromMe {
			s.historySync(hs)
			return true
		}
		return s.receive(e)
	case *events.OfflineSyncPreview, *events.OfflineSyncCompleted:
		s.offlineSync(evt)
	case *events.UndecryptableMessage:
		s.log.Warn("a message could not be decrypted; WhatsApp was asked to have it sent again",
			"message", e.Info.ID, "from", core.MaskSender(core.Message{Sender: e.Info.Sender.ToNonAD().String()}))
	default:
		s.handle(evt)
	}
	return true
}

// handle receives every whatsmeow event but messages, on whatsmeow's goroutines.
func (s *Session) handle(evt any) {
	switch e := evt.(type) {
	case *events.QR:
		s.mu.Lock()
		s.qrTotal = len(e.Codes)
		s.mu.Unlock()
		return
	case *events.PairSuccess:
		s.mu.Lock()
		s.pairing = false
		s.jid = e.ID
		s.mu.Unlock()
		s.log.Debug("paired", "jid", e.ID.String())
	case *events.ManualLoginReconnect:
		// A 515: WhatsApp wants the client to reconnect. Not on whatsmeow's
		// goroutine, which must go on dispatching.
		s.mu.Lock()
		if !s.closed { // Close waits for the restarts it can see
			s.restarts.Add(1)
			go s.restart()
		}
		s.mu.Unlock()
		return
	case *events.ClientOutdated:
		s.mu.Lock()
		s.outdatedPending = true
		s.mu.Unlock()
		go s.cli.Disconnect()
		go s.outdated()
		return
	case *events.LoggedOut:
		// whatsmeow deletes the keys too, but under the session's context,
		// which Close cancels: core closes the session as soon as it hears
		// of the logout, and whatsmeow's delete can lose that race. Deleting
		// them here first means core hears of it once they are gone.
		s.deleteKeys()
	}
	if r, ok := evt.(*events.Receipt); ok {
		if kind := receiptKind(r.Type); kind != 0 && !r.IsGroup {
			for _, id := range r.MessageIDs {
				s.deliver(core.SessionEvent{Kind: kind, MessageID: id, At: r.Timestamp})
			}
		}
		return
	}
	if _, ok := evt.(events.PermanentDisconnect); ok {
		// whatsmeow leaves the socket open after these, and if the server
		// closes it first, the disconnect path can race into a reconnect.
		// Closing it at once, on a goroutine of its own (Disconnect takes
		// locks the dispatcher may hold), closes that race.
		go s.cli.Disconnect()
	}
	if ev, ok := sessionEvent(evt, time.Now()); ok {
		s.deliver(ev)
	}
	switch evt.(type) {
	case *events.PairSuccess, *events.PairError:
		s.mu.Lock()
		if s.pairEnded != nil && !s.pairOver {
			s.pairOver = true
			close(s.pairEnded)
		}
		s.mu.Unlock()
	}
}

// restart is the reconnect that a 515 stream error asks for: after pairing,
// so that the device logs in with its new keys, and now and then on a live
// socket. whatsmeow would do it by itself and only log a failure: nothing
// would tell core, and an account just paired would sit on "paired: logging
// in". So the session does it (DisableLoginAutoReconnect), and reports a
// failure as Disconnected with its reason, which core retries on its
// schedule. Success needs no word: the login's Connected follows.
//
// After pairing, whatsmeow reports PairSuccess from a goroutine of its own,
// which may not have finished when the 515 comes. The restart waits for it:
// core must know the account's JID before it hears how the login went.
func (s *Session) restart() {
	defer s.restarts.Done()
	s.mu.Lock()
	pairEnded := s.pairEnded
	s.mu.Unlock()
	if pairEnded != nil {
		select {
		case <-pairEnded:
		case <-s.ctx.Done():
			return
		}
	}
	s.mu.Lock()
	afterPairing := pairEnded != nil && !s.loggedIn
	s.mu.Unlock()
	s.log.Debug("WhatsApp asked for a reconnect (515)", "after_pairing", afterPairing)
	s.cli.Disconnect()
	// As in Connect: whatsmeow reads the announced version while it logs in.
	s.d.versionMu.RLock()
	announced := s.d.WebVersion().Version
	err := s.cli.ConnectContext(s.ctx)
	s.d.versionMu.RUnlock()
	if err == nil {
		s.mu.Lock()
		s.announced = announced
		s.mu.Unlock()
		return
	}
	if s.ctx.Err() != nil {
		return // closed meanwhile: no one to tell
	}
	if perr := classifyProxyError(err, s.proxy); perr != nil {
		err = perr
	}
	what := "the reconnect WhatsApp asked for (515) failed"
	if afterPairing {
		what = "the reconnect after pairing failed"
	}
	s.log.Warn(what, "err", err)
	s.deliver(core.SessionEvent{Kind: core.SessionDisconnected, Reason: what + ": " + err.Error()})
}

// watchQR turns the QR channel's items into events until it closes or the
// session ends.
func (s *Session) watchQR(ch <-chan whatsmeow.QRChannelItem) {
	index := 0
	for {
		var item whatsmeow.QRChannelItem
		var ok bool
		select {
		case item, ok = <-ch:
		case <-s.ctx.Done():
			return
		}
		if !ok {
			return
		}
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			index++
			s.mu.Lock()
			total := s.qrTotal
			if index == 1 {
				close(s.qrShown)
			}
			s.mu.Unlock()
			s.deliver(core.SessionEvent{
				Kind:      core.SessionQR,
				QRCode:    item.Code,
				QRIndex:   index,
				QRTotal:   total,
				QRExpires: time.Now().Add(item.Timeout),
			})
		case whatsmeow.QRChannelTimeout.Event:
			s.deliver(core.SessionEvent{Kind: core.SessionQRTimeout, Reason: "no phone linked the device in time"})
		case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
			s.log.Warn("the phone scanned the code without multi-device; enable it and scan again")
		default:
			// success, error and the rest come as whatsmeow events too.
			s.log.Debug("qr channel", "item", item.Event)
		}
	}
}

// outdated handles WhatsApp's refusal of the announced version: it fetches
// the current version and, if that is another one and the account has not
// been retried since it last logged in, reports a refused login, which core
// retries on its schedule. Otherwise it reports Outdated, which parks the account.
func (s *Session) outdated() {
	s.mu.Lock()
	announced := s.announced
	s.mu.Unlock()
	s.log.Warn("WhatsApp refused the version Warden announced as out of date; fetching the current one", "version", announced)
	err := s.d.refreshVersion(s.ctx)
	current := s.d.WebVersion().Version
	s.d.mu.Lock()
	retry := err == nil && current != announced && !s.d.outdatedRetried[s.acct.ID]
	if retry {
		s.d.outdatedRetried[s.acct.ID] = true
	}
	s.d.mu.Unlock()
	// A refused login that core retries on its schedule.
	ev := core.SessionEvent{Kind: core.SessionConnectFailure, Code: int(events.ConnectFailureClientOutdated),
		Reason: fmt.Sprintf("version %s is out of date; Warden fetched %s and reconnects with it", announced, current)}
	if !retry {
		why := "and WhatsApp's page names no newer one"
		if err != nil {
			why = "and the current version could not be fetched: " + err.Error()
		}
		ev = core.SessionEvent{Kind: core.SessionOutdated, Code: int(events.ConnectFailureClientOutdated),
			Reason: fmt.Sprintf("WhatsApp says this client's version (%s) is out of date, %s", announced, why)}
	}
	s.deliverAs(ev, true)
}

// deliver passes ev to core unless the session is closed, and keeps the
// session's own view of the socket.
func (s *Session) deliver(ev core.SessionEvent) { s.deliverAs(ev, false) }

// deliverAs is deliver; verdict marks the outcome of a refusal as outdated,
// before which the socket's endings are held back.
func (s *Session) deliverAs(ev core.SessionEvent, verdict bool) {
	s.emitMu.RLock()
	defer s.emitMu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if verdict {
		s.outdatedPending = false
	} else if s.outdatedPending && ends(ev.Kind) {
		s.mu.Unlock()
		s.log.Debug("held back an ending while the version is checked", "event", ev.Kind)
		return
	}
	switch {
	case ev.Kind == core.SessionConnected:
		s.loggedIn, s.ended, s.strikes = true, false, 0
	case ends(ev.Kind):
		if s.ended && (ev.Kind == core.SessionDisconnected || ev.Kind == core.SessionQRTimeout) {
			s.mu.Unlock()
			s.log.Debug("dropped late event of an ended socket", "event", ev.Kind)
			return
		}
		s.loggedIn, s.ended = false, true
	}
	s.mu.Unlock()
	if ev.Kind == core.SessionConnected && s.d != nil { // logged in: a refusal as outdated may be retried again
		s.d.mu.Lock()
		delete(s.d.outdatedRetried, s.acct.ID)
		s.d.mu.Unlock()
	}
	if ev.Code != 0 {
		s.log.Info("session event", "event", ev.Kind, "code", ev.Code)
	} else {
		s.log.Info("session event", "event", ev.Kind)
	}
	s.emitFn(ev)
}

// checkSocket is the watchdog's check, for a socket lost without an event: a
// session that is logged in without a socket on two checks in a row is
// reported disconnected. (A failed reconnect after a 515 was such a loss
// while whatsmeow made that reconnect; restart reports it now.)
func (s *Session) checkSocket() {
	s.mu.Lock()
	suspect := s.loggedIn && !s.closed
	s.mu.Unlock()
	connected := suspect && s.cli.IsConnected()
	s.mu.Lock()
	if !suspect || connected {
		s.strikes = 0
		s.mu.Unlock()
		return
	}
	s.strikes++
	lost := s.strikes >= 2
	s.mu.Unlock()
	if lost {
		s.deliver(core.SessionEvent{Kind: core.SessionDisconnected, Reason: "the connection was lost without notice"})
	}
}

// deleteKeys deletes the session's device keys from the store.
func (s *Session) deleteKeys() {
	s.mu.Lock()
	jid := s.jid
	s.mu.Unlock()
	if jid.IsEmpty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.d.container.DeleteDevice(ctx, &store.Device{ID: &jid}); err != nil {
		s.log.Error("deleting the device keys after a logout failed", "err", err)
		return
	}
	s.log.Info("device keys deleted: logged out")
}

// SendText implements core.Session. It sends with whatsmeow's SendMessage:
// usync device lists, prekey bundles and Signal encryption for every device
// of the recipient and of the account's own phone. Before that it asks for the
// recipient's devices (whatsmeow caches them, so this costs a round trip only
// the first time) to tell an unknown number from one without devices, which
// the server would otherwise take silently. It returns as soon as the session
// closes, whatever whatsmeow is still waiting for.
func (s *Session) SendText(ctx context.Context, to, text string) (core.Sent, error) {
	s.mu.Lock()
	live := s.loggedIn && !s.closed
	s.mu.Unlock()
	if !live || !s.cli.IsConnected() {
		return core.Sent{}, fmt.Errorf("send from %s: %w", s.acct.ID, core.ErrNotConnected)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(s.ctx, func() { cancel(errSessionClosed) })()

	jid := types.NewJID(to, types.DefaultUserServer)
	if err := s.checkRecipient(ctx, jid); err != nil {
		return core.Sent{}, fmt.Errorf("send from %s: %w", s.acct.ID, s.sendError(ctx, err))
	}

	type result struct {
		resp whatsmeow.SendResponse
		err  error
	}
	done := make(chan result, 1)
	msg := &waE2E.Message{Conversation: proto.String(text)}
	go func() {
		// whatsmeow waits up to 5 s for a reconnect, deaf to ctx, when the
		// socket drops before the ack: this goroutine may outlive the call.
		resp, err := s.cli.SendMessage(ctx, jid, msg, whatsmeow.SendRequestExtra{Timeout: AckTimeout})
		done <- result{resp, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = context.Cause(ctx)
	}
	if r.err != nil {
		return core.Sent{}, fmt.Errorf("send from %s: %w", s.acct.ID, s.sendError(ctx, r.err))
	}
	s.log.Debug("message acked", "id", r.resp.ID)
	return core.Sent{ID: r.resp.ID, ServerTime: r.resp.Timestamp}, nil
}

// checkRecipient fails unless the number has a device, other than this one,
// that can receive the message.
func (s *Session) checkRecipient(ctx context.Context, jid types.JID) error {
	devices, err := s.cli.GetUserDevices(ctx, []types.JID{jid})
	if err != nil {
		return err
	}
	own := s.cli.Store.GetJID()
	for _, d := range devices {
		if d.User == jid.User && d != own {
			return nil
		}
	}
	on, err := s.cli.IsOnWhatsApp(ctx, []string{"+" + jid.User})
	if err != nil {
		return err
	}
	if len(on) == 0 || !on[0].IsIn {
		return core.ErrNotOnWhatsApp
	}
	return core.ErrNoDevices
}

// sendError maps what whatsmeow returned to core's errors.
func (s *Session) sendError(ctx context.Context, err error) error {
	var disc *whatsmeow.DisconnectedError
	switch {
	case errors.Is(err, core.ErrNotOnWhatsApp), errors.Is(err, core.ErrNoDevices):
		return err
	case errors.Is(err, errSessionClosed), errors.Is(context.Cause(ctx), errSessionClosed):
		return fmt.Errorf("%w: the connection closed before WhatsApp acknowledged the message", core.ErrNotConnected)
	case ctx.Err() != nil:
		return err
	case errors.Is(err, whatsmeow.ErrServerReturnedError) && strings.HasSuffix(err.Error(), " 429"):
		return fmt.Errorf("%w: %w", core.ErrRateLimited, err)
	case errors.Is(err, whatsmeow.ErrMessageTimedOut):
		return fmt.Errorf("%w (%v): %w", core.ErrNoAck, AckTimeout, err)
	case errors.As(err, &disc), errors.Is(err, whatsmeow.ErrNotConnected), errors.Is(err, whatsmeow.ErrNotLoggedIn),
		errors.Is(err, whatsmeow.ErrIQDisconnected), errors.Is(err, socket.ErrSocketClosed), errors.Is(err, net.ErrClosed),
		!s.cli.IsConnected():
		// A drop shows as any of these, depending on where whatsmeow was.
		return fmt.Errorf("%w: the connection dropped before WhatsApp acknowledged the message: %w", core.ErrNotConnected, err)
	}
	return err
}

// historySync reads a history sync the phone sent, on a goroutine that
// Close waits for and that stops with the session: whatsmeow stores what
// it holds (the LID migration time, phone number to LID mappings) with the
// session's context, so nothing is written for the device once the session
// is closed, and a Delete after the close is the last word on its keys.
// Warden keeps none of the history itself.
func (s *Session) historySync(hs *waE2E.HistorySyncNotification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		if _, err := s.cli.DownloadHistorySync(s.ctx, hs, true); err != nil && s.ctx.Err() == nil {
			s.log.Warn("the phone's history sync could not be read", "err", err)
		}
	}()
}

// receiptKind returns the session event of a receipt core hears of: a
// recipient's phone got a message, or its user read it; 0 for the others.
func receiptKind(t types.ReceiptType) core.SessionEventKind {
	switch t {
	case types.ReceiptTypeDelivered:
		return core.SessionDelivered
	case types.ReceiptTypeRead:
		return core.SessionRead
	}
	return 0
}
