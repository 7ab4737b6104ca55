package outbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/outbox"
)

// stopwatch is a receiver that notes when each event arrived.
type stopwatch struct {
	srv *httptest.Server

	mu sync.Mutex
	// mu guards the following
	arrived map[string]time.Time
	want    int
	done    chan struct{} // closed when want events arrived
}

func newStopwatch(b *testing.B, want int) *stopwatch {
	sw := &stopwatch{arrived: make(map[string]time.Time, want), want: want, done: make(chan struct{})}
	sw.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev outbox.Event
		if err := json.NewDecoder(req.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now := time.Now()
		sw.mu.Lock()
		if _, ok := sw.arrived[ev.ID]; !ok {
			sw.arrived[ev.ID] = now
			if len(sw.arrived) == sw.want {
				close(sw.done)
			}
		}
		sw.mu.Unlock()
	}))
	b.Cleanup(sw.srv.Close)
	return sw
}

// benchRig is a Warden with accounts connected and a webhook taking their
// received messages.
func benchRig(b *testing.B, accounts, events int) (*rig, []core.AccountID, *stopwatch) {
	r := newRig(b, outbox.Config{})
	sw := newStopwatch(b, events)
	r.webhook(sw.srv.URL, outbox.TypeMessageReceived)
	ids := make([]core.AccountID, accounts)
	for i := range ids {
		ids[i] = r.paired(fmt.Sprintf("bench%03d", i))
	}
	r.startManager()
	for _, id := range ids {
		r.waitState(id, core.Connected)
	}
	return r, ids, sw
}

// report adds the latencies' percentiles and the throughput to b's figures.
func report(b *testing.B, sw *stopwatch, sent map[string]time.Time, start time.Time) {
	select {
	case <-sw.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("the receiver got %d of %d events", len(sw.arrived), sw.want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	lat := make([]time.Duration, 0, len(sent))
	for id, at := range sent {
		lat = append(lat, sw.arrived[id].Sub(at))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "delivered/s")
}

// BenchmarkReceivedToWebhook measures one account's message from the
// Manager (stored in the inbox and the outbox on disk) to the receiver's
// 200, one message at a time.
func BenchmarkReceivedToWebhook(b *testing.B) {
	r, ids, sw := benchRig(b, 1, b.N)
	sent := make(map[string]time.Time, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		id := outbox.MessageEventID(ids[0], uint64(i+1))
		sent[id] = time.Now()
		r.receive(ids[0], fmt.Sprintf("M%d", i))
		waitFor(b, id, func() bool {
			sw.mu.Lock()
			defer sw.mu.Unlock()
			_, ok := sw.arrived[id]
			return ok
		})
	}
	report(b, sw, sent, start)
}

// BenchmarkReceivedToWebhook200Accounts measures 200 accounts receiving at
// once, each as fast as it can: the durable throughput, and each message's
// time to the receiver under that saturation.
func BenchmarkReceivedToWebhook200Accounts(b *testing.B) { bench200(b, 0) }

// BenchmarkReceivedToWebhook200AccountsAt2000 measures 200 accounts
// receiving at once, each 10 messages a second (2,000 a second in all): each
// message's time to the receiver at the target rate.
func BenchmarkReceivedToWebhook200AccountsAt2000(b *testing.B) { bench200(b, 100*time.Millisecond) }

// bench200 has 200 accounts receive b.N messages in all, each account one
// every interval (0: back to back).
func bench200(b *testing.B, interval time.Duration) {
	const accounts = 200
	per := max(1, b.N/accounts)
	r, ids, sw := benchRig(b, accounts, per*accounts)
	var mu sync.Mutex
	sent := make(map[string]time.Time, per*accounts)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for k, id := range ids {
		wg.Go(func() {
			// The accounts' messages are spread over the interval.
			next := start.Add(interval * time.Duration(k) / accounts)
			for i := range per {
				time.Sleep(time.Until(next))
				next = next.Add(interval)
				at := time.Now()
				msg := core.Message{ID: fmt.Sprintf("M%d", i), Chat: "447700900123@s.whatsapp.net",
					Sender: "447700900123@s.whatsapp.net", Kind: core.KindText, Text: "load", At: at}
				if err := r.d.Last(id).Receive(msg); err != nil {
					b.Errorf("receive: %v", err)
					return
				}
				mu.Lock()
				sent[outbox.MessageEventID(id, uint64(i+1))] = at
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(len(sent))/time.Since(start).Seconds(), "stored/s")
	report(b, sw, sent, start)
}
