package app

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --headless --demo runs without a display, pairs and connects the demo's
// accounts, and stops cleanly on SIGTERM.
func TestHeadlessDemo(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	f, err := parseFlags([]string{"--headless", "--demo"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	stop := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() { done <- runHeadless(f, &logs, stop) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "event=connected") {
		if time.Now().After(deadline) {
			t.Fatalf("no account connected within 30 s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit status %d:\n%s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	out := logs.String()
	for _, want := range []string{"headless=true", "quitting on signal", "warden stopped cleanly"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log has no %q", want)
		}
	}
}
