package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The Manager's side of receiving (see inbox.go for the port): it stores
// what the sessions decrypted, counts each account's traffic for the
// Overview, and notes on the timeline the first message after a silence.

// CauseReceived is the cause of the timeline note of a first message after
// a silence.
const CauseReceived = "message received"

// SilenceGap is how long an account receives nothing before its next message
// is noted on the timeline. The first message of each session is noted too:
// it shows receiving works again after a reconnect. Every other message
// shows only in the Overview's counts, or the timeline would drown in them.
const SilenceGap = 30 * time.Minute

// storeTimeout bounds the storing of one message. A store that takes longer
// fails the message, which WhatsApp then delivers again.
const storeTimeout = 15 * time.Second

// trafficScan bounds how many stored messages and timeline events Start
// reads back per account to count today's traffic: a day busier than that
// counts from the newest trafficScan of each.
const trafficScan = 2000

// ErrNoInbox is the error a message gets when the Manager's store keeps no
// messages: WhatsApp is not told it was delivered.
var ErrNoInbox = errors.New("this store keeps no messages")

// Traffic is what an account sent and received, for the Overview.
type Traffic struct {
	// LastIn is when the last message came in (Warden's clock); zero when
	// none ever did.
	LastIn time.Time `json:",omitzero"`
	// Day is the local midnight that begins the day In and Out count.
	Day time.Time `json:",omitzero"`
	// In counts the messages other people wrote to the account that day.
	In int `json:",omitempty"`
	// Out counts the messages the account sent that day: those Warden sent
	// and WhatsApp acknowledged (self-checks aside), and those its phone
	// sent (their copies come in as messages from the account itself).
	Out int `json:",omitempty"`
}

// Today returns the counts of the day of now: zero for a day with no traffic
// yet.
func (t Traffic) Today(now time.Time) (in, out int) {
	if !t.Day.Equal(midnight(now)) {
		return 0, 0
	}
	return t.In, t.Out
}

// count adds one message, in or out, at now, starting a new day's counts at
// midnight.
func (t *Traffic) count(now time.Time, out bool) {
	if day := midnight(now); !t.Day.Equal(day) {
		t.Day, t.In, t.Out = day, 0, 0
	}
	if out {
		t.Out++
	} else {
		t.In++
	}
}

// midnight returns the local midnight that begins t's day.
func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// received stores a message a session of the account got. It is called on
// the session's goroutine before WhatsApp is told the message was delivered;
// an error withholds that, and WhatsApp delivers the message again at the
// next login. A message is stored whatever the session's epoch: a dying
// session's message was delivered to it all the same.
func (m *Manager) received(id AccountID, epoch uint64, msg *Message) error {
	if msg == nil {
		return errors.New("core: a message event without its message")
	}
	a := m.lookup(id)
	if a == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, id)
	}
	if m.inbox == nil {
		a.log.Error("a message came in, but the store keeps no messages; WhatsApp will deliver it again", "message", msg.ID)
		return ErrNoInbox
	}
	in := *msg
	in.Account, in.Seq = id, 0
	if in.Received.IsZero() {
		in.Received = m.now()
	}
	// Not the Manager's context: a message that arrives while Warden stops
	// is stored all the same, and the store has its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	stored, dup, err := m.inbox.PutMessage(ctx, in)
	if err != nil {
		a.log.Error("a message could not be stored; WhatsApp will deliver it again at the next login",
			"message", in.ID, "err", err)
		return fmt.Errorf("store message %s: %w", in.ID, err)
	}
	if dup {
		a.log.Debug("WhatsApp delivered a stored message again", "message", in.ID, "seq", stored.Seq)
		return nil
	}
	a.log.Debug("message stored", "message", stored.ID, "seq", stored.Seq, "kind", stored.Kind, "offline", stored.Offline)
	m.noteReceived(a, epoch, stored)
	return nil
}

// noteReceived counts a stored message, and notes it on the timeline when
// it is the first of its session or comes after SilenceGap without any.
func (m *Manager) noteReceived(a *account, epoch uint64, msg Message) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m.deleted {
		return
	}
	now := msg.Received
	last := a.m.Traffic.LastIn
	a.m.Traffic.LastIn = now
	a.m.Traffic.count(now, msg.FromMe)
	m.hub.publish(a.m.Status)

	var why string
	switch {
	case a.rxEpoch != epoch:
		why = "first message since the account connected"
	case now.Sub(last) >= SilenceGap:
		why = "first message in " + roundSilence(now.Sub(last))
	}
	a.rxEpoch = epoch
	if why == "" {
		return
	}
	if msg.Offline {
		why += " (WhatsApp kept it while the account was away)"
	}
	m.apply(a, []action{{kind: actRecord, event: Event{
		Account: a.id, At: now, From: a.m.State, To: a.m.State, Cause: CauseReceived, Epoch: epoch,
		MessageID: msg.ID,
		Reason:    fmt.Sprintf("%s: %s from %s", why, DescribeMessage(msg), MaskSender(msg)),
	}}})
}

// noteSent counts a message Warden sent and WhatsApp acknowledged. a.mu is
// held.
func (m *Manager) noteSent(a *account, at time.Time) {
	a.m.Traffic.count(at, true)
}

// roundSilence says a silence in hours and minutes.
func roundSilence(d time.Duration) string {
	d = d.Round(time.Minute)
	h, min := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h >= 48:
		return fmt.Sprintf("%d days", h/24)
	case h > 0 && min > 0:
		return fmt.Sprintf("%d h %d min", h, min)
	case h > 0:
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d min", min)
}

