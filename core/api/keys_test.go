package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	"warden/core"
)

func TestNewKeyAndParseToken(t *testing.T) {
	k, token, err := NewKey("  crm  ", true, []core.AccountID{"a1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := ParseToken(token)
	if err != nil || id != k.ID || !matches(k, secret) || k.Name != "crm" || !k.ReadOnly || !k.Allows("a1") || k.Allows("b2") {
		t.Fatalf("ParseToken(%q) = %q, %v; key %+v: want its id, a matching secret, the name trimmed, read-only for a1", token, id, err, k)
	}
	if strings.Contains(string(k.Hash), string(secret)) || len(k.Hash) != 32 {
		t.Errorf("the key keeps %d bytes of hash, want SHA-256's 32 and never the secret", len(k.Hash))
	}
	other, _, _ := NewKey("other", false, nil, time.Now())
	if matches(other, secret) || !other.Allows("any") {
		t.Errorf("another key matches the secret, or a key without a list does not allow every account")
	}

	for _, bad := range []string{"", "   ", strings.Repeat("x", MaxKeyName+1)} {
		if _, _, err := NewKey(bad, false, nil, time.Now()); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("NewKey(%q) error = %v, want ErrInvalidKey", bad, err)
		}
	}
	if _, _, err := NewKey("crm", false, []core.AccountID{""}, time.Now()); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("NewKey with an empty account id: %v, want ErrInvalidKey", err)
	}
	for _, bad := range []string{"", "Bearer x", "wdn_", "wdn_abc_" + strings.Repeat("A", 43), "wdn_" + k.ID + "_!!!", "wdn_" + k.ID + "_" + strings.Repeat("A", 10), "xyz_" + token[4:]} {
		if _, _, err := ParseToken(bad); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("ParseToken(%q) error = %v, want ErrInvalidToken", bad, err)
		}
	}
}
