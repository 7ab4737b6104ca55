package whatsapp_test

import (
	"context"
	"testing"

	"warden/core"
)

// Abort tears a logged-in socket down without the goodbye: the server sees
// the connection end and the login with it, before any Close; Close then
// returns at once, and the session cannot dial again.
func TestAbortTearsTheSocketDown(t *testing.T) {
	srv := newServer(t, 11)
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	waitUntil(t, "the pairing socket is gone", func() bool { return srv.LiveSockets() == 0 })

	s, _ = connect(t, d, acct)
	waitUntil(t, "logged in", func() bool { return srv.LoggedIn(acct.JID) == 1 })
	s.Abort()
	waitUntil(t, "the server saw the login end", func() bool { return srv.LoggedIn(acct.JID) == 0 && srv.LiveSockets() == 0 })
	s.Close()
	if n := srv.MaxConcurrentLogins(acct.JID); n != 1 {
		t.Errorf("%d logins at once, want 1", n)
	}

	// A session torn down before it dialled opens no connection.
	before := srv.Logins(acct.JID)
	s2, err := d.NewSession(context.Background(), acct, func(core.SessionEvent) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	s2.Abort()
	if err := s2.Connect(context.Background()); err == nil {
		t.Error("a torn-down session connected")
	}
	s2.Close()
	if n := srv.Logins(acct.JID); n != before {
		t.Errorf("%d logins after a torn-down session's Connect, want %d", n, before)
	}
}
