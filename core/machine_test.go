package core

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/step.golden (then review every changed row)")

var t0 = time.Date(2026, 11, 26, 14, 2, 0, 0, time.UTC)

// fixture returns a consistent machine in state s: sessions open exactly in
// Pairing, Connecting and Connected; timers armed where the state has one.
func fixture(s State) machine {
	m := machine{Status: Status{
		Account: Account{ID: "a1", Name: "Sales", JID: "15550001111.0:1@s.whatsapp.net", AutoStart: true},
		State:   s, Since: t0.Add(-time.Minute), Epoch: 3,
	}}
	switch s {
	case Pairing:
		m.Account.JID = ""
		m.open = true
		m.QRCode, m.QRIndex, m.QRTotal, m.QRExpires = "ref2,x,y,z", 2, 6, t0.Add(20*time.Second)
	case Connecting:
		m.open = true
		m.Attempt = 2
		m.deadline[timerLogin] = t0.Add(30 * time.Second)
	case Connected:
		m.open = true
	case Waiting:
		m.Attempt = 2
		m.NextAttempt = t0.Add(5 * time.Second)
		m.deadline[timerDial] = m.NextAttempt
	case Replaced: // a takeover is pending
		m.NextAttempt = t0.Add(30 * time.Second)
		m.deadline[timerDial] = m.NextAttempt
		m.conflicts = []time.Time{t0.Add(-time.Minute)}
	case Banned:
		m.NextAttempt = t0.Add(time.Hour)
		m.deadline[timerDial] = m.NextAttempt
	default:
		m.Account.AutoStart = false
	}
	return m
}

type namedInput struct {
	name string
	in   func(m machine) input
}

func ev(k SessionEventKind) func(m machine) input {
	return func(m machine) input { return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: k}} }
}

var allInputs = []namedInput{
	{"connect", func(machine) input { return input{kind: inConnect} }},
	{"disconnect", func(machine) input { return input{kind: inDisconnect} }},
	{"logout", func(machine) input { return input{kind: inLogout} }},
	{"logout-ok", func(m machine) input { return input{kind: inLogoutDone, epoch: m.Epoch} }},
	{"logout-err", func(m machine) input {
		return input{kind: inLogoutDone, epoch: m.Epoch, err: errors.New("timed out")}
	}},
	{"pair-phone", func(machine) input { return input{kind: inPairPhone, phone: "447700900123"} }},
	{"delete", func(machine) input { return input{kind: inDelete} }},
	{"ev-connected", ev(SessionConnected)},
	{"ev-qr", func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionQR, QRCode: "ref3", QRIndex: 3, QRTotal: 6, QRExpires: t0.Add(20 * time.Second)}}
	}},
	{"ev-pair-success", func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionPairSuccess, JID: "15550002222.0:1@s.whatsapp.net"}}
	}},
	{"ev-pair-error", ev(SessionPairError)},
	{"ev-disconnected", ev(SessionDisconnected)},
	{"ev-replaced", ev(SessionReplaced)},
	{"ev-logged-out", ev(SessionLoggedOut)},
	{"ev-temp-ban", func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionTemporaryBan, Code: 101, Until: t0.Add(2 * time.Hour)}}
	}},
	{"ev-outdated", ev(SessionOutdated)},
	{"ev-connect-failure", func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionConnectFailure, Code: 409}}
	}},
	{"ev-keepalive-timeout", ev(SessionKeepAliveTimeout)},
	{"ev-keepalive-restored", ev(SessionKeepAliveRestored)},
	{"ev-qr-timeout", ev(SessionQRTimeout)},
	{"ev-stale-disconnected", func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch - 1, ev: SessionEvent{Kind: SessionDisconnected}}
	}},
	{"dial-failed", func(m machine) input {
		return input{kind: inDialFailed, epoch: m.Epoch, err: errors.New("connection refused")}
	}},
	{"tick-dial", func(m machine) input { return input{kind: inTick, timer: timerDial, at: m.deadline[timerDial]} }},
	{"tick-stale", func(m machine) input { return input{kind: inTick, timer: timerDial, at: t0.Add(-time.Hour)} }},
	{"tick-login", func(m machine) input { return input{kind: inTick, timer: timerLogin, at: m.deadline[timerLogin]} }},
	{"startup", func(machine) input { return input{kind: inStartup, delay: 250 * time.Millisecond} }},
	{"keys-missing", func(machine) input { return input{kind: inKeysMissing} }},
	{"shutdown", func(machine) input { return input{kind: inShutdown} }},
}

