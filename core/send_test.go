package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// phoned stores a paired, running account whose JID has a real phone number.
func (r *rig) phoned(name, phone string) core.AccountID {
	r.t.Helper()
	id := core.AccountID("acct-" + name)
	jid := phone + ".0:3@s.whatsapp.net"
	r.d.AddDevice(jid)
	err := r.s.PutAccount(context.Background(), core.Account{ID: id, Name: name, JID: jid, CreatedAt: time.Now(), AutoStart: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

// notes returns the account's timeline events with the cause.
func (r *rig) notes(id core.AccountID, cause string) []core.Event {
	r.t.Helper()
	evs, err := r.m.Events(context.Background(), id, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []core.Event
	for _, e := range evs {
		if e.Cause == cause {
			out = append(out, e)
		}
	}
	return out
}

func TestSendWhileConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("alfa", "15550001111")
		r.startManager()
		synctest.Wait()
		st := r.wantState(id, core.Connected)

		res, err := r.m.SendText(context.Background(), id, "+44 7700 900123", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if res.MessageID == "" || res.To != "447700900123" || res.Epoch != st.Epoch || res.AckedAt.Before(res.SentAt) {
			t.Fatalf("SendText = %+v, want an ID, the digits and epoch %d", res, st.Epoch)
		}
		sent := r.d.Sent()
		if len(sent) != 1 || sent[0].To != "447700900123" || sent[0].Text != "hello" || sent[0].ID != res.MessageID {
			t.Fatalf("the session sent %+v", sent)
		}
		notes := r.notes(id, core.CauseSent)
		if len(notes) != 1 || notes[0].MessageID != res.MessageID || notes[0].From != core.Connected || notes[0].To != core.Connected {
			t.Fatalf("sent notes = %+v", notes)
		}
		// The timeline shows only the last digits of the number.
		if strings.Contains(notes[0].Reason, "7700900123") || !strings.Contains(notes[0].Reason, "…0123") {
			t.Errorf("note reason %q shows the whole number or not its end", notes[0].Reason)
		}
	})
}

func TestSendRefusedUnlessConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("bravo", "15550002222")
		// Connecting: the first session's login never answers.
		r.d.Lock()
		r.d.OnConnect = func(ctx context.Context, s *coretest.Session) error {
			if s.N == 1 {
				return nil
			}
			return coretest.Behave(ctx, s)
		}
		r.d.Unlock()
		r.startManager()
		synctest.Wait()
		refused := func(want core.State) {
			t.Helper()
			r.wantState(id, want)
			start := time.Now()
			_, err := r.m.SendText(context.Background(), id, "15550009999", "hi")
			if !errors.Is(err, core.ErrNotConnected) || !strings.Contains(err.Error(), want.String()) {
				t.Fatalf("SendText in %v = %v, want ErrNotConnected naming the state", want, err)
			}
			// Refused at once: never queued behind the reconnect.
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("SendText in %v waited %v", want, waited)
			}
		}
		refused(core.Connecting)
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
		synctest.Wait()
		refused(core.Waiting)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		r.wantState(id, core.Connected)
		r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionReplaced})
		synctest.Wait()
		refused(core.Replaced)
		if err := r.m.Disconnect(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		refused(core.Idle)
		if sent := r.d.Sent(); len(sent) != 0 {
			t.Fatalf("refused sends reached a session: %+v", sent)
		}
		if n := len(r.notes(id, core.CauseSendFailed)) + len(r.notes(id, core.CauseSent)); n != 0 {
			t.Errorf("refused sends left %d timeline notes", n)
		}
	})
}

func TestSendBadInputChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("charlie", "15550003333")
		r.startManager()
		synctest.Wait()
		for _, c := range []struct {
			id       core.AccountID
			to, text string
			want     error
		}{
			{id, "0044 7700 900123", "hi", core.ErrInvalidPhone},
			{id, "12345", "hi", core.ErrInvalidPhone},
			{id, "447700900123", "  ", core.ErrInvalidMessage},
			{id, "447700900123", strings.Repeat("x", core.MaxTextLen+1), core.ErrInvalidMessage},
			{id, "447700900123", "\xff", core.ErrInvalidMessage},
			{"acct-nobody", "447700900123", "hi", core.ErrUnknownAccount},
		} {
			if _, err := r.m.SendText(context.Background(), c.id, c.to, c.text); !errors.Is(err, c.want) {
				t.Errorf("SendText(%s, %q, %.10q) = %v, want %v", c.id, c.to, c.text, err, c.want)
			}
		}
		if sent := r.d.Sent(); len(sent) != 0 {
			t.Fatalf("bad input reached a session: %+v", sent)
		}
	})
}

