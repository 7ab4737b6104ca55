package core_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
)

func TestAddExisting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		id := r.phoned("alfa", "15550001111")
		r.startManager()
		synctest.Wait()
		ctx := context.Background()
		here, _ := r.m.Status(id)

		// The same WhatsApp device is refused, whatever its ID.
		if _, err := r.m.AddExisting(ctx, core.Account{ID: "other", Name: "Copy", JID: here.Account.JID}); !errors.Is(err, core.ErrDuplicateAccount) {
			t.Errorf("AddExisting of a device that is here = %v, want ErrDuplicateAccount", err)
		}
		if _, err := r.m.AddExisting(ctx, core.Account{ID: "bad", Name: " ", JID: "1@s.whatsapp.net"}); !errors.Is(err, core.ErrInvalidName) {
			t.Errorf("AddExisting with no name = %v", err)
		}
		if n := len(r.m.Statuses()); n != 1 {
			t.Fatalf("refused imports added accounts: %d", n)
		}

		// An ID that is taken gets a new one; a running account starts.
		jid := "15550002222.0:4@s.whatsapp.net"
		r.d.AddDevice(jid)
		created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		got, err := r.m.AddExisting(ctx, core.Account{ID: id, Name: "Bravo", JID: jid, CreatedAt: created, AutoStart: true, Proxy: "direct"})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == id || got.Name != "Bravo" || !got.CreatedAt.Equal(created) || got.Proxy != core.ProxyDirect {
			t.Errorf("AddExisting = %+v, want a new ID and the details kept", got)
		}
		synctest.Wait()
		r.wantState(got.ID, core.Connected)
		if stored, _ := r.s.Account(got.ID); stored.JID != jid {
			t.Errorf("stored %+v", stored)
		}

		// One that was not running stays Idle.
		idle, err := r.m.AddExisting(ctx, core.Account{ID: "charlie", Name: "Charlie", JID: "15550003333.0:5@s.whatsapp.net"})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		r.wantState(idle.ID, core.Idle)
	})
}