// describe renders a step's outcome on one line, for the golden table.
func describe(before machine, in input, after machine, acts []action, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v", after.State)
	if after.Attempt != 0 {
		fmt.Fprintf(&b, " attempt=%d", after.Attempt)
	}
	if !after.NextAttempt.IsZero() {
		fmt.Fprintf(&b, " next=+%v", after.NextAttempt.Sub(t0))
	}
	if after.open {
		b.WriteString(" open")
	}
	if after.Account.AutoStart != before.Account.AutoStart {
		fmt.Fprintf(&b, " autostart=%v", after.Account.AutoStart)
	}
	b.WriteString(" [")
	for i, a := range acts {
		if i > 0 {
			b.WriteString(", ")
		}
		switch a.kind {
		case actRecord:
			fmt.Fprintf(&b, "record %v→%v %q", a.event.From, a.event.To, a.event.Cause)
			if a.event.Delay != 0 {
				fmt.Fprintf(&b, " delay=%v", a.event.Delay)
			}
		case actArm:
			fmt.Fprintf(&b, "arm %v +%v", a.timer, a.at.Sub(t0))
		default:
			b.WriteString(a.String())
		}
	}
	b.WriteString("]")
	if after.Reason != before.Reason && after.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", after.Reason)
	}
	return b.String()
}

// TestStepTable runs every input in every state and compares the outcome with
// testdata/step.golden, a reviewed table of (state, input) → (state, actions).
func TestStepTable(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = 0
	var got []string
	for _, s := range States {
		for _, ni := range allInputs {
			m := fixture(s)
			in := ni.in(m)
			after, acts, err := step(m, in, t0, p)
			got = append(got, fmt.Sprintf("%-10v + %-22s → %s", s, ni.name, describe(m, in, after, acts, err)))
			if err != nil && !(after.State == m.State && len(acts) == 0) {
				t.Errorf("%v + %s: refused with %v but changed the machine", s, ni.name, err)
			}
			checkInvariants(t, fmt.Sprintf("%v + %s", s, ni.name), m, in, after, acts, t0)
		}
	}
	const path = "testdata/step.golden"
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run with -update, then review the table)", err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(want) != len(got) {
		t.Fatalf("golden has %d rows, step produced %d", len(want), len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
}

// Disconnect of an Idle account: refused when nothing would start it, and
// turns AutoStart off when something would (its node in a fleet, the next
// start of Warden).
func TestDisconnectIdle(t *testing.T) {
	for _, c := range []struct {
		autoStart bool
		want      string
	}{
		{false, "error: the account is not connected: it is already disconnected"},
		{true, `Idle autostart=false [save, record Idle→Idle "disconnect"] reason="disconnected by the operator"`},
	} {
		m := fixture(Idle)
		m.Account.AutoStart = c.autoStart
		in := input{kind: inDisconnect}
		after, acts, err := step(m, in, t0, DefaultPolicy())
		if got := describe(m, in, after, acts, err); got != c.want {
			t.Errorf("step(Idle AutoStart=%v, disconnect) = %s, want %s", c.autoStart, got, c.want)
		}
	}
}

