package whatsapp

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"

	"warden/core"
)

// bareSession is a Session without a client, enough for watchQR and deliver.
func bareSession(t *testing.T, emit func(core.SessionEvent) error) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &Session{
		log:     slog.New(slog.DiscardHandler),
		emitFn:  emit,
		ctx:     ctx,
		cancel:  cancel,
		qrTotal: 6,
		qrShown: make(chan struct{}),
	}
}

func TestWatchQRRotatesCodes(t *testing.T) {
	var got []core.SessionEvent
	s := bareSession(t, func(ev core.SessionEvent) error { got = append(got, ev); return nil })
	ch := make(chan whatsmeow.QRChannelItem, 8)
	ch <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "ref1,a,b,c", Timeout: 60 * time.Second}
	ch <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "ref2,a,b,c", Timeout: 20 * time.Second}
	ch <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "ref3,a,b,c", Timeout: 20 * time.Second}
	ch <- whatsmeow.QRChannelTimeout
	close(ch)
	start := time.Now()
	s.watchQR(ch) // returns when the channel closes
	end := time.Now()

	if len(got) != 4 {
		t.Fatalf("got %d events %+v, want 3 codes and a timeout", len(got), got)
	}
	for i, want := range []struct {
		code    string
		timeout time.Duration
	}{{"ref1,a,b,c", 60 * time.Second}, {"ref2,a,b,c", 20 * time.Second}, {"ref3,a,b,c", 20 * time.Second}} {
		ev := got[i]
		if ev.Kind != core.SessionQR || ev.QRCode != want.code || ev.QRIndex != i+1 || ev.QRTotal != 6 {
			t.Errorf("event %d = %v %q, code %d of %d; want QR %q, code %d of 6", i, ev.Kind, ev.QRCode, ev.QRIndex, ev.QRTotal, want.code, i+1)
		}
		if ev.QRExpires.Before(start.Add(want.timeout)) || ev.QRExpires.After(end.Add(want.timeout)) {
			t.Errorf("code %d expires %v after the start, want %v", i+1, ev.QRExpires.Sub(start), want.timeout)
		}
	}
	if got[3].Kind != core.SessionQRTimeout {
		t.Errorf("last event = %v, want QR timeout", got[3].Kind)
	}
	select {
	case <-s.qrShown:
	default:
		t.Error("qrShown is still open after the first code: PairPhone would wait forever")
	}
}

// After the socket dropped while pairing, whatsmeow's QR channel also ends
// with "timeout": core has heard about it already.
func TestQRTimeoutAfterDropIsNotRepeated(t *testing.T) {
	var got []core.SessionEventKind
	s := bareSession(t, func(ev core.SessionEvent) error { got = append(got, ev.Kind); return nil })
	s.deliver(core.SessionEvent{Kind: core.SessionDisconnected})
	ch := make(chan whatsmeow.QRChannelItem, 1)
	ch <- whatsmeow.QRChannelTimeout
	close(ch)
	s.watchQR(ch)
	s.deliver(core.SessionEvent{Kind: core.SessionDisconnected})
	if len(got) != 1 || got[0] != core.SessionDisconnected {
		t.Errorf("events = %v, want one disconnected", got)
	}
	// A new login makes the next drop news again.
	s.deliver(core.SessionEvent{Kind: core.SessionConnected})
	s.deliver(core.SessionEvent{Kind: core.SessionDisconnected})
	if len(got) != 3 {
		t.Errorf("events = %v, want disconnected, connected, disconnected", got)
	}
}

func TestNoEventAfterClose(t *testing.T) {
	var got []core.SessionEventKind
	s := bareSession(t, func(ev core.SessionEvent) error { got = append(got, ev.Kind); return nil })
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.deliver(core.SessionEvent{Kind: core.SessionConnected})
	ch := make(chan whatsmeow.QRChannelItem, 1)
	ch <- whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: "x", Timeout: time.Second}
	close(ch)
	s.watchQR(ch)
	if len(got) != 0 {
		t.Errorf("a closed session emitted %v", got)
	}
}
