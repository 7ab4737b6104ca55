package ui

import (
	"testing"
	"time"

	"warden/core"
)

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 s"},
		{0, "0 s"},
		{7*time.Second + 900*time.Millisecond, "7 s"},
		{59 * time.Second, "59 s"},
		{60 * time.Second, "1m 00s"},
		{4*time.Minute + 12*time.Second, "4m 12s"},
		{2*time.Hour + 14*time.Minute + 59*time.Second, "2h 14m"},
		{26*time.Hour + 5*time.Minute, "1d 2h"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.d); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatCountdownRoundsUp(t *testing.T) {
	tests := []struct {
		left time.Duration
		want string
	}{
		{7 * time.Second, "7 s"},
		{6*time.Second + time.Millisecond, "7 s"},
		{100 * time.Millisecond, "1 s"},
		{0, "0 s"},
		{-3 * time.Second, "0 s"},
	}
	for _, tt := range tests {
		if got := formatCountdown(t0.Add(tt.left), t0); got != tt.want {
			t.Errorf("formatCountdown(now+%v) = %q, want %q", tt.left, got, tt.want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	want := map[core.AccountID]string{
		"idle":       "Disconnected",
		"expired":    "QR code expired",
		"pairing":    "Scan the QR code · 2 of 6",
		"connecting": "Connecting…",
		"connected":  "Connected for 2h 14m",
		"waiting":    "Reconnecting in 7 s · attempt 4",
		"takeover":   "Replaced by another client · taking over in 24 s",
		"replaced":   "Replaced by another client at 14:02",
		"loggedout":  "Logged out · pair again to use it",
		"banned":     "Banned until 17:40 · retry in 3h 10m",
		"outdated":   "This Warden is too old · update it",
		"failed":     "Failed: the device keys could not be read",
	}
	for _, s := range sampleStatuses() {
		if got := statusLine(s, t0); got != want[s.Account.ID] {
			t.Errorf("statusLine(%s) = %q, want %q", s.Account.ID, got, want[s.Account.ID])
		}
	}

	more := []struct {
		name string
		s    core.Status
		want string
	}{
		{"never paired", core.Status{State: core.Idle}, "Not paired yet"},
		{"pairing before the first code", core.Status{State: core.Pairing}, "Pairing…"},
		{"connecting on a retry", core.Status{State: core.Connecting, Attempt: 3}, "Connecting · attempt 3"},
		{"retry due", core.Status{State: core.Waiting, Attempt: 2, NextAttempt: t0.Add(-time.Second)}, "Reconnecting now · attempt 2"},
		{"keepalives failing", core.Status{State: core.Connected, Since: t0.Add(-time.Hour), KeepAliveFailingSince: t0.Add(-45 * time.Second)},
			"Connected · no reply from WhatsApp for 45 s"},
		{"replaced yesterday", core.Status{State: core.Replaced, Since: t0.Add(-20 * time.Hour)}, "Replaced by another client at 2 Mar 18:30"},
		{"banned, parked", core.Status{State: core.Banned}, "Banned · needs action"},
		{"ban over", core.Status{State: core.Banned, NextAttempt: t0}, "Ban over · retrying"},
		{"failed without reason", core.Status{State: core.Failed}, "Failed"},
	}
	for _, tt := range more {
		if got := statusLine(tt.s, t0); got != tt.want {
			t.Errorf("%s: statusLine = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestClockTimeUsesNowsLocation(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	now := t0.In(berlin) // 15:30 local
	if got := clockTime(time.Date(2026, 3, 3, 14, 2, 0, 0, time.UTC), now); got != "15:02" {
		t.Errorf("clockTime = %q, want the time in now's zone, 15:02", got)
	}
}