// checkInvariants asserts what must hold after any step.
func checkInvariants(t *testing.T, what string, before machine, in input, after machine, acts []action, now time.Time) {
	t.Helper()
	if after.deleted {
		return
	}
	live := after.State == Pairing || after.State == Connecting || after.State == Connected
	if live != after.open {
		t.Errorf("%s: state %v with open=%v", what, after.State, after.open)
	}
	open := before.open
	for _, a := range acts {
		switch a.kind {
		case actDial:
			if open {
				t.Errorf("%s: dial while a session is open: %v", what, acts)
			}
			open = true
		case actClose:
			if !open {
				t.Errorf("%s: close without an open session: %v", what, acts)
			}
			open = false
		}
	}
	if open != after.open {
		t.Errorf("%s: actions leave open=%v, machine says %v", what, open, after.open)
	}
	if after.State == Waiting && !after.NextAttempt.After(now) && in.kind != inStartup {
		t.Errorf("%s: Waiting with next attempt %v not in the future", what, after.NextAttempt)
	}
	if after.State == Waiting && !after.deadline[timerDial].Equal(after.NextAttempt) {
		t.Errorf("%s: Waiting without its dial timer", what)
	}
	if !after.NextAttempt.IsZero() && !after.deadline[timerDial].Equal(after.NextAttempt) {
		t.Errorf("%s: next attempt %v but dial timer %v", what, after.NextAttempt, after.deadline[timerDial])
	}
	if login := !after.deadline[timerLogin].IsZero(); login != (after.State == Connecting) {
		t.Errorf("%s: state %v with the login timer armed=%v: it must run exactly in Connecting", what, after.State, login)
	}
	if isFinal(before) && !isCommand(in.kind) && after.State != before.State {
		t.Errorf("%s: final state %v left to %v without a command", what, before.State, after.State)
	}
}

func isFinal(m machine) bool {
	switch m.State {
	case Idle, LoggedOut, Outdated, Failed:
		return true
	case Replaced, Banned:
		return m.NextAttempt.IsZero()
	}
	return false
}

func isCommand(k inputKind) bool {
	switch k {
	case inConnect, inDisconnect, inLogout, inDelete, inPairPhone, inStartup, inKeysMissing:
		return true
	}
	return false
}

// FuzzStep feeds random sequences of commands, session events and timer
// ticks to one account and checks the invariants after every step: at most one
// open session, no dial while one is open, Waiting always has a future next
// attempt, final states stay until a command.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 7, 11, 20, 20, 7, 12, 20, 12, 1, 0, 6})
	f.Add([]byte{0, 8, 9, 7, 17, 20, 20, 20, 20, 13, 0, 7, 2, 3})
	f.Add([]byte{5, 0, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := DefaultPolicy()
		m := machine{Status: Status{Account: Account{ID: "f", Name: "F"}, State: Idle, Since: t0}}
		if len(data) > 0 && data[0]%2 == 1 {
			m.Account.JID = "15550003333.0:1@s.whatsapp.net"
		}
		now := t0
		open := 0
		for i, b := range data {
			in, ok := fuzzInput(b, m, &now)
			if !ok {
				continue
			}
			in.rnd = float64(b) / 256
			before := m
			next, acts, err := step(m, in, now, p)
			if err != nil {
				if next.State != m.State || len(acts) != 0 {
					t.Fatalf("step %d: refused (%v) but changed things", i, err)
				}
				continue
			}
			for _, a := range acts {
				switch a.kind {
				case actDial:
					if open != 0 {
						t.Fatalf("step %d (%v in %v): dial with %d session(s) open", i, in, before.State, open)
					}
					open++
				case actClose:
					open--
				case actDelete:
					if before.open {
						open--
					}
				}
				if open < 0 || open > 1 {
					t.Fatalf("step %d: %d sessions open", i, open)
				}
			}
			checkInvariants(t, fmt.Sprintf("step %d (%v in %v)", i, in, before.State), before, in, next, acts, now)
			if next.deleted {
				if open != 0 {
					t.Fatalf("deleted with %d session(s) open", open)
				}
				return
			}
			m = next
		}
	})
}

