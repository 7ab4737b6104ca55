package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/core"
	"warden/core/pgserver"
	"warden/core/store/postgres"
)

// message is message i of account a, received at received.
func message(a core.AccountID, i int, received time.Time) core.Message {
	return core.Message{Account: a, ID: fmt.Sprint("3EB0", i), Chat: "15550001111@s.whatsapp.net",
		Sender: "15550001111@s.whatsapp.net", Kind: core.KindText, Text: fmt.Sprint("message ", i), At: received, Received: received}
}

// Two nodes that both store one account's messages for a while (a handover)
// keep each message once and the account's seqs unique and without holes.
// Each message is delivered to both nodes.
func TestInboxHandover(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	a := openDatabase(t, admin, dsn, "handover")
	b, err := postgres.Open(context.Background(), dsnOf(dsn, "handover"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := a.PutAccount(ctx, core.Account{ID: "x", Name: "X"}); err != nil {
		t.Fatal(err)
	}
	const perNode, messages = 4, 60
	seqOf := make([]map[uint64]bool, messages) // the seqs each message was given, by either node
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range []*postgres.DB{a, b} {
		for w := range perNode {
			wg.Go(func() {
				for i := w; i < messages; i += perNode {
					m, _, err := node.PutMessage(ctx, message("x", i, time.Now()))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seqOf[i] == nil {
						seqOf[i] = map[uint64]bool{}
					}
					seqOf[i][m.Seq] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	stored, err := a.Messages(ctx, "x", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != messages {
		t.Fatalf("%d messages delivered to two nodes, %d stored", messages, len(stored))
	}
	var ids []string
	for i, m := range stored {
		if m.Seq != uint64(i+1) {
			t.Fatalf("message %d has seq %d: a hole or a repeat", i, m.Seq)
		}
		ids = append(ids, m.ID)
	}
	for i := range messages {
		want := message("x", i, time.Time{}).ID
		k := slices.Index(ids, want)
		if k < 0 {
			t.Errorf("message %s is missing", want)
			continue
		}
		if len(seqOf[i]) != 1 || !seqOf[i][stored[k].Seq] {
			t.Errorf("message %s is stored as %d; the nodes were told %v", want, stored[k].Seq, seqOf[i])
		}
	}
}

// The inbox is pruned by age when it receives, keeping the newest message.
func TestInboxPrunedByAge(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	s := openDatabase(t, admin, dsn, "age", postgres.WithMessageRetention(0, time.Hour))
	ctx := context.Background()
	if err := s.PutAccount(ctx, core.Account{ID: "x", Name: "X"}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	seqs := func() []uint64 {
		ms, err := s.Messages(ctx, "x", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	for i := range 3 {
		if _, _, err := s.PutMessage(ctx, message("x", i, old)); err != nil {
			t.Fatal(err)
		}
	}
	if got := seqs(); !slices.Equal(got, []uint64{3}) {
		t.Errorf("after three old messages the inbox holds %v, want the newest, 3", got)
	}
	for i := 3; i < 5; i++ {
		if _, _, err := s.PutMessage(ctx, message("x", i, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if got := seqs(); !slices.Equal(got, []uint64{4, 5}) {
		t.Errorf("after two new messages the inbox holds %v, want 4 5", got)
	}
}