// A send racing a drop goes out on the session it started on or not at all:
// never twice, never on the new session.
func TestSendRacingADrop(t *testing.T) {
	for _, acked := range []bool{true, false} {
		name := map[bool]string{true: "acked before the drop", false: "dropped before the ack"}[acked]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, noJitter())
				id := r.phoned("delta", "15550004444")
				inSend, release := make(chan struct{}), make(chan struct{})
				r.d.Lock()
				r.d.OnSend = func(ctx context.Context, s *coretest.Session, to, text string) (core.Sent, error) {
					close(inSend)
					<-release
					if acked {
						return core.Sent{ID: "ACKED1", ServerTime: time.Now()}, nil
					}
					for !s.Closed() { // the socket is gone: the ack never comes
						time.Sleep(time.Millisecond)
					}
					return core.Sent{}, coretest.ErrOffline
				}
				r.d.Unlock()
				r.startManager()
				synctest.Wait()
				first := r.wantState(id, core.Connected)

				type outcome struct {
					res core.SendResult
					err error
				}
				done := make(chan outcome, 1)
				go func() {
					res, err := r.m.SendText(context.Background(), id, "447700900123", "race")
					done <- outcome{res, err}
				}()
				<-inSend
				if acked {
					close(release)
				}
				r.d.Last(id).Emit(core.SessionEvent{Kind: core.SessionDisconnected})
				if !acked {
					close(release)
				}
				got := <-done
				time.Sleep(3 * time.Second) // the reconnect
				synctest.Wait()
				second := r.wantState(id, core.Connected)
				if second.Epoch == first.Epoch {
					t.Fatal("no new session after the drop")
				}
				if acked {
					if got.err != nil || got.res.Epoch != first.Epoch || got.res.MessageID != "ACKED1" {
						t.Fatalf("acked send = %+v, %v; want acked on session #%d", got.res, got.err, first.Epoch)
					}
				} else if !errors.Is(got.err, core.ErrNotConnected) {
					t.Fatalf("send cut by the drop = %v, want ErrNotConnected", got.err)
				}
				sent := r.d.Sent()
				if len(sent) != 1 || sent[0].Session != 1 {
					t.Fatalf("messages handed to sessions: %+v; want one, on the first session", sent)
				}
				cause := map[bool]string{true: core.CauseSent, false: core.CauseSendFailed}[acked]
				if n := len(r.notes(id, cause)); n != 1 {
					t.Errorf("%d %q notes, want 1", n, cause)
				}
			})
		})
	}
}

func TestDeliveryReceiptIsNoted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("echo", "15550005555")
		r.startManager()
		synctest.Wait()
		res, err := r.m.SendText(context.Background(), id, "447700900123", "hello")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		s := r.d.Last(id)
		s.Emit(core.SessionEvent{Kind: core.SessionDelivered, MessageID: "SOMEONE-ELSES"})
		s.Emit(core.SessionEvent{Kind: core.SessionDelivered, MessageID: res.MessageID, At: time.Now()})
		s.Emit(core.SessionEvent{Kind: core.SessionDelivered, MessageID: res.MessageID, At: time.Now()}) // a repeat
		synctest.Wait()
		notes := r.notes(id, core.CauseDelivered)
		if len(notes) != 1 || notes[0].MessageID != res.MessageID {
			t.Fatalf("delivered notes = %+v, want one for %s", notes, res.MessageID)
		}
		if !strings.Contains(notes[0].Reason, "1.2 s") {
			t.Errorf("delivered reason %q does not give the 1.2 s since sending", notes[0].Reason)
		}
		// The recipient reads it: one read note, then the message is done.
		time.Sleep(time.Minute)
		s.Emit(core.SessionEvent{Kind: core.SessionRead, MessageID: res.MessageID, At: time.Now()})
		s.Emit(core.SessionEvent{Kind: core.SessionRead, MessageID: res.MessageID, At: time.Now()}) // a repeat
		synctest.Wait()
		read := r.notes(id, core.CauseRead)
		if len(read) != 1 || read[0].MessageID != res.MessageID || !strings.Contains(read[0].Reason, "read 1m1s") {
			t.Fatalf("read notes = %+v, want one for %s, a minute after sending", read, res.MessageID)
		}
		r.wantState(id, core.Connected)
	})
}