// fuzzInput turns a byte into an input. Ticks jump the clock to an armed
// deadline; other bytes let a little time pass.
func fuzzInput(b byte, m machine, now *time.Time) (input, bool) {
	// Time passes, but never past an armed deadline: a real timer would fire
	// there first (ticks are their own inputs below).
	next := now.Add(time.Duration(b%7) * 100 * time.Millisecond)
	for _, d := range m.deadline {
		if !d.IsZero() && !next.Before(d) {
			next = *now
		}
	}
	*now = next
	epoch := m.Epoch
	if b&0x80 != 0 && epoch > 0 {
		epoch-- // a late event of the previous session
	}
	se := func(k SessionEventKind) (input, bool) {
		e := SessionEvent{Kind: k}
		switch k {
		case SessionQR:
			e.QRCode, e.QRIndex, e.QRTotal = "ref", 1, 6
		case SessionPairSuccess:
			e.JID = "15550004444.0:1@s.whatsapp.net"
		case SessionTemporaryBan:
			if b%3 != 0 {
				e.Until = now.Add(time.Duration(b) * time.Minute)
			}
		}
		return input{kind: inSession, epoch: epoch, ev: e}, true
	}
	switch b & 0x7f % 24 {
	case 0:
		return input{kind: inConnect}, true
	case 1:
		return input{kind: inDisconnect}, true
	case 2:
		return input{kind: inLogout}, true
	case 3:
		return input{kind: inLogoutDone, epoch: epoch}, true
	case 4:
		return input{kind: inPairPhone}, true
	case 5:
		return input{kind: inStartup, delay: time.Second}, true
	case 6:
		if b&0x80 != 0 {
			return input{kind: inDelete}, true
		}
		return input{kind: inShutdown}, true
	case 20, 21, 22:
		k := timerKind(int(b&0x7f) / 24 % int(numTimers))
		if m.deadline[k].IsZero() {
			return input{}, false
		}
		if m.deadline[k].After(*now) {
			*now = m.deadline[k]
		}
		return input{kind: inTick, timer: k, at: m.deadline[k]}, true
	case 23:
		return input{kind: inDialFailed, epoch: epoch, err: errors.New("refused")}, true
	default: // 7..19: the thirteen session event kinds
		return se(SessionEventKind(b&0x7f%24 - 6))
	}
}

