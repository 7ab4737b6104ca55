package store

import (
	"testing"
	"time"

	"warden/core"
	"warden/core/storesuite"
)

func TestStoreSuite(t *testing.T) {
	storesuite.Run(t, func(t *testing.T) core.Store { return openTest(t) }, ErrSequence)
}

// The pruner runs often, so that the retention case sees it soon.
func TestInboxSuite(t *testing.T) {
	storesuite.RunInbox(t, func(t *testing.T, maxMessages int) storesuite.InboxStore {
		return openTest(t, WithMessageRetention(maxMessages, 0), WithPruneInterval(20*time.Millisecond))
	})
}

func TestOutboxSuite(t *testing.T) {
	storesuite.RunOutbox(t, func(t *testing.T) storesuite.OutboxStore { return openTest(t) })
}
