// Package storesuite is the conformance suite of core.Store (Run) and of
// core.Inbox (RunInbox): what the Manager relies on, run against every
// implementation (bbolt in core/store, PostgreSQL in core/store/postgres).
package storesuite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/core"
)

// Run runs the suite; open returns a new, empty store for each subtest, and
// errSequence is the store's error for a Seq that is not above the last.
func Run(t *testing.T, open func(t *testing.T) core.Store, errSequence error) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 7, 0, 0, 123456000, time.UTC)
	acct := func(id string, created time.Time) core.Account {
		return core.Account{ID: core.AccountID(id), Name: "Name " + id, JID: "1555" + id + ".0:1@s.whatsapp.net",
			CreatedAt: created, AutoStart: true, Proxy: "socks5://u:p@10.0.0.1:1080"}
	}
	put := func(t *testing.T, s core.Store, accts ...core.Account) {
		t.Helper()
		for _, a := range accts {
			if err := s.PutAccount(ctx, a); err != nil {
				t.Fatalf("PutAccount(%s): %v", a.ID, err)
			}
		}
	}
	seqs := func(t *testing.T, s core.Store, id string) []uint64 {
		t.Helper()
		evs, err := s.Events(ctx, core.AccountID(id), 100_000)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]uint64, len(evs))
		for i, e := range evs {
			out[i] = e.Seq
		}
		return out
	}

	t.Run("accounts", func(t *testing.T) {
		s := open(t)
		if got, err := s.Accounts(ctx); err != nil || len(got) != 0 {
			t.Fatalf("a new store has %v, %v", got, err)
		}
		b, a, c := acct("b", at), acct("a", at), acct("c", at.Add(-time.Hour))
		put(t, s, b, a, c)
		got, err := s.Accounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []core.AccountID
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		if !slices.Equal(ids, []core.AccountID{"c", "a", "b"}) {
			t.Errorf("Accounts in order %v, want oldest first, then by ID: c, a, b", ids)
		}
		if got[1] != a {
			t.Errorf("account read back as %+v, want %+v", got[1], a)
		}
		a.Name, a.AutoStart, a.Proxy = "Renamed", false, ""
		put(t, s, a)
		got, _ = s.Accounts(ctx)
		if len(got) != 3 || got[1] != a {
			t.Errorf("after replacing a: %+v", got)
		}
		// CreatedAt is kept in UTC.
		local := acct("d", at.In(time.FixedZone("X", 3600)))
		put(t, s, local)
		got, _ = s.Accounts(ctx)
		if d := got[len(got)-1]; d.ID != "d" || !d.CreatedAt.Equal(at) || d.CreatedAt.Location() != time.UTC {
			t.Errorf("d read back with CreatedAt %v", d.CreatedAt)
		}
	})

	t.Run("events", func(t *testing.T) {
		s := open(t)
		put(t, s, acct("a", at), acct("b", at))
		full := core.Event{Account: "a", At: at, From: core.Connected, To: core.Waiting, Cause: "disconnected",
			Reason: "the connection dropped", Attempt: 2, Delay: 5 * time.Second, Epoch: 7, MessageID: "3EB0", Latency: 12 * time.Millisecond, Token: 991}
		if err := s.AppendEvents(ctx, full, core.Event{Account: "a", At: at, Cause: "x"}, core.Event{Account: "b", At: at, Cause: "y"},
			core.Event{Account: "ghost", At: at, Cause: "z"}); err != nil {
			t.Fatalf("AppendEvents with an unknown account's event: %v", err)
		}
		if got := seqs(t, s, "a"); !slices.Equal(got, []uint64{1, 2}) {
			t.Errorf("a's sequence %v, want 1 2", got)
		}
		if got := seqs(t, s, "b"); !slices.Equal(got, []uint64{1}) {
			t.Errorf("b's sequence %v, want 1", got)
		}
		if got := seqs(t, s, "ghost"); len(got) != 0 {
			t.Errorf("an unknown account's events were stored: %v", got)
		}
		evs, _ := s.Events(ctx, "a", 10)
		want := full
		want.Seq = 1
		if evs[0] != want {
			t.Errorf("event read back as\n%+v\nwant\n%+v", evs[0], want)
		}

		// A kept Seq must be above the last; on an error nothing is stored.
		if err := s.AppendEvents(ctx, core.Event{Account: "a", Seq: 10, At: at, Cause: "kept"}); err != nil {
			t.Fatal(err)
		}
		err := s.AppendEvents(ctx, core.Event{Account: "b", At: at, Cause: "with the bad one"}, core.Event{Account: "a", Seq: 10, At: at, Cause: "again"})
		if !errors.Is(err, errSequence) {
			t.Errorf("a Seq not above the last: %v, want %v", err, errSequence)
		}
		if got := seqs(t, s, "b"); !slices.Equal(got, []uint64{1}) {
			t.Errorf("a refused call stored b's event: %v", got)
		}
		if err := s.AppendEvents(ctx, core.Event{Account: "a", At: at, Cause: "next"}); err != nil {
			t.Fatal(err)
		}
		if got := seqs(t, s, "a"); !slices.Equal(got, []uint64{1, 2, 10, 11}) {
			t.Errorf("a's sequence %v, want 1 2 10 11", got)
		}

		// The newest limit, newest last.
		evs, err = s.Events(ctx, "a", 2)
		if err != nil || len(evs) != 2 || evs[0].Seq != 10 || evs[1].Seq != 11 || evs[1].Cause != "next" {
			t.Errorf("Events(a, 2) = %+v, %v; want 10 and 11", evs, err)
		}
		if evs, err := s.Events(ctx, "a", 0); err != nil || len(evs) != 0 {
			t.Errorf("Events(a, 0) = %v, %v", evs, err)
		}
		if evs, err := s.Events(ctx, "nobody", 10); err != nil || len(evs) != 0 {
			t.Errorf("Events(nobody) = %v, %v", evs, err)
		}
	})

	// core.ValidateAccount checks an imported account before anything is
	// written: an account it accepts, the store must keep.
	t.Run("accounts ValidateAccount accepts", func(t *testing.T) {
		s := open(t)
		last := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		edges := map[string]func(a *core.Account){
			"an ID of 256 bytes":        func(a *core.Account) { a.ID = core.AccountID(strings.Repeat("é", 128)) },
			"an ID of 257 bytes":        func(a *core.Account) { a.ID = core.AccountID(strings.Repeat("x", 257)) },
			"an ID starting with NUL":   func(a *core.Account) { a.ID = "\x00id" },
			"an ID holding NUL":         func(a *core.Account) { a.ID = "i\x00d" },
			"an ID not UTF-8":           func(a *core.Account) { a.ID = "id\xff" },
			"an ID with a control char": func(a *core.Account) { a.ID = "\x01id" },
			"the last instant of 9999":  func(a *core.Account) { a.CreatedAt = last },
			"9999 east of UTC":          func(a *core.Account) { a.CreatedAt = last.In(time.FixedZone("", 14*3600)) },
			"10000 in UTC":              func(a *core.Account) { a.CreatedAt = last.Add(time.Nanosecond) },
			"9999 local, 10000 in UTC": func(a *core.Account) {
				a.CreatedAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(23*3600+59*60)))
			},
			"the first instant of year 0": func(a *core.Account) { a.CreatedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) },
			"year -1 in UTC":              func(a *core.Account) { a.CreatedAt = time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)) },
			"the highest device":          func(a *core.Account) { a.JID = "15550001111.255:65535@s.whatsapp.net" },
			"the longest name":            func(a *core.Account) { a.Name = strings.Repeat("名", core.MaxNameLen) },
			"the longest proxy":           func(a *core.Account) { a.Proxy = "http://" + strings.Repeat("p", core.MaxProxyLen-12) + ":3128" },
		}
		for name, edit := range edges {
			a := acct("edge", at)
			edit(&a)
			if _, err := core.ValidateAccount(a); err != nil {
				continue
			}
			if err := s.PutAccount(ctx, a); err != nil {
				t.Errorf("%s: ValidateAccount accepts it, PutAccount = %v", name, err)
				continue
			}
			got, err := s.Accounts(ctx)
			want := a
			want.CreatedAt = a.CreatedAt.UTC()
			if err != nil || !slices.Contains(got, want) {
				t.Errorf("%s: read back as %+v, %v; want %+v", name, got, err, want)
			}
			if err := s.DeleteAccount(ctx, a.ID); err != nil {
				t.Errorf("%s: DeleteAccount = %v", name, err)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := open(t)
		put(t, s, acct("a", at), acct("b", at))
		if err := s.AppendEvents(ctx, core.Event{Account: "a", At: at, Cause: "x"}, core.Event{Account: "b", At: at, Cause: "y"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccount(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAccount(ctx, "never"); err != nil {
			t.Errorf("deleting an unknown account: %v", err)
		}
		got, _ := s.Accounts(ctx)
		if len(got) != 1 || got[0].ID != "b" {
			t.Errorf("after deleting a: %+v", got)
		}
		if evs, _ := s.Events(ctx, "a", 10); len(evs) != 0 {
			t.Errorf("a's events outlived it: %v", evs)
		}
		if got := seqs(t, s, "b"); len(got) != 1 {
			t.Errorf("b's events went with a: %v", got)
		}
		// A late event of the deleted account brings nothing back.
		if err := s.AppendEvents(ctx, core.Event{Account: "a", At: at, Cause: "late"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Accounts(ctx); len(got) != 1 {
			t.Errorf("a late event brought the account back: %+v", got)
		}
	})

	t.Run("concurrent appends", func(t *testing.T) {
		s := open(t)
		put(t, s, acct("a", at), acct("b", at))
		const writers, each = 8, 40
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					id := []core.AccountID{"a", "b"}[(w+i)%2]
					if err := s.AppendEvents(ctx, core.Event{Account: id, At: at, Cause: fmt.Sprintf("w%d-%d", w, i)}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, id := range []string{"a", "b"} {
			wantGapless(t, id+"'s events", seqs(t, s, id), writers*each/2)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		s := open(t)
		put(t, s, acct("a", at))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Accounts(cctx); err == nil {
			t.Error("Accounts with a cancelled context succeeded")
		}
		if err := s.PutAccount(cctx, acct("z", at)); err == nil {
			t.Error("PutAccount with a cancelled context succeeded")
		}
	})
}

// wantGapless checks that seqs are 1 to n, with no gap and no repeat.
func wantGapless(t *testing.T, what string, seqs []uint64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Errorf("%s: %d, want %d", what, len(seqs), n)
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Errorf("%s: the sequence has a gap or a repeat at %d: %d", what, i, q)
			return
		}
	}
}
