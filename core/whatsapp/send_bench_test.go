package whatsapp_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"warden/core"
)

// quantile returns the q-quantile of sorted samples.
func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*q))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkSendAck measures send → server ack on loopback: through Warden
// (Manager.SendText, with its checks, notes and the adapter) and through a
// bare whatsmeow client's SendMessage, on two devices of the same fakewa, in
// the same run, one after the other in alternating order. Both send to the
// same contact with Signal sessions already built. The goal is Warden ≤ 1.2×
// bare at the median.
func BenchmarkSendAck(b *testing.B) {
	defaultKeepAlive(b)
	r := newRig(b, 310, testPolicy())
	if err := r.srv.AddContact(contact, 1); err != nil {
		b.Fatal(err)
	}
	acct := r.add("Warden")

	// The bare client's device is paired through the adapter on a store of
	// its own, which whatsmeow then opens directly, with the Dialer's pragmas:
	// every send writes Signal sessions, so the comparison must not be one
	// of SQLite settings.
	d2, path2 := newDialer(b, r.srv)
	s, _, bareAcct := pair(b, r.srv, d2, "bare")
	s.Close()
	if err := d2.Close(); err != nil {
		b.Fatal(err)
	}
	container, err := sqlstore.New(context.Background(), "sqlite",
		"file:"+path2+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer container.Close()
	jid, _ := types.ParseJID(bareAcct.JID)
	dev, err := container.GetDevice(context.Background(), jid)
	if err != nil || dev == nil {
		b.Fatalf("GetDevice: %v, %v", dev, err)
	}
	cli := whatsmeow.NewClient(dev, nil)
	cli.EnableAutoReconnect = false
	cli.SetPreLoginHTTPClient(r.srv.HTTPClient())
	cli.SetWebsocketHTTPClient(r.srv.HTTPClient())
	connected := make(chan struct{}, 1)
	cli.AddEventHandler(func(evt any) {
		if _, ok := evt.(*events.Connected); ok {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	})
	if err := cli.Connect(); err != nil {
		b.Fatal(err)
	}
	defer cli.Disconnect()
	select {
	case <-connected:
	case <-time.After(wait):
		b.Fatal("the bare client did not connect")
	}

	ctx := context.Background()
	to := types.NewJID(contact, types.DefaultUserServer)
	warden := func() time.Duration {
		start := time.Now()
		if _, err := r.m.SendText(ctx, acct.ID, contact, "bench"); err != nil {
			b.Fatalf("Warden SendText: %v", err)
		}
		return time.Since(start)
	}
	bare := func() time.Duration {
		start := time.Now()
		if _, err := cli.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String("bench")}); err != nil {
			b.Fatalf("bare SendMessage: %v", err)
		}
		return time.Since(start)
	}
	// The first send of each builds the Signal sessions (usync, prekeys).
	warden()
	bare()

	var ws, bs []time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			ws = append(ws, warden())
			bs = append(bs, bare())
		} else {
			bs = append(bs, bare())
			ws = append(ws, warden())
		}
		i++
	}
	slices.Sort(ws)
	slices.Sort(bs)
	b.ReportMetric(ms(quantile(ws, 0.5)), "warden-ms-median")
	b.ReportMetric(ms(quantile(ws, 0.95)), "warden-ms-p95")
	b.ReportMetric(ms(quantile(bs, 0.5)), "bare-ms-median")
	b.ReportMetric(ms(quantile(bs, 0.95)), "bare-ms-p95")
	b.ReportMetric(float64(quantile(ws, 0.5))/float64(quantile(bs, 0.5)), "median-ratio")
	b.ReportMetric(float64(quantile(ws, 0.95))/float64(quantile(bs, 0.95)), "p95-ratio")
	r.oneClient(acct.JID)
}

// BenchmarkSendBurst connects 200 accounts through Warden, then has each
// send one message to its own number at the same moment (each first send
// fetches device lists and prekey bundles and builds a Signal session). It
// reports the time from the start to the last ack, and fails unless every
// message was acked and decrypted.
func BenchmarkSendBurst(b *testing.B) {
	defaultKeepAlive(b)
	const n = 200
	p := testPolicy()
	p.StartSpread = 5 * time.Millisecond
	r := newRig(b, 311, p)
	accts := make([]core.Account, n)
	for i := range accts {
		accts[i] = r.add(fmt.Sprintf("Burst %03d", i))
	}
	ctx := context.Background()
	round := 0
	for b.Loop() {
		round++
		lat := make([]time.Duration, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i, acct := range accts {
			wg.Go(func() {
				<-gate
				res, err := r.m.SendText(ctx, acct.ID, phoneOf(b, acct.JID), fmt.Sprintf("burst %d", round))
				lat[i], errs[i] = res.Latency, err
			})
		}
		start := time.Now()
		close(gate)
		wg.Wait()
		total := time.Since(start)
		for i, err := range errs {
			if err != nil {
				b.Fatalf("account %d: %v", i, err)
			}
		}
		for _, acct := range accts {
			if got := r.srv.Received(phoneOf(b, acct.JID)); len(got) != round {
				b.Fatalf("%s's phone has %d messages after %d rounds", acct.Name, len(got), round)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(ms(total), "ms-to-last-ack")
		b.ReportMetric(ms(quantile(lat, 0.5)), "ms-median-ack")
		b.ReportMetric(float64(n), "acked")
	}
}
