package storesuite

import (
	"bytes"
	"context"
	"testing"
	"time"

	"warden/core"
)

// IdempotencyStore keeps the HTTP API's answers to Idempotency-Keys:
// core/api.IdempotencyStore, which the suite does not import.
type IdempotencyStore interface {
	PutIdempotentReply(ctx context.Context, key string, rep core.IdempotentReply) error
	IdempotentReply(ctx context.Context, key string) (core.IdempotentReply, bool, error)
	PruneIdempotentReplies(ctx context.Context, before time.Time) (int, error)
}

// RunIdempotency runs the kept answers' cases. open returns a new, empty
// store.
func RunIdempotency(t *testing.T, open func(t *testing.T) IdempotencyStore) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	old := core.IdempotentReply{Request: []byte{1, 2, 3}, Status: 200, ContentType: "application/json", Body: []byte(`{"id":"M1"}` + "\n"), At: t0}
	fresh := core.IdempotentReply{Request: []byte{4}, Status: 504, ContentType: "application/json", Body: []byte(`{"error":{}}`), RetryAfter: 3, At: t0.Add(2 * time.Hour)}
	if _, found, err := s.IdempotentReply(ctx, "k-old"); err != nil || found {
		t.Fatalf("IdempotentReply of a key never kept = found %v, %v; want none", found, err)
	}
	for k, rep := range map[string]core.IdempotentReply{"k-old": old, "k-fresh": fresh} {
		if err := s.PutIdempotentReply(ctx, k, rep); err != nil {
			t.Fatal(err)
		}
	}
	got, found, err := s.IdempotentReply(ctx, "k-old")
	if err != nil || !found || !same(got, old) {
		t.Fatalf("IdempotentReply(k-old) = %+v, %v, %v; want %+v", got, found, err, old)
	}
	got, found, err = s.IdempotentReply(ctx, "k-fresh")
	if err != nil || !found || !same(got, fresh) {
		t.Fatalf("IdempotentReply(k-fresh) = %+v, %v, %v; want %+v", got, found, err, fresh)
	}

	n, err := s.PruneIdempotentReplies(ctx, t0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneIdempotentReplies(an hour in) = %d, %v; want the old one", n, err)
	}
	if _, found, _ := s.IdempotentReply(ctx, "k-old"); found {
		t.Error("the pruned answer is still kept")
	}
	if _, found, _ := s.IdempotentReply(ctx, "k-fresh"); !found {
		t.Error("the fresh answer was pruned")
	}
	if n, err := s.PruneIdempotentReplies(ctx, t0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("a second prune = %d, %v; want nothing left to prune", n, err)
	}
}

// same compares two kept answers, their times as instants.
func same(a, b core.IdempotentReply) bool {
	return bytes.Equal(a.Request, b.Request) && a.Status == b.Status && a.ContentType == b.ContentType &&
		bytes.Equal(a.Body, b.Body) && a.RetryAfter == b.RetryAfter && a.At.Equal(b.At)
}