// The login timer runs exactly while the account is Connecting: a dial or a
// pairing arms it, logging in or leaving Connecting disarms it, and when it
// fires the session is closed and the account waits on the schedule.
func TestLoginTimer(t *testing.T) {
	p := DefaultPolicy()
	p.Jitter = 0
	zero := p
	zero.LoginTimeout = 0 // a policy saved before the field existed
	tickLogin := func(m machine) input { return input{kind: inTick, timer: timerLogin, at: m.deadline[timerLogin]} }
	paired := func(m machine) input {
		return input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionPairSuccess, JID: "15550002222.0:1@s.whatsapp.net"}}
	}
	dialTick := func(m machine) input { return input{kind: inTick, timer: timerDial, at: m.deadline[timerDial]} }
	type timed struct {
		after time.Duration // since t0
		in    func(m machine) input
	}
	tests := []struct {
		name   string
		from   State
		p      Policy
		inputs []timed
		want   State
		login  time.Duration // the login deadline after the inputs, since t0; 0: disarmed
		acts   string        // the last step's actions
		reason string
	}{
		{name: "the dial arms it", from: Waiting, p: p, inputs: []timed{{5 * time.Second, dialTick}},
			want: Connecting, login: 65 * time.Second, acts: "[dial#4 arm login record Waiting→Connecting]"},
		{name: "a policy without one gets the default", from: Waiting, p: zero, inputs: []timed{{5 * time.Second, dialTick}},
			want: Connecting, login: 65 * time.Second},
		{name: "pairing arms it", from: Pairing, p: p, inputs: []timed{{0, paired}},
			want: Connecting, login: 60 * time.Second, acts: "[save arm login record Pairing→Connecting]"},
		{name: "logging in disarms it", from: Connecting, p: p, inputs: []timed{{time.Second, ev(SessionConnected)}},
			want: Connected, acts: "[disarm login record Connecting→Connected arm stable]"},
		{name: "missing keys disarm it", from: Connecting, p: p, inputs: []timed{{time.Second, ev(SessionQR)}},
			want: Pairing, acts: "[disarm login record Connecting→Pairing]"},
		{name: "a late tick after logging in changes nothing", from: Connecting, p: p,
			inputs: []timed{{time.Second, ev(SessionConnected)}, {30 * time.Second, func(machine) input {
				return input{kind: inTick, timer: timerLogin, at: t0.Add(30 * time.Second)}
			}}},
			want: Connected, acts: "[]"},
		{name: "it fires: retried on the schedule", from: Connecting, p: p, inputs: []timed{{30 * time.Second, tickLogin}},
			want: Waiting, acts: "[close#3 arm dial record Connecting→Waiting]",
			reason: "logging in took longer than 60 s; trying again"},
		{name: "it fires after pairing", from: Pairing, p: p, inputs: []timed{{0, paired}, {60 * time.Second, tickLogin}},
			want: Waiting, acts: "[close#3 arm dial record Connecting→Waiting]",
			reason: "paired, but logging in after pairing did not finish within 60 s; trying again"},
		{name: "a retry after pairing is an ordinary login", from: Pairing, p: p,
			inputs: []timed{{0, paired}, {60 * time.Second, tickLogin}, {63 * time.Second, dialTick}, {123 * time.Second, tickLogin}},
			want:   Waiting, reason: "logging in took longer than 60 s; trying again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture(tt.from)
			var acts []action
			for _, ti := range tt.inputs {
				var err error
				before, in, now := m, ti.in(m), t0.Add(ti.after)
				m, acts, err = step(m, in, now, tt.p)
				if err != nil {
					t.Fatalf("step(%v, %v): %v", before.State, in, err)
				}
				checkInvariants(t, fmt.Sprintf("%v + %v", before.State, in), before, in, m, acts, now)
			}
			if m.State != tt.want {
				t.Errorf("state = %v (%s), want %v", m.State, m.Reason, tt.want)
			}
			var login time.Duration
			if d := m.deadline[timerLogin]; !d.IsZero() {
				login = d.Sub(t0)
			}
			if login != tt.login {
				t.Errorf("login deadline = +%v, want +%v (0: disarmed)", login, tt.login)
			}
			if tt.acts != "" {
				if got := fmt.Sprint(acts); got != tt.acts {
					t.Errorf("actions = %s, want %s", got, tt.acts)
				}
			}
			if tt.reason != "" && m.Reason != tt.reason {
				t.Errorf("reason = %q, want %q", m.Reason, tt.reason)
			}
			if tt.want == Waiting {
				if len(acts) == 0 {
					t.Fatal("no actions: nothing recorded")
				}
				last := acts[len(acts)-1].event
				if last.Cause != CauseLoginTimeout || last.Reason != tt.reason {
					t.Errorf("recorded %q: %q, want %q: %q", last.Cause, last.Reason, CauseLoginTimeout, tt.reason)
				}
			}
		})
	}
}

func BenchmarkStep(b *testing.B) {
	p := DefaultPolicy()
	m := fixture(Connected)
	kaTimeout := input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionKeepAliveTimeout}}
	kaRestored := input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionKeepAliveRestored}}
	drop := input{kind: inSession, epoch: m.Epoch, ev: SessionEvent{Kind: SessionDisconnected}}
	b.ReportAllocs()
	now := t0
	for i := 0; b.Loop(); i++ {
		now = now.Add(time.Millisecond)
		var in input
		switch i % 4 {
		case 0:
			in = kaTimeout
		case 1:
			in = kaRestored
		case 2:
			in = drop
		case 3: // dial again: the tick of the reconnect timer
			in = input{kind: inTick, timer: timerDial, at: m.deadline[timerDial]}
		}
		next, _, _ := step(m, in, now, p)
		if i%4 == 3 {
			next.State, next.open = Connected, true // the new session logged in
			kaTimeout.epoch, kaRestored.epoch, drop.epoch = next.Epoch, next.Epoch, next.Epoch
		}
		m = next
	}
}
