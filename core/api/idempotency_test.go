package api

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// A key is kept IdempotencyTTL: a retry within it gets the first answer
// without sending, one after it sends again.
func TestIdempotencyKeptForTTL(t *testing.T) {
	c := newIdempotency(nil, nil)
	k := idemKey{apiKey: "k", account: "a", key: "order-1"}
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sends := 0
	send := func() *reply { sends++; return ok(http.StatusOK, map[string]int{"n": sends}) }
	body := []byte(`{"to":"+15550100200","text":"hi"}`)
	for _, tc := range []struct {
		at    time.Time
		sends int
	}{
		{t0, 1},
		{t0.Add(time.Hour), 1},
		{t0.Add(IdempotencyTTL - time.Minute), 1},
		{t0.Add(IdempotencyTTL + 2*time.Minute), 2},
	} {
		rep := c.do(context.Background(), k, body, tc.at, send)
		if rep.status != http.StatusOK || sends != tc.sends {
			t.Errorf("do at %v = %d %s after %d sends, want 200 after %d", tc.at.Sub(t0), rep.status, rep.body, sends, tc.sends)
		}
	}
}

// When the keys fill the room, a send under a new key is refused, and
// nothing is sent.
func TestIdempotencyFull(t *testing.T) {
	c := newIdempotency(nil, nil)
	now := time.Now()
	for i := range maxIdempotencyEntries {
		c.entries[idemKey{key: strconv.Itoa(i)}] = &idemEntry{done: make(chan struct{}), rep: ok(http.StatusOK, i), at: now}
	}
	sent := false
	rep := c.do(context.Background(), idemKey{key: "new"}, nil, now, func() *reply { sent = true; return ok(http.StatusOK, 0) })
	if rep.status != http.StatusServiceUnavailable || sent {
		t.Errorf("a new key when full = %d %s (sent %v), want 503 and nothing sent", rep.status, rep.body, sent)
	}
}

// A retry that arrives while the first send is in flight waits for it and
// gets its answer; nothing is sent twice.
func TestIdempotencyRetryWaitsForFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newIdempotency(nil, nil)
		k := idemKey{apiKey: "k", account: "a", key: "order-1"}
		release := make(chan struct{})
		sends := 0
		send := func() *reply {
			sends++
			<-release
			return ok(http.StatusOK, map[string]int{"send": sends})
		}
		msg := []byte("15550100200\x00hi")
		answers := make(chan *reply, 2)
		go func() { answers <- c.do(context.Background(), k, msg, time.Now(), send) }()
		synctest.Wait() // the first is sending
		go func() { answers <- c.do(context.Background(), k, msg, time.Now(), send) }()
		synctest.Wait() // the retry is waiting
		if len(answers) != 0 || sends != 1 {
			t.Fatalf("before the first send ends: %d answers, %d sends; want none and 1", len(answers), sends)
		}
		close(release)
		first, retry := <-answers, <-answers
		if sends != 1 || first.status != http.StatusOK || string(first.body) != string(retry.body) {
			t.Errorf("%d sends, answers %s and %s; want 1 send and the same answer twice", sends, first.body, retry.body)
		}
	})
}
