package app

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"warden/core"
	"warden/core/fakewa"
)

// demoNames are the accounts `warden --demo` creates.
var demoNames = []string{"Sales", "Support", "Billing", "Logistics", "Marketing", "Front desk"}

// The demo's recipients for test messages: a contact whose phone and linked
// laptop both receive, and a number that is not on WhatsApp, so that both a
// delivery and a failure can be seen.
const (
	demoContact = "15550100200"
	demoNobody  = "15550100404"
)

// demoWriters are the demo's contacts who write to the accounts, besides
// demoContact; each has a phone and nothing else.
var demoWriters = []string{"15550100201", "15550100202", "15550100203"}

// demoTexts are what the demo's contacts write.
var demoTexts = []string{
	"Hi, is my order on its way?",
	"Can you send me the invoice again, please?",
	"Thanks, that worked!",
	"What time do you open tomorrow?",
	"I'd like to change my delivery address.",
	"👍",
	"Is the blue one still in stock?",
	"Please call me back when you can.",
}

// demoSendHint is the Test message section's explanation in the demo.
const demoSendHint = "Demo: send to +1 555 0100 200, a contact with a phone and a linked laptop, or to +1 555 0100 404, " +
	"which is not on WhatsApp. Leave it empty to send to this account’s own number."

// demo runs Warden against an in-process fake WhatsApp server (core/fakewa):
// simulated phones scan the QR codes a few seconds after they appear, and a
// fault comes now and then (a drop, a server restart, a conflict, a temporary
// ban, a stall), so every state and the timeline can be seen without a phone.
type demo struct {
	server *fakewa.Server
	log    *slog.Logger

	// Timing, shortened in tests.
	scanAfter    time.Duration // how long a phone takes to scan a code
	faultEvery   time.Duration // mean gap between faults
	messageEvery time.Duration // mean gap between the contacts' messages

	names []string // the accounts it creates

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newDemo(log *slog.Logger) (*demo, error) {
	// Its phones are past their LID migration, as real accounts now are.
	srv, err := fakewa.New(fakewa.Config{Logger: log.With("component", "fakewa"), Seed: time.Now().UnixNano(), LIDMigration: true})
	if err != nil {
		return nil, fmt.Errorf("start the demo server: %w", err)
	}
	for _, c := range append([]string{demoContact}, demoWriters...) {
		devices := 1
		if c == demoContact {
			devices = 2
		}
		if err := srv.AddContact(c, devices); err != nil {
			srv.Close()
			return nil, fmt.Errorf("start the demo server: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &demo{server: srv, log: log, scanAfter: 4 * time.Second, faultEvery: 25 * time.Second, messageEvery: 6 * time.Second,
		ctx: ctx, cancel: cancel}
	// WARDEN_DEMO_FAULT_EVERY and WARDEN_DEMO_MESSAGE_EVERY (durations like
	// 10s) make the demo livelier or calmer; the window test uses the first
	// to see a fault sooner.
	for _, v := range []struct {
		name string
		to   *time.Duration
	}{{"WARDEN_DEMO_FAULT_EVERY", &d.faultEvery}, {"WARDEN_DEMO_MESSAGE_EVERY", &d.messageEvery}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		every, err := time.ParseDuration(s)
		if err != nil || every <= 0 {
			srv.Close()
			cancel()
			return nil, fmt.Errorf("%s=%q: want a positive duration like 10s", v.name, s)
		}
		*v.to = every
	}
	// WARDEN_DEMO_ACCOUNTS (6 to 200) sets how many accounts the demo
	// creates: beyond the six named ones, "Desk 7", "Desk 8", …
	d.names = demoNames
	if v := os.Getenv("WARDEN_DEMO_ACCOUNTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < len(demoNames) || n > 200 {
			srv.Close()
			cancel()
			return nil, fmt.Errorf("WARDEN_DEMO_ACCOUNTS=%q: want a number of accounts from %d to 200", v, len(demoNames))
		}
		d.names = slices.Clone(demoNames)
		for i := len(demoNames) + 1; i <= n; i++ {
			d.names = append(d.names, fmt.Sprintf("Desk %d", i))
		}
	}
	return d, nil
}

// policy shortens the zombie threshold so a stalled socket is noticed while
// someone watches; everything else stays as the settings say.
func (d *demo) policy(p core.Policy) core.Policy {
	p.ZombieAfter = 40 * time.Second
	return p
}

// start creates the demo accounts and runs the phones and the faults.
func (d *demo) start(m *core.Manager) {
	updates, cancel := m.Subscribe()
	d.wg.Go(func() {
		defer cancel()
		d.phones(updates)
	})
	d.wg.Go(func() { d.faults(m) })
	d.wg.Go(func() { d.chats(m) })
	for _, name := range d.names {
		acct, err := m.Add(d.ctx, name)
		if err != nil {
			d.log.Error("demo: adding an account failed", "name", name, "err", err)
			continue
		}
		d.log.Info("demo: account added", "account", string(acct.ID), "name", name)
	}
}

func (d *demo) stop() {
	d.cancel()
	d.wg.Wait()
}

// phones scans each new QR code after scanAfter, like a person with a phone.
func (d *demo) phones(updates <-chan core.Status) {
	scanned := make(map[string]bool)
	for {
		var st core.Status
		var ok bool
		select {
		case <-d.ctx.Done():
			return
		case st, ok = <-updates:
			if !ok {
				return
			}
		}
		if st.State != core.Pairing || st.QRCode == "" || scanned[st.QRCode] {
			continue
		}
		scanned[st.QRCode] = true
		code := st.QRCode
		d.wg.Go(func() {
			select {
			case <-d.ctx.Done():
				return
			case <-time.After(d.scanAfter + rand.N(2*time.Second)):
			}
			if _, err := d.server.ScanQR(code); err != nil {
				d.log.Debug("demo: the phone could not scan a code", "err", err)
			}
		})
	}
}

// demoFaults are the faults the demo injects, each as a list applied in order.
var demoFaults = [][]fakewa.Fault{
	{{Kind: fakewa.FaultDrop}},
	{{Kind: fakewa.FaultRestart}},
	{{Kind: fakewa.FaultReplaced}},
	{{Kind: fakewa.FaultFail402, Code: 101, Expire: 40 * time.Second}, {Kind: fakewa.FaultDrop}},
	{{Kind: fakewa.FaultStall}},
	{{Kind: fakewa.FaultStream503}},
}

// faults injects a random fault into a random connected account now and then.
func (d *demo) faults(m *core.Manager) {
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(d.faultEvery/2 + rand.N(d.faultEvery)):
		}
		var live []core.Status
		for _, st := range m.Statuses() {
			if st.State == core.Connected && st.Account.JID != "" {
				live = append(live, st)
			}
		}
		if len(live) == 0 {
			continue
		}
		st := live[rand.N(len(live))]
		faults := demoFaults[rand.N(len(demoFaults))]
		for _, f := range faults {
			if err := d.server.Inject(st.Account.JID, f); err != nil {
				d.log.Debug("demo: injecting a fault failed", "err", err)
			}
		}
		d.log.Info("demo: injected a fault", "account", string(st.Account.ID), "name", st.Account.Name, "fault", faults[0].Kind.String())
	}
}

