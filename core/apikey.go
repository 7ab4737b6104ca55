package core

import (
	"errors"
	"slices"
	"time"
)

// APIKey is a key of the HTTP API (core/api) as the stores keep it: the
// hash of its secret, never the secret. It lives in core so that the stores
// keep it without importing core/api; core/api makes and checks keys.
type APIKey struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Hash    []byte    `json:"hash"` // SHA-256 of the secret
	Created time.Time `json:"created"`
	// LastUsed is when the key last authenticated a request, to the minute
	// (the API writes it at most once a minute); zero: never.
	LastUsed time.Time `json:"last_used,omitzero"`
	// ReadOnly keys can read but neither change anything nor send.
	ReadOnly bool `json:"read_only,omitempty"`
	// Accounts limits the key to these accounts; empty: every account.
	Accounts []AccountID `json:"accounts,omitempty"`
	// Revoked is when the key was revoked; zero while it is valid.
	Revoked time.Time `json:"revoked,omitzero"`
}

// ErrUnknownAPIKey is wrapped when no API key has an id.
var ErrUnknownAPIKey = errors.New("no such API key")

// Allows reports whether the key may see and act on the account.
func (k APIKey) Allows(id AccountID) bool {
	return len(k.Accounts) == 0 || slices.Contains(k.Accounts, id)
}
