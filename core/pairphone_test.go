package core

import (
	"strings"
	"testing"
)

// The phone that links by a pairing code must be the one whose number was
// typed, and a paired account paired again should keep its number: when not,
// Warden still pairs (the phone's owner approved it) but says so, in the
// status and as a note on the timeline.
func TestPairingWithAnotherPhoneIsTold(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = 0
	tests := []struct {
		name    string
		before  string // the account's JID before pairing ("": never paired)
		typed   string // the number the code was asked for ("": by QR)
		linked  string // the JID the phone linked
		warning string // in the note and the status; "" for none
	}{
		{"code, the phone typed", "", "15550002222", "15550002222.0:1@s.whatsapp.net", ""},
		{"code, another phone", "", "15550002222", "15559998888.0:1@s.whatsapp.net", "the phone +15559998888 linked, not +15550002222"},
		{"QR, first pairing", "", "", "15559998888.0:1@s.whatsapp.net", ""},
		{"QR, paired again with the same phone", "15550001111.0:3@s.whatsapp.net", "", "15550001111.0:7@s.whatsapp.net", ""},
		{"QR, paired again with another phone", "15550001111.0:3@s.whatsapp.net", "", "15559998888.0:1@s.whatsapp.net", "this account was +15550001111 and is now the phone +15559998888"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture(Pairing)
			m.Account.JID = tt.before
			var err error
			if tt.typed != "" {
				if m, _, err = step(m, input{kind: inPairPhone, phone: tt.typed}, t0, p); err != nil {
					t.Fatalf("pair-phone: %v", err)
				}
			}
			after, acts, err := step(m, input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionPairSuccess, JID: tt.linked}}, t0, p)
			if err != nil {
				t.Fatal(err)
			}
			if after.State != Connecting || after.Account.JID != tt.linked {
				t.Fatalf("after pairing: %v with %q, want Connecting with the linked JID", after.State, after.Account.JID)
			}
			var notes []string
			for _, a := range acts {
				if a.kind == actRecord && a.event.Cause == CauseOtherPhone {
					notes = append(notes, a.event.Reason)
				}
			}
			if tt.warning == "" {
				if len(notes) != 0 || after.Reason != "paired: logging in" {
					t.Errorf("the expected phone linked, yet notes %q and reason %q", notes, after.Reason)
				}
				return
			}
			if len(notes) != 1 || !strings.Contains(notes[0], tt.warning) {
				t.Errorf("timeline notes %q, want one saying %q", notes, tt.warning)
			}
			if !strings.Contains(after.Reason, tt.warning) {
				t.Errorf("status reason %q, want it to say %q", after.Reason, tt.warning)
			}
			// The typed number is for this pairing only.
			if after.pairPhone != "" {
				t.Errorf("the typed number %q outlives the pairing", after.pairPhone)
			}
		})
	}
}
