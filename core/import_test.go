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

func TestValidateAccount(t *testing.T) {
	ok := core.Account{ID: "a0123456789ab", Name: "Alice", JID: "15550001111.0:4@s.whatsapp.net",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Proxy: "direct"}
	with := func(f func(a *core.Account)) core.Account {
		a := ok
		f(&a)
		return a
	}
	good := map[string]core.Account{
		"as Warden writes it":     ok,
		"no ID yet":               with(func(a *core.Account) { a.ID = "" }),
		"an ID of 256 bytes":      with(func(a *core.Account) { a.ID = core.AccountID(strings.Repeat("é", 128)) }),
		"not paired":              with(func(a *core.Account) { a.JID = "" }),
		"device 0":                with(func(a *core.Account) { a.JID = "15550001111@s.whatsapp.net" }),
		"device 65535, agent 255": with(func(a *core.Account) { a.JID = "15550001111.255:65535@s.whatsapp.net" }),
		"no creation time yet":    with(func(a *core.Account) { a.CreatedAt = time.Time{} }),
		"the last second of 9999, UTC": with(func(a *core.Account) {
			a.CreatedAt = time.Date(10000, 1, 1, 1, 0, 0, 0, time.FixedZone("", 3600)).Add(-time.Nanosecond)
		}),
		"year 0": with(func(a *core.Account) { a.CreatedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) }),
	}
	for name, a := range good {
		if _, err := core.ValidateAccount(a); err != nil {
			t.Errorf("%s: ValidateAccount(%.80q) = %v, want valid", name, a.ID, err)
		}
	}
	bad := map[string]struct {
		a    core.Account
		want error
		says string
	}{
		"an ID over 256 bytes":    {with(func(a *core.Account) { a.ID = core.AccountID(strings.Repeat("b", 257)) }), core.ErrInvalidAccount, "longer than 256 bytes"},
		"an ID starting with NUL": {with(func(a *core.Account) { a.ID = "\x00bob" }), core.ErrInvalidAccount, "starts with a zero byte"},
		"an ID holding NUL":       {with(func(a *core.Account) { a.ID = "bo\x00b" }), core.ErrInvalidAccount, "holds a zero byte"},
		"an ID not UTF-8":         {with(func(a *core.Account) { a.ID = "bob\xff" }), core.ErrInvalidAccount, "not valid text"},
		"a year past 9999 in UTC": {with(func(a *core.Account) {
			a.CreatedAt = time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(23*3600+59*60)))
		}), core.ErrInvalidAccount, "9999-12-31T23:59:59-23:59 is not in the years 0 to 9999"},
		"a year before 0 in UTC":       {with(func(a *core.Account) { a.CreatedAt = time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)) }), core.ErrInvalidAccount, "years 0 to 9999"},
		"device 65536":                 {with(func(a *core.Account) { a.JID = "15550001111:65536@s.whatsapp.net" }), core.ErrInvalidAccount, "device number 65536; WhatsApp's device numbers go up to 65535"},
		"device 65537 with its agent":  {with(func(a *core.Account) { a.JID = "15550001111.0:65537@s.whatsapp.net" }), core.ErrInvalidAccount, "go up to 65535"},
		"a negative device":            {with(func(a *core.Account) { a.JID = "15550001111:-1@s.whatsapp.net" }), core.ErrInvalidAccount, "not a number from 0 to 65535"},
		"agent 256":                    {with(func(a *core.Account) { a.JID = "15550001111.256:1@s.whatsapp.net" }), core.ErrInvalidAccount, "agent"},
		"two dots":                     {with(func(a *core.Account) { a.JID = "1555.0.0:1@s.whatsapp.net" }), core.ErrInvalidAccount, "not a device address"},
		"no server":                    {with(func(a *core.Account) { a.JID = "15550001111:1" }), core.ErrInvalidAccount, "not a device address"},
		"two servers":                  {with(func(a *core.Account) { a.JID = "15550001111:1@s.whatsapp.net@x" }), core.ErrInvalidAccount, "not a device address"},
		"a JID with a control char":    {with(func(a *core.Account) { a.JID = "1555\x00:1@s.whatsapp.net" }), core.ErrInvalidAccount, "not valid text"},
		"no name":                      {with(func(a *core.Account) { a.Name = " " }), core.ErrInvalidName, "empty"},
		"a proxy over 2048 bytes":      {with(func(a *core.Account) { a.Proxy = "http://" + strings.Repeat("p", 3000) + ":80" }), core.ErrInvalidProxy, "longer than 2048 bytes"},
		"a proxy that is not a proxy ": {with(func(a *core.Account) { a.Proxy = "ftp://x:21" }), core.ErrInvalidProxy, "not supported"},
	}
	for name, c := range bad {
		_, err := core.ValidateAccount(c.a)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: ValidateAccount = %v, want %v saying %q", name, err, c.want, c.says)
		}
	}
}

