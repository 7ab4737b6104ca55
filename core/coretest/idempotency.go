package coretest

import (
	"context"
	"slices"
	"sync"
	"time"

	"warden/core"
)

// Idempotency is an in-memory store of the HTTP API's answers to
// Idempotency-Keys (core/api.IdempotencyStore) with the rules of the real
// ones. A test restarts the API on the same value to play a restart of
// Warden; it counts the answers kept.
type Idempotency struct {
	mu sync.Mutex
	// mu guards the following
	replies map[string]core.IdempotentReply
	puts    int
}

// NewIdempotency returns an empty Idempotency.
func NewIdempotency() *Idempotency {
	return &Idempotency{replies: make(map[string]core.IdempotentReply)}
}

// PutIdempotentReply keeps the answer under key, replacing any.
func (s *Idempotency) PutIdempotentReply(ctx context.Context, key string, rep core.IdempotentReply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep.Request, rep.Body = slices.Clone(rep.Request), slices.Clone(rep.Body)
	s.replies[key] = rep
	s.puts++
	return nil
}

// IdempotentReply returns the answer kept under key, and whether there is
// one.
func (s *Idempotency) IdempotentReply(ctx context.Context, key string) (core.IdempotentReply, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep, ok := s.replies[key]
	return rep, ok, nil
}

// PruneIdempotentReplies deletes the answers made before before.
func (s *Idempotency) PruneIdempotentReplies(ctx context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, rep := range s.replies {
		if rep.At.Before(before) {
			delete(s.replies, k)
			n++
		}
	}
	return n, nil
}

// Kept returns how many answers are kept.
func (s *Idempotency) Kept() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.replies)
}
