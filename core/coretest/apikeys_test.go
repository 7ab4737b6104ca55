package coretest_test

import (
	"testing"

	"warden/core/coretest"
	"warden/core/storesuite"
)

// The fake keeps keys by the rules of the real stores.
func TestKeysSuite(t *testing.T) {
	storesuite.RunAPIKeys(t, func(t *testing.T) storesuite.APIKeyStore { return coretest.NewKeys() })
}

func TestIdempotencySuite(t *testing.T) {
	storesuite.RunIdempotency(t, func(t *testing.T) storesuite.IdempotencyStore { return coretest.NewIdempotency() })
}
