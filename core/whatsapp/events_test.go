package whatsapp

import (
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"warden/core"
)

func TestSessionEvent(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	jid := types.JID{User: "15551234567", Device: 12, Server: types.DefaultUserServer}
	tests := []struct {
		name string
		in   any
		want core.SessionEvent
	}{
		{"connected", &events.Connected{}, core.SessionEvent{Kind: core.SessionConnected}},
		{"pair success", &events.PairSuccess{ID: jid},
			core.SessionEvent{Kind: core.SessionPairSuccess, JID: "15551234567:12@s.whatsapp.net"}},
		{"pair error", &events.PairError{ID: jid, Error: errors.New("bad signature")},
			core.SessionEvent{Kind: core.SessionPairError, Reason: "pairing failed: bad signature"}},
		{"disconnected", &events.Disconnected{}, core.SessionEvent{Kind: core.SessionDisconnected}},
		{"stream error", &events.StreamError{Code: "401"},
			core.SessionEvent{Kind: core.SessionDisconnected, Code: 401, Reason: "stream error 401"}},
		{"stream error without code", &events.StreamError{},
			core.SessionEvent{Kind: core.SessionDisconnected, Reason: "stream error "}},
		{"replaced", &events.StreamReplaced{},
			core.SessionEvent{Kind: core.SessionReplaced, Code: 440, Reason: "another client connected with this account"}},
		{"device removed", &events.LoggedOut{Reason: events.ConnectFailureLoggedOut},
			core.SessionEvent{Kind: core.SessionLoggedOut, Code: 401, Reason: "the device was removed on the phone"}},
		{"401 at login", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureLoggedOut},
			core.SessionEvent{Kind: core.SessionLoggedOut, Code: 401,
				Reason: "WhatsApp refused the login: 401: logged out from another device"}},
		{"403 at login", &events.LoggedOut{OnConnect: true, Reason: events.ConnectFailureMainDeviceGone},
			core.SessionEvent{Kind: core.SessionLoggedOut, Code: 403,
				Reason: "WhatsApp refused the login: 403: primary device was logged out"}},
		{"temporary ban", &events.TemporaryBan{Code: events.TempBanBlockedByUsers, Expire: 90 * time.Minute},
			core.SessionEvent{Kind: core.SessionTemporaryBan, Code: 102, Until: now.Add(90 * time.Minute),
				Reason: "temporarily banned: 102: too many people blocked you"}},
		{"outdated", &events.ClientOutdated{},
			core.SessionEvent{Kind: core.SessionOutdated, Code: 405, Reason: "WhatsApp says this client is out of date"}},
		{"connect failure", &events.ConnectFailure{Reason: events.ConnectFailureBadUserAgent, Message: "nope"},
			core.SessionEvent{Kind: core.SessionConnectFailure, Code: 409,
				Reason: "connect failure 409: client user agent was rejected (nope)"}},
		{"keepalive timeout", &events.KeepAliveTimeout{ErrorCount: 3, LastSuccess: now.Add(-time.Minute)},
			core.SessionEvent{Kind: core.SessionKeepAliveTimeout, Reason: "3 keepalives unanswered, last answer at 11:59:00"}},
		{"keepalive restored", &events.KeepAliveRestored{}, core.SessionEvent{Kind: core.SessionKeepAliveRestored}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sessionEvent(tt.in, now)
			if !ok || got != tt.want {
				t.Errorf("sessionEvent(%T) = %+v, %v, want %+v, true", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestSessionEventIgnores(t *testing.T) {
	for _, evt := range []any{&events.Message{}, &events.Receipt{}, &events.QR{Codes: []string{"a"}}, &events.OfflineSyncCompleted{}} {
		if got, ok := sessionEvent(evt, time.Now()); ok {
			t.Errorf("sessionEvent(%T) = %+v, true; want it ignored", evt, got)
		}
	}
}

// Every whatsmeow event after which whatsmeow leaves the socket for the
// application to close must map to an event that ends the session in core.
func TestPermanentDisconnectsEndTheSession(t *testing.T) {
	for _, evt := range []events.PermanentDisconnect{
		&events.LoggedOut{}, &events.StreamReplaced{}, &events.ClientOutdated{},
		&events.CATRefreshError{}, &events.TemporaryBan{}, &events.ConnectFailure{},
	} {
		got, ok := sessionEvent(evt, time.Now())
		if !ok || !ends(got.Kind) {
			t.Errorf("sessionEvent(%T) = %v, %v: want an event that ends the socket", evt, got.Kind, ok)
		}
	}
}
