package whatsapp

import (
	"fmt"
	"strconv"
	"time"

	"go.mau.fi/whatsmeow/types/events"

	"warden/core"
)

// sessionEvent maps a whatsmeow event to what core is told. ok is false for
// events core does not care about (messages, receipts, history sync...).
//
// QR codes are not mapped here: they come from the QR channel (see
// session.watchQR), which knows each code's index and lifetime.
func sessionEvent(evt any, now time.Time) (ev core.SessionEvent, ok bool) {
	switch e := evt.(type) {
	case *events.Connected:
		return core.SessionEvent{Kind: core.SessionConnected}, true
	case *events.PairSuccess:
		return core.SessionEvent{Kind: core.SessionPairSuccess, JID: e.ID.String()}, true
	case *events.PairError:
		return core.SessionEvent{Kind: core.SessionPairError, Reason: fmt.Sprintf("pairing failed: %v", e.Error)}, true
	case *events.Disconnected:
		return core.SessionEvent{Kind: core.SessionDisconnected}, true
	case *events.StreamError:
		code, _ := strconv.Atoi(e.Code)
		return core.SessionEvent{Kind: core.SessionDisconnected, Code: code, Reason: "stream error " + e.Code}, true
	case *events.StreamReplaced:
		return core.SessionEvent{Kind: core.SessionReplaced, Code: 440, Reason: "another client connected with this account"}, true
	case *events.LoggedOut:
		reason := "the device was removed on the phone"
		if e.OnConnect {
			reason = "WhatsApp refused the login: " + e.Reason.String()
		}
		return core.SessionEvent{Kind: core.SessionLoggedOut, Code: int(e.Reason), Reason: reason}, true
	case *events.TemporaryBan:
		return core.SessionEvent{
			Kind:   core.SessionTemporaryBan,
			Code:   int(e.Code),
			Reason: "temporarily banned: " + e.Code.String(),
			Until:  now.Add(e.Expire),
		}, true
	case *events.ClientOutdated:
		return core.SessionEvent{Kind: core.SessionOutdated, Code: int(events.ConnectFailureClientOutdated),
			Reason: "WhatsApp says this client is out of date"}, true
	case *events.ConnectFailure:
		reason := "connect failure " + e.Reason.String()
		if e.Message != "" {
			reason += " (" + e.Message + ")"
		}
		return core.SessionEvent{Kind: core.SessionConnectFailure, Code: int(e.Reason), Reason: reason}, true
	case *events.CATRefreshError:
		return core.SessionEvent{Kind: core.SessionConnectFailure, Reason: fmt.Sprintf("auth token refresh failed: %v", e.Error)}, true
	case *events.KeepAliveTimeout:
		return core.SessionEvent{
			Kind:   core.SessionKeepAliveTimeout,
			Reason: fmt.Sprintf("%d keepalives unanswered, last answer at %s", e.ErrorCount, e.LastSuccess.Format(time.TimeOnly)),
		}, true
	case *events.KeepAliveRestored:
		return core.SessionEvent{Kind: core.SessionKeepAliveRestored}, true
	}
	return core.SessionEvent{}, false
}

// ends reports whether a session event means the socket is gone or going:
// after one of those, a late Disconnected of the same socket says nothing new.
func ends(k core.SessionEventKind) bool {
	switch k {
	case core.SessionDisconnected, core.SessionReplaced, core.SessionLoggedOut, core.SessionTemporaryBan,
		core.SessionOutdated, core.SessionConnectFailure, core.SessionQRTimeout:
		return true
	}
	return false
}
