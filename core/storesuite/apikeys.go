package storesuite

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"warden/core"
)

// APIKeyStore keeps the HTTP API's keys: core/api.KeyStore, which the suite
// does not import (core/api is an adapter too).
type APIKeyStore interface {
	PutAPIKey(ctx context.Context, k core.APIKey) error
	APIKey(ctx context.Context, id string) (core.APIKey, error)
	APIKeys(ctx context.Context) ([]core.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// RunAPIKeys runs the API keys' cases. open returns a new, empty store.
func RunAPIKeys(t *testing.T, open func(t *testing.T) APIKeyStore) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	second := core.APIKey{ID: "bbb", Name: "billing", Hash: []byte{1, 2}, Created: t0.Add(time.Minute), ReadOnly: true, Accounts: []core.AccountID{"a1"}}
	first := core.APIKey{ID: "zzz", Name: "crm", Hash: []byte{3, 4}, Created: t0}
	for _, k := range []core.APIKey{second, first} {
		if err := s.PutAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.APIKeys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != "zzz" || keys[1].ID != "bbb" {
		t.Fatalf("APIKeys() = %+v, %v; want zzz then bbb, oldest first", keys, err)
	}
	if _, err := s.APIKey(ctx, "nope"); !errors.Is(err, core.ErrUnknownAPIKey) {
		t.Errorf("APIKey(nope) error = %v, want ErrUnknownAPIKey", err)
	}
	if err := s.RevokeAPIKey(ctx, "nope", t0); !errors.Is(err, core.ErrUnknownAPIKey) {
		t.Errorf("RevokeAPIKey(nope) error = %v, want ErrUnknownAPIKey", err)
	}
	if err := s.TouchAPIKey(ctx, "nope", t0); err != nil {
		t.Errorf("TouchAPIKey(nope) = %v, want nil: nothing to record", err)
	}

	used := t0.Add(time.Hour)
	if err := s.TouchAPIKey(ctx, "bbb", used); err != nil {
		t.Fatal(err)
	}
	revoked := t0.Add(2 * time.Hour)
	for _, at := range []time.Time{revoked, revoked.Add(time.Hour)} {
		if err := s.RevokeAPIKey(ctx, "bbb", at); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchAPIKey(ctx, "bbb", revoked.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	k, err := s.APIKey(ctx, "bbb")
	if err != nil {
		t.Fatal(err)
	}
	if !k.LastUsed.Equal(used) || !k.Revoked.Equal(revoked) || !k.ReadOnly || !slices.Equal(k.Accounts, second.Accounts) ||
		!slices.Equal(k.Hash, second.Hash) || !k.Created.Equal(second.Created) || k.Name != "billing" {
		t.Errorf("APIKey(bbb) = %+v; want last used %v (not after revocation), revoked %v (the first time), read-only, accounts [a1]", k, used, revoked)
	}
	if k, err := s.APIKey(ctx, "zzz"); err != nil || !k.Revoked.IsZero() || !k.LastUsed.IsZero() {
		t.Errorf("APIKey(zzz) = %+v, %v; want untouched", k, err)
	}
}