// DescribeMessage says what a message is, in a few words, without its text:
// "a text", "an image of 1.2 MB".
func DescribeMessage(msg Message) string {
	var what string
	switch msg.Kind {
	case KindText:
		return "a text"
	case KindImage:
		what = "an image"
	case KindVideo:
		what = "a video"
	case KindAudio:
		what = "a voice or audio message"
	case KindDocument:
		what = "a document"
	case KindSticker:
		what = "a sticker"
	case KindLocation:
		return "a location"
	case KindContact:
		return "a contact card"
	case KindReaction:
		return "a reaction"
	default:
		return "a message of another kind"
	}
	if msg.Size > 0 {
		what += " of " + FormatSize(msg.Size)
	}
	return what
}

// FormatSize says a size in bytes the way a file manager does.
func FormatSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.0f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// MaskSender names a message's sender for the timeline and the logs without
// the whole number: "…4567", "the account's own phone", or "a contact known
// by LID" when WhatsApp gave no phone number.
func MaskSender(msg Message) string {
	if msg.FromMe {
		return "the account's own phone"
	}
	user, server, _ := strings.Cut(msg.Sender, "@")
	if i := strings.IndexAny(user, ".:"); i >= 0 {
		user = user[:i]
	}
	if server == "s.whatsapp.net" && user != "" {
		return MaskPhone(user)
	}
	return "a contact known by LID"
}

// loadTraffic counts each account's traffic of today from the store, once
// Start has loaded the accounts, so that a restart keeps the Overview's
// counts. It runs in the background: the accounts start meanwhile, and a
// message that comes in first is counted on top.
func (m *Manager) loadTraffic(accts []*account) {
	defer m.bg.Done()
	for _, a := range accts {
		if m.ctx.Err() != nil {
			return
		}
		t, err := m.storedTraffic(m.ctx, a.id)
		if err != nil {
			a.log.Warn("could not count today's messages from the store; the Overview counts from now", "err", err)
			continue
		}
		a.mu.Lock()
		live := a.m.Traffic
		t.In, t.Out = t.In+live.In, t.Out+live.Out
		if live.LastIn.After(t.LastIn) {
			t.LastIn = live.LastIn
		}
		a.m.Traffic = t
		if !a.m.deleted {
			m.hub.publish(a.m.Status)
		}
		a.mu.Unlock()
	}
}

// storedTraffic counts an account's traffic of today from its stored
// messages and its timeline's sent notes.
func (m *Manager) storedTraffic(ctx context.Context, id AccountID) (Traffic, error) {
	now := m.now()
	t := Traffic{Day: midnight(now)}
	if m.inbox != nil {
		msgs, err := m.inbox.LastMessages(ctx, id, trafficScan)
		if err != nil {
			return Traffic{}, fmt.Errorf("read the messages: %w", err)
		}
		if n := len(msgs); n > 0 {
			t.LastIn = msgs[n-1].Received
		}
		for _, msg := range msgs {
			if !msg.Received.Before(t.Day) {
				t.count(msg.Received.In(now.Location()), msg.FromMe)
			}
		}
	}
	evs, err := m.store.Events(ctx, id, trafficScan)
	if err != nil {
		return Traffic{}, fmt.Errorf("read the timeline: %w", err)
	}
	for _, ev := range evs {
		if ev.Cause == CauseSent && !ev.At.Before(t.Day) {
			t.count(ev.At.In(now.Location()), true)
		}
	}
	return t, nil
}

// The liveness hint. A session can look healthy, logged in and answering
// keepalives, and still receive nothing: the phone unlinked the device in a
// way the server never told this socket, or messages stopped reaching it.
// One account cannot tell that silence from a quiet day; its peers can. So:
//
// An account is quiet when it has been Connected for at least QuietWindow
// and received nothing in the last QuietWindow, while at least QuietPeers
// of the other Connected accounts, and at least half of them, did receive
// something in that window. With fewer peers receiving, silence is the
// norm, not a hint.
const (
	QuietWindow = time.Hour
	QuietPeers  = 3
)

// Quiet is an account's liveness hint (see QuietAccounts).
type Quiet struct {
	For    time.Duration // how long it has received nothing (since it connected, when it never did)
	Active int           // other Connected accounts that received something in the window
	Peers  int           // other Connected accounts
}

// QuietAccounts returns the quiet accounts among sts at now.
func QuietAccounts(sts []Status, now time.Time) map[AccountID]Quiet {
	from := now.Add(-QuietWindow)
	connected, active := 0, 0
	for _, s := range sts {
		if s.State == Connected {
			connected++
			if s.Traffic.LastIn.After(from) {
				active++
			}
		}
	}
	var out map[AccountID]Quiet
	for _, s := range sts {
		if s.State != Connected || s.Since.After(from) || s.Traffic.LastIn.After(from) {
			continue
		}
		peers := connected - 1
		if active < QuietPeers || 2*active < peers {
			continue
		}
		since := s.Since
		if s.Traffic.LastIn.After(since) {
			since = s.Traffic.LastIn
		}
		if out == nil {
			out = make(map[AccountID]Quiet)
		}
		out[s.Account.ID] = Quiet{For: now.Sub(since), Active: active, Peers: peers}
	}
	return out
}
