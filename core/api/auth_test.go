package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// A key's last use is written at most once a minute, whatever the number
// of requests.
func TestLastUsedOncePerMinute(t *testing.T) {
	keys := coretest.NewKeys()
	k, _, err := NewKey("crm", false, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.PutAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	tt := &toucher{keys: keys, log: slog.New(slog.DiscardHandler), last: make(map[string]time.Time)}
	t0 := time.Date(2026, 12, 7, 12, 0, 30, 0, time.UTC)
	for _, tc := range []struct {
		after   time.Duration
		touches int
	}{{0, 1}, {time.Second, 1}, {59 * time.Second, 1}, {time.Minute, 2}, {90 * time.Second, 2}, {3 * time.Minute, 3}} {
		tt.used(context.Background(), k, t0.Add(tc.after))
		if keys.Touches() != tc.touches {
			t.Errorf("after a use at +%v, %d writes, want %d", tc.after, keys.Touches(), tc.touches)
		}
	}
	got, err := keys.APIKey(context.Background(), k.ID)
	if want := t0.Add(3 * time.Minute).Truncate(time.Minute); err != nil || !got.LastUsed.Equal(want) {
		t.Errorf("last used = %v, %v; want %v", got.LastUsed, err, want)
	}
	// A key read after a restart with a recent last use is not written again.
	fresh := &toucher{keys: keys, log: slog.New(slog.DiscardHandler), last: make(map[string]time.Time)}
	fresh.used(context.Background(), core.APIKey{ID: k.ID, LastUsed: got.LastUsed}, got.LastUsed.Add(30*time.Second))
	if keys.Touches() != 3 {
		t.Errorf("a use 30 s after the stored last use wrote it again")
	}
}
