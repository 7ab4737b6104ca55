package storesuite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"warden/core"
)

// InboxStore is a store that keeps the messages accounts receive.
type InboxStore interface {
	core.Store
	core.Inbox
}

// pruneWait bounds how long RunInbox waits for a store to apply its
// retention: the machines that run the tests are often loaded.
const pruneWait = 30 * time.Second

// RunInbox runs the inbox's cases. open returns a new, empty store that keeps
// at most maxMessages messages per account (and whose age limit the cases do
// not reach), and applies that retention soon after a message is stored.
func RunInbox(t *testing.T, open func(t *testing.T, maxMessages int) InboxStore) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 7, 0, 0, 123456789, time.FixedZone("CET", 3600))
	msg := func(account, id string) core.Message {
		return core.Message{Account: core.AccountID(account), ID: id, Chat: "15550001111@s.whatsapp.net",
			Sender: "15550001111@s.whatsapp.net", Kind: core.KindText, Text: "text of " + id, At: at, Received: at.Add(time.Second)}
	}
	openWith := func(t *testing.T, accounts ...string) InboxStore {
		t.Helper()
		s := open(t, core.DefaultMaxMessages)
		putAccounts(t, s, accounts...)
		return s
	}

	t.Run("seq and redelivery", func(t *testing.T) {
		s := openWith(t, "a")
		first := msg("a", "m1")
		got := putMessage(t, s, first, false)
		if want := withSeq(first, 1); !sameMessage(got, want) {
			t.Errorf("PutMessage returned\n%+v\nwant\n%+v", got, want)
		}
		if got := putMessage(t, s, msg("a", "m2"), false); got.Seq != 2 {
			t.Errorf("the second message got seq %d, want 2", got.Seq)
		}
		again := first
		again.Text, again.Received, again.Offline, again.Seq = "changed", at.Add(time.Hour), true, 99
		if got := putMessage(t, s, again, true); !sameMessage(got, withSeq(first, 1)) {
			t.Errorf("a redelivery returned\n%+v\nwant the stored\n%+v", got, withSeq(first, 1))
		}
		if got := messageSeqs(t, s, "a"); !slices.Equal(got, []uint64{1, 2}) {
			t.Errorf("after a redelivery the inbox holds %v, want 1 2", got)
		}
		if got := putMessage(t, s, msg("a", "m3"), false); got.Seq != 3 {
			t.Errorf("the message after a redelivery got seq %d, want 3", got.Seq)
		}
	})

	t.Run("keys", func(t *testing.T) {
		s := openWith(t, "a", "b")
		base := msg("a", "same")
		otherChat, otherSender := base, base
		otherChat.Chat = "120363000000000000@g.us"
		otherSender.Sender = "15550002222@s.whatsapp.net"
		for i, m := range []core.Message{base, otherChat, otherSender} {
			if got := putMessage(t, s, m, false); got.Seq != uint64(i+1) {
				t.Errorf("message %d got seq %d, want %d", i, got.Seq, i+1)
			}
		}
		// The same key in another account is another message.
		if got := putMessage(t, s, msg("b", "same"), false); got.Seq != 1 {
			t.Errorf("b's first message got seq %d, want 1", got.Seq)
		}
	})

	t.Run("order", func(t *testing.T) {
		s := openWith(t, "a")
		for i := 1; i <= 5; i++ {
			putMessage(t, s, msg("a", fmt.Sprint("m", i)), false)
		}
		cases := []struct {
			name string
			read func() ([]core.Message, error)
			want []uint64
		}{
			{"Messages(0, 2)", func() ([]core.Message, error) { return s.Messages(ctx, "a", 0, 2) }, []uint64{1, 2}},
			{"Messages(2, 10)", func() ([]core.Message, error) { return s.Messages(ctx, "a", 2, 10) }, []uint64{3, 4, 5}},
			{"Messages(5, 10)", func() ([]core.Message, error) { return s.Messages(ctx, "a", 5, 10) }, nil},
			{"Messages(0, 0)", func() ([]core.Message, error) { return s.Messages(ctx, "a", 0, 0) }, nil},
			{"LastMessages(2)", func() ([]core.Message, error) { return s.LastMessages(ctx, "a", 2) }, []uint64{4, 5}},
			{"LastMessages(10)", func() ([]core.Message, error) { return s.LastMessages(ctx, "a", 10) }, []uint64{1, 2, 3, 4, 5}},
			{"LastMessages(0)", func() ([]core.Message, error) { return s.LastMessages(ctx, "a", 0) }, nil},
			{"Messages of nobody", func() ([]core.Message, error) { return s.Messages(ctx, "nobody", 0, 10) }, nil},
			{"LastMessages of nobody", func() ([]core.Message, error) { return s.LastMessages(ctx, "nobody", 10) }, nil},
		}
		for _, c := range cases {
			ms, err := c.read()
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if got := seqsOf(ms); !slices.Equal(got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
			for _, m := range ms {
				if m.Text != fmt.Sprint("text of m", m.Seq) || m.Account != "a" {
					t.Errorf("%s: message %d read back as %+v", c.name, m.Seq, m)
				}
			}
		}
	})

	t.Run("round trip", func(t *testing.T) {
		s := openWith(t, "a")
		text := strings.Repeat("Grüße, 世界! 🎉 مرحبا ñ\u0301 \"quoted\" \\ <tag> &amp;\n\t\x00", 64)
		for len(text) > 4096 {
			_, n := utf8.DecodeLastRuneInString(text)
			text = text[:len(text)-n]
		}
		text += strings.Repeat(".", 4096-len(text))
		m := core.Message{Account: "a", ID: "3EB0C767D71D5B5A1F2E", Chat: "120363000000000000@g.us",
			Sender: "15550001111@s.whatsapp.net", SenderLID: "123456789012345@lid", PushName: "Zoë 🌸",
			FromMe: true, Kind: core.KindImage, Text: text, Size: 1 << 40, MimeType: "image/jpeg",
			At: at, Received: time.Date(2026, 12, 7, 6, 0, 1, 999999999, time.UTC), Offline: true}
		want := withSeq(m, 1)
		if got := putMessage(t, s, m, false); !sameMessage(got, want) {
			t.Errorf("PutMessage returned\n%+v\nwant\n%+v", got, want)
		}
		if got := putMessage(t, s, m, true); !sameMessage(got, want) {
			t.Errorf("the redelivery returned\n%+v\nwant\n%+v", got, want)
		}
		for name, read := range map[string]func() ([]core.Message, error){
			"Messages":     func() ([]core.Message, error) { return s.Messages(ctx, "a", 0, 10) },
			"LastMessages": func() ([]core.Message, error) { return s.LastMessages(ctx, "a", 10) },
		} {
			ms, err := read()
			if err != nil || len(ms) != 1 || !sameMessage(ms[0], want) {
				t.Errorf("%s = %+v, %v; want\n%+v", name, ms, err, want)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		s := openWith(t, "a", "b")
		putMessage(t, s, msg("a", "m1"), false)
		putMessage(t, s, msg("a", "m2"), false)
		putMessage(t, s, msg("b", "m1"), false)
		if err := s.DeleteAccount(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if got := messageSeqs(t, s, "a"); len(got) != 0 {
			t.Errorf("a's messages outlived it: %v", got)
		}
		if got := messageSeqs(t, s, "b"); !slices.Equal(got, []uint64{1}) {
			t.Errorf("b's messages went with a: %v", got)
		}
		// A late message of the deleted account is refused and brings nothing back.
		if _, _, err := s.PutMessage(ctx, msg("a", "late")); !errors.Is(err, core.ErrUnknownAccount) {
			t.Errorf("PutMessage of a deleted account = %v, want ErrUnknownAccount", err)
		}
		if got := messageSeqs(t, s, "a"); len(got) != 0 {
			t.Errorf("a late message was stored: %v", got)
		}
		// An account added again starts a new inbox, where m1 is new.
		putAccounts(t, s, "a")
		if got := putMessage(t, s, msg("a", "m1"), false); got.Seq != 1 {
			t.Errorf("the re-added account's first message got seq %d, want 1", got.Seq)
		}
	})

	t.Run("concurrent redeliveries", func(t *testing.T) {
		s := openWith(t, "a")
		const writers = 8
		results := make([]core.Message, writers)
		dups := make([]bool, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				m := msg("a", "once")
				m.Text = fmt.Sprint("writer ", w)
				var err error
				if results[w], dups[w], err = s.PutMessage(ctx, m); err != nil {
					t.Errorf("writer %d: %v", w, err)
				}
			})
		}
		wg.Wait()
		stored := messageSeqs(t, s, "a")
		if !slices.Equal(stored, []uint64{1}) {
			t.Fatalf("%d writers of one key stored %v, want one message", writers, stored)
		}
		ms, _ := s.Messages(ctx, "a", 0, 1)
		if n := writers - countTrue(dups); n != 1 {
			t.Errorf("%d writers were told they stored the message, want 1", n)
		}
		for w, r := range results {
			if !sameMessage(r, ms[0]) {
				t.Errorf("writer %d got\n%+v\nthe store holds\n%+v", w, r, ms[0])
			}
		}
	})

	t.Run("concurrent messages", func(t *testing.T) {
		s := openWith(t, "a", "b")
		const writers, each = 8, 20
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					id := []string{"a", "b"}[(w+i)%2]
					if _, dup, err := s.PutMessage(ctx, msg(id, fmt.Sprintf("w%d-%d", w, i))); err != nil || dup {
						t.Errorf("writer %d, message %d: dup %v, %v", w, i, dup, err)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, id := range []string{"a", "b"} {
			wantGapless(t, id+"'s messages", messageSeqs(t, s, id), writers*each/2)
		}
	})

	t.Run("retention", func(t *testing.T) {
		const max = 3
		s := open(t, max)
		putAccounts(t, s, "a", "b")
		for i := 1; i <= 10; i++ {
			putMessage(t, s, msg("a", fmt.Sprint("m", i)), false)
		}
		putMessage(t, s, msg("b", "m1"), false)
		want := []uint64{8, 9, 10}
		deadline := time.Now().Add(pruneWait)
		for got := messageSeqs(t, s, "a"); !slices.Equal(got, want); got = messageSeqs(t, s, "a") {
			if time.Now().After(deadline) {
				t.Fatalf("after %s the inbox of a holds %v, want %v", pruneWait, got, want)
			}
			time.Sleep(10 * time.Millisecond) // a poll, not a wait for a fixed time
		}
		if got := messageSeqs(t, s, "b"); !slices.Equal(got, []uint64{1}) {
			t.Errorf("b's inbox holds %v, want its one message", got)
		}
		// A pruned message's key went with it: delivered again, it is new.
		if got := putMessage(t, s, msg("a", "m1"), false); got.Seq != 11 {
			t.Errorf("m1 after its pruning got seq %d, want 11", got.Seq)
		}
	})
}

// putAccounts stores an account for each ID.
func putAccounts(t *testing.T, s core.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.PutAccount(context.Background(), core.Account{ID: core.AccountID(id), Name: id}); err != nil {
			t.Fatalf("PutAccount(%s): %v", id, err)
		}
	}
}

// putMessage stores m and fails the test unless PutMessage succeeds with the
// given dup.
func putMessage(t *testing.T, s core.Inbox, m core.Message, wantDup bool) core.Message {
	t.Helper()
	got, dup, err := s.PutMessage(context.Background(), m)
	if err != nil {
		t.Fatalf("PutMessage(%s of %s): %v", m.ID, m.Account, err)
	}
	if dup != wantDup {
		t.Errorf("PutMessage(%s of %s): dup %v, want %v", m.ID, m.Account, dup, wantDup)
	}
	return got
}

// messageSeqs returns the seqs of every message of the account.
func messageSeqs(t *testing.T, s core.Inbox, id string) []uint64 {
	t.Helper()
	ms, err := s.Messages(context.Background(), core.AccountID(id), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return seqsOf(ms)
}

func seqsOf(ms []core.Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func withSeq(m core.Message, seq uint64) core.Message {
	m.Seq = seq
	return m
}

// sameMessage reports whether a and b are equal, their times compared with
// Equal (the stores keep them in UTC).
func sameMessage(a, b core.Message) bool {
	if !a.At.Equal(b.At) || !a.Received.Equal(b.Received) {
		return false
	}
	a.At, a.Received, b.At, b.Received = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
