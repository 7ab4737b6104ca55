package coretest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"warden/core"
)

// Store is an in-memory core.Store and core.Inbox with the same sequence
// rules as the real ones.
type Store struct {
	mu sync.Mutex
	// mu guards the following
	accounts map[core.AccountID]core.Account
	events   map[core.AccountID][]core.Event
	messages map[core.AccountID][]core.Message
	// Err, when set, makes every call fail.
	Err error
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{accounts: make(map[core.AccountID]core.Account), events: make(map[core.AccountID][]core.Event),
		messages: make(map[core.AccountID][]core.Message)}
}

// SetErr makes every later call fail with err (nil: succeed again).
func (s *Store) SetErr(err error) {
	s.mu.Lock()
	s.Err = err
	s.mu.Unlock()
}

// Accounts implements core.Store.
func (s *Store) Accounts(ctx context.Context) ([]core.Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	out := make([]core.Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b core.Account) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Account returns one stored account.
func (s *Store) Account(id core.AccountID) (core.Account, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[id]
	return a, ok
}

// PutAccount implements core.Store.
func (s *Store) PutAccount(ctx context.Context, a core.Account) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	s.accounts[a.ID] = a
	return nil
}

// DeleteAccount implements core.Store.
func (s *Store) DeleteAccount(ctx context.Context, id core.AccountID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	delete(s.accounts, id)
	delete(s.events, id)
	delete(s.messages, id)
	return nil
}

// AppendEvents implements core.Store.
func (s *Store) AppendEvents(ctx context.Context, evs ...core.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, ev := range evs {
		list := s.events[ev.Account]
		var last uint64
		if n := len(list); n > 0 {
			last = list[n-1].Seq
		}
		switch {
		case ev.Seq == 0:
			ev.Seq = last + 1
		case ev.Seq <= last:
			return fmt.Errorf("coretest store: event %d of %s is not after %d", ev.Seq, ev.Account, last)
		}
		s.events[ev.Account] = append(list, ev)
	}
	return nil
}

// Events implements core.Store.
func (s *Store) Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	list := s.events[id]
	if limit > 0 && len(list) > limit {
		list = list[len(list)-limit:]
	}
	return slices.Clone(list), nil
}

// AllEvents returns every stored event of the account, oldest first.
func (s *Store) AllEvents(id core.AccountID) []core.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events[id])
}

// PutMessage implements core.Inbox.
func (s *Store) PutMessage(ctx context.Context, m core.Message) (core.Message, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return core.Message{}, false, s.Err
	}
	list := s.messages[m.Account]
	for _, old := range list {
		if old.Key() == m.Key() {
			return old, true, nil
		}
	}
	m.Seq = uint64(len(list)) + 1
	s.messages[m.Account] = append(list, m)
	return m, false, nil
}

// Messages implements core.Inbox.
func (s *Store) Messages(ctx context.Context, id core.AccountID, after uint64, limit int) ([]core.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	list := s.messages[id][min(after, uint64(len(s.messages[id]))):]
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	return slices.Clone(list), nil
}

// LastMessages implements core.Inbox.
func (s *Store) LastMessages(ctx context.Context, id core.AccountID, limit int) ([]core.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	list := s.messages[id]
	if limit > 0 && len(list) > limit {
		list = list[len(list)-limit:]
	}
	return slices.Clone(list), nil
}
