package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// flakyStore refuses appends while failing is set, and refuses the poison
// event (Seq 13) for good.
type flakyStore struct {
	Store
	mu      sync.Mutex
	failing bool
	stored  []Event
}

func (s *flakyStore) AppendEvents(ctx context.Context, evs ...Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("disk full")
	}
	for _, ev := range evs {
		if ev.Seq == 13 {
			return errors.New("bad sequence")
		}
	}
	s.stored = append(s.stored, evs...)
	return nil
}

func (s *flakyStore) seqs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, ev := range s.stored {
		out = append(out, ev.Seq)
	}
	return out
}

func TestEventLogRetriesThenKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &flakyStore{failing: true}
		w := newEventLog(st, slog.New(slog.DiscardHandler))
		defer w.close(context.Background())
		w.add(Event{Seq: 1})
		w.add(Event{Seq: 2})
		if err := w.flush(context.Background()); err == nil {
			t.Fatal("flush reported success while the store fails")
		}
		w.add(Event{Seq: 3})
		st.mu.Lock()
		st.failing = false
		st.mu.Unlock()
		time.Sleep(time.Second) // the retry
		if err := w.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := st.seqs(); len(got) != 3 || got[0] != 1 || got[2] != 3 {
			t.Fatalf("stored %v, want [1 2 3] in order", got)
		}
	})
}

func TestEventLogGivesUpOnARefusedBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &flakyStore{}
		w := newEventLog(st, slog.New(slog.DiscardHandler))
		defer w.close(context.Background())
		w.add(Event{Seq: 13})
		time.Sleep(time.Minute) // every retry fails; then the batch is dropped
		w.add(Event{Seq: 14})
		if err := w.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := st.seqs(); len(got) != 1 || got[0] != 14 {
			t.Fatalf("stored %v, want the later event [14] despite the refused one", got)
		}
	})
}

// One account's refused event does not hold back another account's events
// written in the same batch (a fleet's shared store refuses a stale
// sequence number of one account).
func TestEventLogIsolatesARefusedAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &flakyStore{}
		w := newEventLog(st, slog.New(slog.DiscardHandler))
		defer w.close(context.Background())
		w.mu.Lock() // one batch: every event before the writer wakes
		w.buf = []Event{{Account: "good", Seq: 7}, {Account: "bad", Seq: 13}, {Account: "good", Seq: 8}}
		w.mu.Unlock()
		if err := w.flush(context.Background()); err == nil {
			t.Error("flush hid the refused event")
		}
		if got := st.seqs(); len(got) != 2 || got[0] != 7 || got[1] != 8 {
			t.Fatalf("stored %v, want the good account's [7 8] at once", got)
		}
	})
}
