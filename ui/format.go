package ui

import (
	"fmt"
	"strings"
	"time"

	"warden/core"
)

// stateWord is the state's name as the operator reads it, on badges and in
// the summary.
func stateWord(s core.State) string {
	switch s {
	case core.Idle:
		return "Stopped"
	case core.LoggedOut:
		return "Logged out"
	case core.Waiting:
		return "Reconnecting"
	}
	return s.String()
}

// statusWord is the word of a status's badge: its state's, except for an
// account that stopped because it could not reach WhatsApp, which is
// "Unreachable", not "Stopped" (that is the operator's doing), and one
// whose proxy keeps refusing it, "Refused".
func statusWord(s core.Status) string {
	if unreachable(s) {
		return "Unreachable"
	}
	if s.Stuck() { // retrying, but refused every time: the operator's to fix
		return "Refused"
	}
	return stateWord(s.State)
}

// eventWord is the word of the state an event entered: an account that
// stopped because its dial failed is "Unreachable", as statusWord says.
func eventWord(e core.Event) string {
	if e.To == core.Idle && e.Cause == core.CauseDialFailed {
		return "Unreachable"
	}
	return stateWord(e.To)
}

// unreachable reports whether s stopped because its dial could not reach
// WhatsApp (a never-paired account does not retry by itself).
func unreachable(s core.Status) bool {
	return s.State == core.Idle && s.Problem != core.ProblemNone
}

// problemWords says a dial problem in a few words, for a list row.
func problemWords(p core.DialProblem) string {
	switch p {
	case core.ProblemNoDNS:
		return "no internet or DNS"
	case core.ProblemNoRoute:
		return "no internet"
	case core.ProblemRefused:
		return "connection refused"
	case core.ProblemTimeout:
		return "no answer from WhatsApp"
	case core.ProblemTLS:
		return "secure connection failed"
	case core.ProblemProxyAuth:
		return "the proxy refused the password"
	case core.ProblemProxyDown:
		return "the proxy cannot be reached"
	case core.ProblemProxy:
		return "the proxy failed"
	}
	return ""
}

// formatDuration writes an elapsed time the way the list shows it: "45 s",
// "4m 12s", "2h 14m", "3d 4h". It rounds down.
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	secs := int64(d / time.Second)
	switch {
	case secs < 60:
		return fmt.Sprintf("%d s", secs)
	case secs < 3600:
		return fmt.Sprintf("%dm %02ds", secs/60, secs%60)
	case secs < 86400:
		return fmt.Sprintf("%dh %02dm", secs/3600, secs%3600/60)
	}
	return fmt.Sprintf("%dd %dh", secs/86400, secs%86400/3600)
}

// formatCountdown writes the time left until t, rounded up to the second so
// that a countdown reads "1 s" until it is due, never "0 s" early.
func formatCountdown(t, now time.Time) string {
	left := t.Sub(now)
	if left <= 0 {
		return "0 s"
	}
	return formatDuration((left + time.Second - 1).Truncate(time.Second))
}

// clockTime writes t as a time of day in now's location, with the date when
// it is not today: "14:02", "3 Mar 14:02".
func clockTime(t, now time.Time) string {
	t = t.In(now.Location())
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}

// qrExpired reports whether an account is a never-paired one whose QR codes
// ran out: the detail then offers "New code".
func qrExpired(s core.Status) bool {
	return s.State == core.Idle && s.Account.JID == "" && strings.Contains(strings.ToLower(s.Reason), "expired")
}

// statusLine is the one-line status of a row: what is happening and, for a
// countdown, how long is left.
func statusLine(s core.Status, now time.Time) string {
	switch s.State {
	case core.Idle:
		if unreachable(s) {
			return "Could not reach WhatsApp · " + problemWords(s.Problem)
		}
		if s.Reason != "" {
			return capitalize(s.Reason)
		}
		if s.Account.JID == "" {
			return "Not paired yet"
		}
		return "Disconnected"
	case core.Pairing:
		if s.QRCode != "" && s.QRIndex > 0 {
			if s.QRTotal > 0 {
				return fmt.Sprintf("Scan the QR code · %d of %d", s.QRIndex, s.QRTotal)
			}
			return "Scan the QR code"
		}
		return "Pairing…"
	case core.Connecting:
		line := "Connecting…"
		if s.Attempt > 1 {
			line = fmt.Sprintf("Connecting · attempt %d", s.Attempt)
		}
		return withProblem(line, s)
	case core.Connected:
		if !s.KeepAliveFailingSince.IsZero() {
			return "Connected · no reply from WhatsApp for " + formatDuration(now.Sub(s.KeepAliveFailingSince))
		}
		return "Connected for " + formatDuration(now.Sub(s.Since))
	case core.Waiting:
		line := "Reconnecting now"
		if s.NextAttempt.After(now) {
			line = "Reconnecting in " + formatCountdown(s.NextAttempt, now)
		}
		if s.Attempt > 0 {
			line += fmt.Sprintf(" · attempt %d", s.Attempt)
		}
		return withProblem(line, s)
	case core.Replaced:
		if !s.NextAttempt.IsZero() {
			if s.NextAttempt.After(now) {
				return "Replaced by another client · taking over in " + formatCountdown(s.NextAttempt, now)
			}
			return "Replaced by another client · taking over now"
		}
		return "Replaced by another client at " + clockTime(s.Since, now)
	case core.LoggedOut:
		return "Logged out · pair again to use it"
	case core.Banned:
		if !s.NextAttempt.IsZero() {
			if s.NextAttempt.After(now) {
				return "Banned until " + clockTime(s.NextAttempt, now) + " · retry in " + formatCountdown(s.NextAttempt, now)
			}
			return "Ban over · retrying"
		}
		return "Banned · needs action"
	case core.Outdated:
		return "This Warden is too old · update it"
	case core.Failed:
		if s.Reason != "" {
			return "Failed: " + s.Reason
		}
		return "Failed"
	}
	return s.State.String()
}

// withProblem puts the last dial's problem after a retrying account's
// line, or before it when the problem needs the operator: "The proxy
// refused the password · reconnecting in 59 s · attempt 6".
func withProblem(line string, s core.Status) string {
	words := problemWords(s.Problem)
	switch {
	case words == "":
		return line
	case s.Stuck():
		return capitalize(words) + fmt.Sprintf(" (%d times) · ", s.Refusals) + strings.ToLower(line[:1]) + line[1:]
	}
	return line + " · " + words
}

// ticks reports whether a status line changes with the clock, so that the
// one-second ticker refreshes its row.
func ticks(s core.Status) bool {
	switch s.State {
	case core.Connected, core.Waiting:
		return true
	case core.Replaced, core.Banned:
		return !s.NextAttempt.IsZero()
	case core.Pairing:
		return !s.QRExpires.IsZero()
	}
	return false
}

// sinceLine is the detail header's "since": "since 14:02 · 2h 14m ago".
func sinceLine(s core.Status, now time.Time) string {
	if s.Since.IsZero() {
		return ""
	}
	return "since " + clockTime(s.Since, now) + " · " + formatDuration(now.Sub(s.Since)) + " ago"
}
