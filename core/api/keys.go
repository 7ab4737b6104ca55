package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"warden/core"
)

// API keys.
//
// A token reads wdn_<id>_<secret>: the id (12 hex digits) finds the key, the
// secret (32 random bytes, base64url) proves it. Only SHA-256 of the secret
// is stored. A slow password hash (bcrypt, argon2) exists to make guessing a
// low-entropy password expensive; a 256-bit random secret cannot be guessed
// at any speed, so a fast hash protects it as well and keeps checking a key
// on every request cheap. A stolen key file therefore holds no usable token.

// TokenPrefix begins every API token, so that a leaked one is recognisable
// (secret scanners) and a wrong string is told apart at once.
const TokenPrefix = "wdn_"

// Errors callers branch on.
var (
	// ErrInvalidToken is wrapped by ParseToken when a string is not a token.
	ErrInvalidToken = errors.New("not a Warden API token")
	// ErrInvalidKey is wrapped by NewKey when a name or account list is bad.
	ErrInvalidKey = errors.New("invalid API key")
)

// KeyStore keeps API keys. core/store implements it on bbolt, and
// core/store/postgres for a fleet.
type KeyStore interface {
	// PutAPIKey stores a new key, or replaces the key with its ID.
	PutAPIKey(ctx context.Context, k core.APIKey) error
	// APIKey returns the key with the id, or an error wrapping
	// core.ErrUnknownAPIKey.
	APIKey(ctx context.Context, id string) (core.APIKey, error)
	// APIKeys returns every key, revoked ones included, oldest first.
	APIKeys(ctx context.Context) ([]core.APIKey, error)
	// RevokeAPIKey marks the key revoked at at; revoking twice keeps the
	// first time. An unknown id is an error wrapping core.ErrUnknownAPIKey.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// TouchAPIKey records that the key was used at at. An unknown or
	// revoked key is left as it is.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// MaxKeyName is the longest key name, in bytes.
const MaxKeyName = 100

// NewKey makes a key and returns it with its token, which exists only
// here: show it to the operator once.
func NewKey(name string, readOnly bool, accounts []core.AccountID, now time.Time) (core.APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxKeyName {
		return core.APIKey{}, "", fmt.Errorf("%w: the name must be 1 to %d characters", ErrInvalidKey, MaxKeyName)
	}
	for _, id := range accounts {
		if id == "" {
			return core.APIKey{}, "", fmt.Errorf("%w: an empty account id in the list", ErrInvalidKey)
		}
	}
	idBytes, secret := make([]byte, 6), make([]byte, 32)
	if _, err := rand.Read(idBytes); err != nil {
		return core.APIKey{}, "", fmt.Errorf("make an API key: %w", err)
	}
	if _, err := rand.Read(secret); err != nil {
		return core.APIKey{}, "", fmt.Errorf("make an API key: %w", err)
	}
	k := core.APIKey{
		ID:       hex.EncodeToString(idBytes),
		Name:     name,
		Hash:     hashSecret(secret),
		Created:  now.UTC(),
		ReadOnly: readOnly,
		Accounts: slices.Clone(accounts),
	}
	return k, TokenPrefix + k.ID + "_" + base64.RawURLEncoding.EncodeToString(secret), nil
}

// ParseToken splits a token into the key's id and its secret.
func ParseToken(token string) (id string, secret []byte, err error) {
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return "", nil, fmt.Errorf("%w: it does not begin with %s", ErrInvalidToken, TokenPrefix)
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 {
		return "", nil, fmt.Errorf("%w: no key id", ErrInvalidToken)
	}
	secret, err = base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(secret) != 32 {
		return "", nil, fmt.Errorf("%w: the secret is malformed", ErrInvalidToken)
	}
	return id, secret, nil
}

// matches reports, in constant time, whether secret is the key's.
func matches(k core.APIKey, secret []byte) bool {
	return subtle.ConstantTimeCompare(k.Hash, hashSecret(secret)) == 1
}

// hashSecret is what a key keeps of its secret: SHA-256.
func hashSecret(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return sum[:]
}
