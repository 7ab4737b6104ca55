package coretest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"warden/core"
)

// Keys is an in-memory store of the HTTP API's keys (core/api.KeyStore)
// with the rules of the real ones. It counts the writes of last use, so a
// test can see how often the API writes.
type Keys struct {
	mu sync.Mutex
	// mu guards the following
	keys    map[string]core.APIKey
	touches int
}

// NewKeys returns an empty Keys.
func NewKeys() *Keys { return &Keys{keys: make(map[string]core.APIKey)} }

// PutAPIKey stores a new key, or replaces the key with its ID.
func (s *Keys) PutAPIKey(ctx context.Context, k core.APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.Accounts, k.Hash = slices.Clone(k.Accounts), slices.Clone(k.Hash)
	s.keys[k.ID] = k
	return nil
}

// APIKey returns the key with the id, or an error wrapping
// core.ErrUnknownAPIKey.
func (s *Keys) APIKey(ctx context.Context, id string) (core.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return core.APIKey{}, fmt.Errorf("API key %s: %w", id, core.ErrUnknownAPIKey)
	}
	return k, nil
}

// APIKeys returns every key, oldest first.
func (s *Keys) APIKeys(ctx context.Context) ([]core.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.SortedFunc(maps.Values(s.keys), func(a, b core.APIKey) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	}), nil
}

// RevokeAPIKey marks the key revoked at at; revoking twice keeps the first
// time.
func (s *Keys) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok {
		return fmt.Errorf("revoke API key %s: %w", id, core.ErrUnknownAPIKey)
	}
	if k.Revoked.IsZero() {
		k.Revoked = at
		s.keys[id] = k
	}
	return nil
}

// TouchAPIKey records that the key was used at at, unless it is unknown or
// revoked.
func (s *Keys) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.touches++
	if k, ok := s.keys[id]; ok && k.Revoked.IsZero() {
		k.LastUsed = at
		s.keys[id] = k
	}
	return nil
}

// Touches returns how many times TouchAPIKey was called.
func (s *Keys) Touches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.touches
}
