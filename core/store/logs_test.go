package store

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/core"
)

func messages(lines []LogLine) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Message
	}
	return out
}

func TestLogsFilter(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "a", "b")
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.FixedZone("X", -5*3600))
	lines := []LogLine{
		{At: t0, Level: slog.LevelDebug, Message: "dialing"},
		{At: t0.Add(1 * time.Second), Level: slog.LevelInfo, Message: "Connected", Attrs: map[string]string{"epoch": "3"}},
		{At: t0.Add(2 * time.Second), Level: slog.LevelWarn, Message: "stream error", Attrs: map[string]string{"code": "503", "detail": "Service Unavailable"}},
		{At: t0.Add(3 * time.Second), Level: slog.LevelError, Message: "conflict: replaced"},
		{At: t0.Add(4 * time.Second), Level: slog.LevelInfo, Message: "reconnecting", Attrs: map[string]string{"attempt": "2"}},
	}
	if err := db.AppendLogs(ctx, "a", lines[:2]...); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLogs(ctx, "a", lines[2:]...); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendLogs(ctx, "b", LogLine{At: t0, Message: "other account"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit    int
		minLevel slog.Level
		contains string
		want     string
	}{
		{10, slog.LevelDebug, "", "[dialing Connected stream error conflict: replaced reconnecting]"},
		{2, slog.LevelDebug, "", "[conflict: replaced reconnecting]"},
		{10, slog.LevelInfo, "", "[Connected stream error conflict: replaced reconnecting]"},
		{10, slog.LevelWarn, "", "[stream error conflict: replaced]"},
		{10, slog.LevelDebug, "CONNECTED", "[Connected]"},
		{10, slog.LevelDebug, "unavailable", "[stream error]"}, // an attribute value
		{10, slog.LevelDebug, "attempt", "[]"},                 // attribute keys do not match
		{1, slog.LevelWarn, "e", "[conflict: replaced]"},
		{0, slog.LevelDebug, "", "[]"},
	} {
		got, err := db.Logs(ctx, "a", tc.limit, tc.minLevel, tc.contains)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(messages(got)) != tc.want {
			t.Errorf("Logs(a, %d, %v, %q) = %v, want %s", tc.limit, tc.minLevel, tc.contains, messages(got), tc.want)
		}
	}
	got, _ := db.Logs(ctx, "a", 10, slog.LevelWarn, "503")
	if len(got) != 1 || got[0].Attrs["code"] != "503" || got[0].Account != "a" || !got[0].At.Equal(lines[2].At) || got[0].At.Location() != time.UTC {
		t.Errorf("stored line = %+v, want %+v with Account a and At in UTC", got, lines[2])
	}
}

func TestLogsWardenOwnAndAll(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	putAccounts(t, db, "a", "b")
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	appendLog := func(id core.AccountID, sec int, msg string) {
		t.Helper()
		if err := db.AppendLogs(ctx, id, LogLine{At: t0.Add(time.Duration(sec) * time.Second), Level: slog.LevelInfo, Message: msg}); err != nil {
			t.Fatal(err)
		}
	}
	appendLog("", 0, "warden started")
	appendLog("b", 1, "b connected")
	appendLog("a", 2, "a connected")
	appendLog("", 3, "settings saved")
	appendLog("b", 4, "b replaced")

	own, err := db.Logs(ctx, "", 10, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(messages(own)) != "[warden started settings saved]" {
		t.Errorf("Warden's own log = %v", messages(own))
	}
	ids, err := db.LogAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%q", ids) != `["" "a" "b"]` {
		t.Errorf("LogAccounts() = %q, want Warden's, a, b", ids)
	}
	all, err := db.AllLogs(ctx, 4, slog.LevelDebug, "")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(messages(all)) != "[b connected a connected settings saved b replaced]" {
		t.Errorf("AllLogs(4) = %v, want the newest 4 by time", messages(all))
	}
	if all[0].Account != "b" || all[2].Account != "" {
		t.Errorf("AllLogs accounts = %q, %q; want b and Warden's", all[0].Account, all[2].Account)
	}
	if err := db.AppendLogs(ctx, "nobody", LogLine{Message: "x"}); err != nil {
		t.Errorf("AppendLogs(nobody) = %v, want the line dropped quietly", err)
	}
	if ids, _ := db.LogAccounts(ctx); len(ids) != 3 {
		t.Errorf("LogAccounts() after a line of an unknown account = %q", ids)
	}
}

func TestLogsCapped(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, WithLogCap(100))
	putAccounts(t, db, "a")
	n := 0
	for _, batch := range []int{60, 60, 1, 250} {
		lines := make([]LogLine, batch)
		for i := range lines {
			n++
			lines[i] = LogLine{At: time.Now(), Message: fmt.Sprint("line ", n)}
		}
		if err := db.AppendLogs(ctx, "a", lines...); err != nil {
			t.Fatal(err)
		}
		got, err := db.Logs(ctx, "a", 1000, slog.LevelDebug, "")
		if err != nil {
			t.Fatal(err)
		}
		want := min(n, 100)
		if len(got) != want || got[len(got)-1].Message != fmt.Sprint("line ", n) || got[0].Message != fmt.Sprint("line ", n-want+1) {
			t.Fatalf("after %d lines: kept %d from %q to %q, want the newest %d", n, len(got), got[0].Message, got[len(got)-1].Message, want)
		}
	}
}

// AllLogs agrees with merging every log by hand.
func TestAllLogsMatchesNaiveMerge(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	ids := []core.AccountID{"", "a", "b", "c", "d"}
	putAccounts(t, db, ids[1:]...)
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var all []LogLine
	used := map[int]bool{}
	for _, id := range ids {
		// Distinct, increasing times per log; logs interleave.
		sec := 0
		var lines []LogLine
		for range 200 {
			sec += 1 + rng.IntN(20)
			for used[sec] {
				sec++
			}
			used[sec] = true
			l := LogLine{Account: id, At: t0.Add(time.Duration(sec) * time.Second),
				Level:   []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[rng.IntN(4)],
				Message: []string{"dial", "connected", "stream error", "keepalive timeout"}[rng.IntN(4)]}
			lines = append(lines, l)
		}
		if err := db.AppendLogs(ctx, id, lines...); err != nil {
			t.Fatal(err)
		}
		all = append(all, lines...)
	}
	slices.SortFunc(all, func(a, b LogLine) int { return a.At.Compare(b.At) })
	for _, tc := range []struct {
		limit    int
		minLevel slog.Level
		contains string
	}{{10, slog.LevelDebug, ""}, {300, slog.LevelWarn, ""}, {5000, slog.LevelDebug, "EPALIVE"}, {77, slog.LevelInfo, "conn"}} {
		var want []string
		for _, l := range all {
			if l.Level >= tc.minLevel && l.matches(strings.ToLower(tc.contains)) {
				want = append(want, fmt.Sprint(l.Account, l.At.Unix(), l.Message))
			}
		}
		want = want[max(0, len(want)-tc.limit):]
		lines, err := db.AllLogs(ctx, tc.limit, tc.minLevel, tc.contains)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range lines {
			got = append(got, fmt.Sprint(l.Account, l.At.Unix(), l.Message))
		}
		if !slices.Equal(got, want) {
			t.Errorf("AllLogs(%d, %v, %q): %d lines, want %d; first difference at %d", tc.limit, tc.minLevel, tc.contains, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