func TestSendFailuresInOperatorWords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("foxtrot", "15550006666")
		r.startManager()
		synctest.Wait()
		words := map[string]bool{}
		for _, want := range []error{core.ErrNotOnWhatsApp, core.ErrNoDevices, core.ErrRateLimited, core.ErrNoAck} {
			r.d.Lock()
			r.d.OnSend = func(context.Context, *coretest.Session, string, string) (core.Sent, error) {
				return core.Sent{}, errors.Join(want, errors.New("server said so"))
			}
			r.d.Unlock()
			_, err := r.m.SendText(context.Background(), id, "447700900123", "hi")
			if !errors.Is(err, want) {
				t.Fatalf("SendText = %v, want %v", err, want)
			}
			text := core.SendErrorText(err)
			if words[text] {
				t.Errorf("%v reads like another failure: %q", want, text)
			}
			words[text] = true
			notes := r.notes(id, core.CauseSendFailed)
			if last := notes[len(notes)-1]; !strings.HasSuffix(last.Reason, text) {
				t.Errorf("failed note %q does not end with %q", last.Reason, text)
			}
		}
		// Failures never move the account.
		r.wantState(id, core.Connected)
		if n := r.d.Created(); n != 1 {
			t.Errorf("%d sessions, want 1: a failed send reconnected", n)
		}
	})
}

func TestSelfCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := noJitter()
		p.SelfCheckEvery = 10 * time.Minute
		r := newRig(t, p)
		id := r.phoned("golf", "15550007777")
		r.startManager()
		synctest.Wait()
		r.wantState(id, core.Connected)
		time.Sleep(9 * time.Minute)
		synctest.Wait()
		if sent := r.d.Sent(); len(sent) != 0 {
			t.Fatalf("a self-check ran before its interval: %+v", sent)
		}
		time.Sleep(90 * time.Second)
		synctest.Wait()
		sent := r.d.Sent()
		if len(sent) != 1 || sent[0].To != "15550007777" || !strings.Contains(sent[0].Text, "self-check") {
			t.Fatalf("self-check sent %+v, want one message to the account's own number", sent)
		}
		st := r.wantState(id, core.Connected)
		if st.LastCheck.At.IsZero() || st.LastCheck.Err != "" {
			t.Fatalf("LastCheck = %+v, want a pass", st.LastCheck)
		}
		if n := len(r.notes(id, core.CauseSent)) + len(r.notes(id, core.CauseSelfCheckFailed)); n != 0 {
			t.Errorf("a passed self-check left %d timeline notes", n)
		}

		// A failing check is a timeline event, and never reconnects.
		r.d.Lock()
		r.d.OnSend = func(context.Context, *coretest.Session, string, string) (core.Sent, error) {
			return core.Sent{}, core.ErrNoAck
		}
		r.d.Unlock()
		time.Sleep(10*time.Minute + selfCheckTick)
		synctest.Wait()
		st = r.wantState(id, core.Connected)
		if st.LastCheck.Err == "" {
			t.Fatalf("LastCheck = %+v, want the failure", st.LastCheck)
		}
		if n := len(r.notes(id, core.CauseSelfCheckFailed)); n != 1 {
			t.Fatalf("%d self-check-failed events, want 1", n)
		}
		if n := r.d.Created(); n != 1 {
			t.Errorf("%d sessions, want 1: a failed self-check reconnected", n)
		}
		if n := len(r.d.Sent()); n != 2 {
			t.Errorf("%d messages in 21 minutes, want 2 (one per 10 minutes)", n)
		}
	})
}

// selfCheckTick mirrors core's: checks are looked for every 30 s.
const selfCheckTick = 30 * time.Second

func TestSelfCheckOffByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("hotel", "15550008888")
		r.startManager()
		synctest.Wait()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		r.wantState(id, core.Connected)
		if sent := r.d.Sent(); len(sent) != 0 {
			t.Fatalf("self-check ran while off: %+v", sent)
		}
	})
}

func TestSelfCheckInterval(t *testing.T) {
	p := core.DefaultPolicy()
	for _, c := range []struct {
		every time.Duration
		ok    bool
	}{{0, true}, {10 * time.Minute, true}, {time.Hour, true}, {9 * time.Minute, false}, {-time.Minute, false}} {
		p.SelfCheckEvery = c.every
		if err := p.Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(SelfCheckEvery %v) = %v, want ok %v", c.every, err, c.ok)
		}
	}
}

func TestCloseEndsASendInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("india", "15550009999")
		inSend := make(chan struct{})
		r.d.Lock()
		r.d.OnSend = func(ctx context.Context, _ *coretest.Session, _, _ string) (core.Sent, error) {
			close(inSend)
			<-ctx.Done()
			return core.Sent{}, ctx.Err()
		}
		r.d.Unlock()
		r.startManager()
		synctest.Wait()
		errc := make(chan error, 1)
		go func() {
			_, err := r.m.SendText(context.Background(), id, "447700900123", "bye")
			errc <- err
		}()
		<-inSend
		if err := r.m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("send in flight at Close = %v, want cancelled", err)
		}
	})
}
