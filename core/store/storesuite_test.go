package store

import (
	"testing"

	"warden/core"
	"warden/core/storesuite"
)

func TestStoreSuite(t *testing.T) {
	storesuite.Run(t, func(t *testing.T) core.Store { return openTest(t) }, ErrSequence)
}