// failAfter is a store whose PutAccount fails once it has stored n accounts.
type failAfter struct {
	*coretest.Store
	n int
}

func (s *failAfter) PutAccount(ctx context.Context, a core.Account) error {
	if s.n == 0 {
		return errors.New("the disk is full")
	}
	s.n--
	return s.Store.PutAccount(ctx, a)
}

// AddAllExisting adds every account or none: a bad account anywhere, a
// device twice, or a store that fails halfway leave the Manager and the
// store as they were.
func TestAddAllExistingIsAllOrNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, s := coretest.NewDialer(), coretest.NewStore()
		fs := &failAfter{Store: s, n: 1}
		m, err := core.NewManager(core.Config{Dialer: d, Store: fs, Policy: noJitter()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		if err := m.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		alfa := core.Account{ID: "alfa", Name: "Alfa", JID: "15550001111.0:4@s.whatsapp.net", AutoStart: true}
		bravo := core.Account{ID: "bravo", Name: "Bravo", JID: "15550002222:5@s.whatsapp.net"}
		d.AddDevice(alfa.JID)
		d.AddDevice(bravo.JID)
		stored := func() int { accts, _ := s.Accounts(ctx); return len(accts) }

		for name, c := range map[string]struct {
			accts []core.Account
			says  string
		}{
			"the store fails at the second": {[]core.Account{alfa, bravo}, "the disk is full"},
			"a bad second account":          {[]core.Account{alfa, {ID: core.AccountID(strings.Repeat("b", 300)), Name: "Bravo"}}, `"Bravo": invalid account: its ID is longer than 256 bytes`},
			"one device twice":              {[]core.Account{alfa, {Name: "Copy", JID: "15550001111:4@s.whatsapp.net"}}, `"Alfa" and "Copy" are one WhatsApp account`},
		} {
			added, err := m.AddAllExisting(ctx, c.accts)
			if err == nil || !strings.Contains(err.Error(), c.says) || added != nil {
				t.Errorf("%s: AddAllExisting = %v, %v; want nothing added and an error saying %q", name, added, err, c.says)
			}
			if n, st := stored(), len(m.Statuses()); n != 0 || st != 0 {
				t.Errorf("%s: %d accounts stored, %d in the Manager; want none", name, n, st)
			}
		}

		fs.n = 2
		added, err := m.AddAllExisting(ctx, []core.Account{alfa, bravo})
		if err != nil || len(added) != 2 || added[0].ID != "alfa" || added[1].ID != "bravo" || stored() != 2 {
			t.Fatalf("AddAllExisting = %+v, %v, %d stored; want both, with their IDs", added, err, stored())
		}
		synctest.Wait()
		if st, _ := m.Status("alfa"); st.State != core.Connected {
			t.Errorf("Alfa, running when exported, is %v", st.State)
		}
		if st, _ := m.Status("bravo"); st.State != core.Idle {
			t.Errorf("Bravo, not running when exported, is %v", st.State)
		}
	})
}