// chats has the demo's contacts write to a random paired account now and
// then: mostly texts, now and then a photo (no real media: the account sees
// its kind and size), and sometimes the account's own phone writes. An
// account that is not connected gets its messages at its next login, as
// WhatsApp keeps them.
func (d *demo) chats(m *core.Manager) {
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(d.messageEvery/2 + rand.N(d.messageEvery)):
		}
		var paired []core.Status
		for _, st := range m.Statuses() {
			if st.Account.JID != "" {
				paired = append(paired, st)
			}
		}
		if len(paired) == 0 {
			continue
		}
		to := paired[rand.N(len(paired))].Account
		from := demoWriters[rand.N(len(demoWriters))]
		if rand.N(8) == 0 {
			from = to.Phone() // the account's own phone
		}
		var err error
		if rand.N(5) == 0 {
			_, err = d.server.SendMessage(from, to.Phone(), &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
				Caption: proto.String("Here is the photo"), Mimetype: proto.String("image/jpeg"),
				FileLength: proto.Uint64(200_000 + rand.Uint64N(2_000_000)),
			}})
		} else {
			_, err = d.server.SendText(from, to.Phone(), demoTexts[rand.N(len(demoTexts))])
		}
		if err != nil {
			d.log.Debug("demo: a contact could not write", "account", string(to.ID), "err", err)
		}
	}
}
