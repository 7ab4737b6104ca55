package logbook

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
)

func messages(lines []Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Message
	}
	return out
}

func TestAccountAttributePicksTheRing(t *testing.T) {
	b := New(slog.LevelDebug, Options{})
	log := slog.New(b)
	log.Info("warden started")
	log.Info("dialling", "account", "a1", "attempt", 2)
	log.With("account", core.AccountID("a2")).Warn("stream error", "code", 515)
	log.With("account", "a1").With("module", "Client").Debug("node")
	// An "account" key inside a group is an ordinary attribute.
	log.WithGroup("req").Info("grouped", "account", "x")

	if got, want := messages(b.Recent("", 0)), []string{"warden started", "grouped"}; !slices.Equal(got, want) {
		t.Errorf("Recent(\"\") = %q, want %q", got, want)
	}
	if got, want := messages(b.Recent("a1", 0)), []string{"dialling", "node"}; !slices.Equal(got, want) {
		t.Errorf("Recent(a1) = %q, want %q", got, want)
	}
	a2 := b.Recent("a2", 0)
	if len(a2) != 1 || a2[0].Account != "a2" || a2[0].Level != slog.LevelWarn || a2[0].Attrs["code"] != "515" {
		t.Errorf("Recent(a2) = %+v, want the warning with code=515", a2)
	}
	if _, ok := a2[0].Attrs["account"]; ok {
		t.Errorf("the account attribute is also kept as an attribute: %v", a2[0].Attrs)
	}
	all := b.RecentAll(0)
	if got, want := messages(all), []string{"warden started", "dialling", "stream error", "node", "grouped"}; !slices.Equal(got, want) {
		t.Errorf("RecentAll = %q, want %q", got, want)
	}
	if got := all[len(all)-1].Attrs; !maps.Equal(got, map[string]string{"req.account": "x"}) {
		t.Errorf("grouped attrs = %v, want req.account=x", got)
	}
}

func TestAttrsAndGroups(t *testing.T) {
	b := New(nil, Options{})
	log := slog.New(b).With("module", "Client/Socket").WithGroup("frame").With("size", 12)
	log.Info("sent", "kind", "iq", slog.Group("to", "server", "s.whatsapp.net"), slog.Group("", "flat", true))
	l := b.Recent("", 1)[0]
	want := map[string]string{
		"module":          "Client/Socket",
		"frame.size":      "12",
		"frame.kind":      "iq",
		"frame.to.server": "s.whatsapp.net",
		"frame.flat":      "true",
	}
	if !maps.Equal(l.Attrs, want) {
		t.Errorf("Attrs = %v, want %v", l.Attrs, want)
	}
	// The parent handler is untouched by its children.
	slog.New(b).Info("plain")
	if got := b.Recent("", 1)[0].Attrs; got != nil {
		t.Errorf("a plain line has attrs %v", got)
	}
}

func TestLevelFollowsTheLeveler(t *testing.T) {
	var level slog.LevelVar
	level.Set(slog.LevelInfo)
	b := New(&level, Options{})
	log := slog.New(b)
	log.Debug("hidden")
	log.Info("shown")
	level.Set(slog.LevelDebug)
	log.Debug("now shown")
	if b.Level() != slog.LevelDebug {
		t.Errorf("Level() = %v, want DEBUG as the LevelVar says", b.Level())
	}
	if got, want := messages(b.RecentAll(0)), []string{"shown", "now shown"}; !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
}

func TestRingsKeepTheNewest(t *testing.T) {
	b := New(nil, Options{PerAccount: 3, Global: 5})
	log := slog.New(b)
	for i := range 7 {
		log.Info(fmt.Sprint("a", i), "account", "a")
		log.Info(fmt.Sprint("w", i))
	}
	if got, want := messages(b.Recent("a", 0)), []string{"a4", "a5", "a6"}; !slices.Equal(got, want) {
		t.Errorf("Recent(a) = %q, want %q", got, want)
	}
	if got, want := messages(b.Recent("a", 2)), []string{"a5", "a6"}; !slices.Equal(got, want) {
		t.Errorf("Recent(a, 2) = %q, want %q", got, want)
	}
	if got, want := messages(b.RecentAll(0)), []string{"w4", "a5", "w5", "a6", "w6"}; !slices.Equal(got, want) {
		t.Errorf("RecentAll = %q, want %q", got, want)
	}
	if got := b.Recent("nobody", 5); len(got) != 0 {
		t.Errorf("Recent(nobody) = %q, want nothing", messages(got))
	}
	b.Forget("a")
	if got := b.Recent("a", 0); len(got) != 0 {
		t.Errorf("after Forget, Recent(a) = %q", messages(got))
	}
}

func TestTimeOfRecordsWithout(t *testing.T) {
	at := time.Date(2026, 3, 3, 14, 30, 0, 0, time.UTC)
	b := New(nil, Options{Now: func() time.Time { return at }})
	r := slog.Record{Level: slog.LevelInfo, Message: "no time"}
	if err := b.Handle(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if got := b.Recent("", 1)[0].At; !got.Equal(at) {
		t.Errorf("At = %v, want %v", got, at)
	}
}

func TestSubscribeGetsNewLines(t *testing.T) {
	b := New(nil, Options{})
	log := slog.New(b)
	log.Info("before")
	ch, cancel := b.Subscribe()
	log.Info("after", "account", "a1")
	l := <-ch
	if l.Message != "after" || l.Account != "a1" {
		t.Errorf("got %+v, want the line logged after subscribing", l)
	}
	cancel()
	cancel() // twice is fine
	if _, ok := <-ch; ok {
		t.Error("the channel is open after cancel")
	}
	log.Info("after cancel") // must not panic on the closed channel
}

func TestSlowSubscriberLosesOldestNotTheLogger(t *testing.T) {
	b := New(nil, Options{SubscriberBuffer: 4})
	ch, cancel := b.Subscribe()
	defer cancel()
	log := slog.New(b)
	for i := range 10 { // nobody reads: Handle must still return
		log.Info(fmt.Sprint(i))
	}
	var got []string
	for range 4 {
		got = append(got, (<-ch).Message)
	}
	if want := []string{"6", "7", "8", "9"}; !slices.Equal(got, want) {
		t.Errorf("the subscriber read %q, want the newest %q", got, want)
	}
	if n := b.Dropped(); n != 6 {
		t.Errorf("Dropped() = %d, want 6", n)
	}
}

// Loggers on many goroutines, a reader and Recent callers at once, for -race.
func TestConcurrentUse(t *testing.T) {
	b := New(slog.LevelDebug, Options{PerAccount: 50, Global: 100, SubscriberBuffer: 16})
	ch, cancel := b.Subscribe()
	read := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		read <- n
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			log := slog.New(b).With("account", fmt.Sprint("a", g))
			for i := range 500 {
				log.Info("line", "i", i)
				if i%50 == 0 {
					_ = b.Recent(core.AccountID(fmt.Sprint("a", g)), 10)
					_ = b.RecentAll(10)
				}
			}
		})
	}
	wg.Wait()
	cancel()
	n := <-read
	if uint64(n)+b.Dropped() != 2000 {
		t.Errorf("read %d + dropped %d lines, want 2000 in all", n, b.Dropped())
	}
	for g := range 4 {
		if got := len(b.Recent(core.AccountID(fmt.Sprint("a", g)), 0)); got != 50 {
			t.Errorf("ring of a%d holds %d lines, want 50", g, got)
		}
	}
}
