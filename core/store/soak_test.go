package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"warden/core"
	"warden/core/coretest"
)

// errorLog records the messages of Error records.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (e *errorLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorLog) Handle(_ context.Context, r slog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	e.msgs = append(e.msgs, msg)
	return nil
}
func (e *errorLog) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *errorLog) WithGroup(string) slog.Handler      { return e }

// Several Manager lifetimes on one file, with random faults in between: every
// timeline stays one unbroken sequence and no write of the Manager fails.
func TestManagerLifetimesOnStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), DBFile)
		d := coretest.NewDialer()
		errs := &errorLog{}
		logger := slog.New(errs)
		rng := rand.New(rand.NewPCG(7, 8))
		var ids []core.AccountID
		faults := []core.SessionEvent{
			{Kind: core.SessionDisconnected, Reason: "stream error 503"},
			{Kind: core.SessionReplaced},
			{Kind: core.SessionKeepAliveTimeout},
			{Kind: core.SessionKeepAliveRestored},
			{Kind: core.SessionConnectFailure, Reason: "500"},
		}
		for life := range 4 {
			db, err := Open(path, WithLogger(logger))
			if err != nil {
				t.Fatal(err)
			}
			m, err := core.NewManager(core.Config{Dialer: d, Store: db, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(ctx); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				acct, err := m.Add(ctx, fmt.Sprint("acct ", len(ids)))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, acct.ID)
				synctest.Wait()
				d.Last(acct.ID).Pair()
			}
			for range 200 {
				time.Sleep(time.Duration(rng.IntN(20_000)) * time.Millisecond)
				synctest.Wait()
				id := ids[rng.IntN(len(ids))]
				if s := d.Last(id); s != nil && !s.Closed() {
					s.Emit(faults[rng.IntN(len(faults))])
				}
				synctest.Wait()
			}
			if err := m.Close(ctx); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				evs, err := db.Events(ctx, id, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				for i, ev := range evs {
					if ev.Seq != uint64(i+1) {
						t.Fatalf("life %d: %s: event %d has seq %d", life, id, i, ev.Seq)
					}
				}
				if n := len(evs); n == 0 || evs[n-1].Cause != core.CauseShutdown {
					t.Errorf("life %d: %s: the timeline does not end with %q", life, id, core.CauseShutdown)
				}
			}
			total := 0
			for _, id := range ids {
				evs, _ := db.Events(ctx, id, 1<<30)
				total += len(evs)
			}
			t.Logf("life %d: %d accounts, %d events", life, len(ids), total)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		errs.mu.Lock()
		defer errs.mu.Unlock()
		if len(errs.msgs) > 0 {
			t.Errorf("%d errors logged, first: %s", len(errs.msgs), strings.Join(errs.msgs[:min(3, len(errs.msgs))], "; "))
		}
	})
}
