package core_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// listingDialer is the fake Dialer that can also list the devices whose keys
// it holds, as the real one does.
type listingDialer struct {
	*coretest.Dialer
	jids []string
}

func (d listingDialer) StoredDevices(context.Context) ([]string, error) {
	var out []string
	for _, jid := range d.jids {
		if d.HasDevice(jid) {
			out = append(out, core.CanonicalDevice(jid))
		}
	}
	return out, nil
}

// An account whose device keys are gone (a lost or replaced device keys
// file) starts as LoggedOut, saying so, instead of being dialled into a new
// pairing; it keeps AutoStart, so keys put back start it again. An account
// the operator or the phone logged out keeps its state's story.
func TestStartShowsAccountsWithoutKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		d, s := coretest.NewDialer(), coretest.NewStore()
		jid := func(n string) string { return "1555000" + n + ".0:1@s.whatsapp.net" }
		ld := listingDialer{Dialer: d, jids: []string{jid("1"), jid("2"), jid("3"), jid("4")}}
		d.AddDevice(jid("1"))
		now := time.Now()
		for _, a := range []core.Account{
			{ID: "kept", Name: "Kept", JID: jid("1"), AutoStart: true},
			{ID: "lost", Name: "Lost", JID: jid("2"), AutoStart: true},
			{ID: "lost-off", Name: "Lost, disconnected", JID: jid("3")},
			{ID: "unlinked", Name: "Unlinked", JID: jid("4")},
			{ID: "new", Name: "Never paired"},
		} {
			a.CreatedAt = now
			if err := s.PutAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		// The phone unlinked this one, and whatsmeow deleted its keys.
		if err := s.AppendEvents(ctx, core.Event{Account: "unlinked", At: now, From: core.Connected, To: core.LoggedOut,
			Cause: "logged out", Reason: "the phone unlinked this device: pair again"}); err != nil {
			t.Fatal(err)
		}
		m, err := core.NewManager(core.Config{Dialer: ld, Store: s, Policy: noJitter()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(ctx)
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // every start-up dial is due by then
		synctest.Wait()

		for id, want := range map[core.AccountID]core.State{
			"kept": core.Connected, "lost": core.LoggedOut, "lost-off": core.LoggedOut, "unlinked": core.Idle, "new": core.Idle,
		} {
			st, _ := m.Status(id)
			if st.State != want {
				t.Errorf("%s: %v (%s), want %v", id, st.State, st.Reason, want)
			}
			if want == core.LoggedOut {
				if st.Reason != core.ReasonKeysMissing || !st.NeedsAction() {
					t.Errorf("%s: reason %q, needs action %v; want %q", id, st.Reason, st.NeedsAction(), core.ReasonKeysMissing)
				}
				if n := len(d.Sessions(id)); n != 0 {
					t.Errorf("%s: %d sessions made, want none: a dial without keys shows a QR code", id, n)
				}
			}
		}
		if a, _ := s.Account("lost"); !a.AutoStart {
			t.Error("the account without keys lost its AutoStart: keys put back would not start it")
		}
		evs, _ := s.Events(ctx, "lost", 1)
		if len(evs) != 1 || evs[0].To != core.LoggedOut || evs[0].Reason != core.ReasonKeysMissing {
			t.Errorf("the timeline of lost ends with %+v, want LoggedOut with the reason", evs)
		}

		// Pair again works from there: the dial makes a new device.
		if err := m.Connect(ctx, "lost"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if st, _ := m.Status("lost"); st.State != core.Pairing && st.State != core.Connecting {
			t.Errorf("after Pair again: %v (%s), want pairing", st.State, st.Reason)
		}
	})
}

// failingTimeline is a store whose timeline of one account cannot be read.
type failingTimeline struct {
	*coretest.Store
	bad core.AccountID
}

func (s failingTimeline) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	if id == s.bad {
		return nil, errors.New("the timeline is damaged")
	}
	return s.Store.Events(ctx, id, limit)
}

// A Start that fails to load the accounts leaves none behind, so that Close
// writes nothing: the store that failed to load is not written to.
func TestFailedStartWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := coretest.NewStore()
	now := time.Now()
	for _, a := range []core.Account{
		{ID: "a", Name: "A", JID: "15550001.0:1@s.whatsapp.net", AutoStart: true, CreatedAt: now},
		{ID: "b", Name: "B", JID: "15550002.0:1@s.whatsapp.net", AutoStart: true, CreatedAt: now.Add(time.Second)},
	} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	m, err := core.NewManager(core.Config{Dialer: coretest.NewDialer(), Store: failingTimeline{Store: s, bad: "b"}, Policy: noJitter()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err == nil {
		t.Fatal("Start succeeded with a timeline it cannot read")
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if evs, _ := s.Events(ctx, "a", 10); len(evs) != 0 {
		t.Errorf("the failed start wrote %d events: %+v", len(evs), evs)
	}
	if n := len(m.Statuses()); n != 0 {
		t.Errorf("%d accounts left after a failed Start", n)
	}
}
