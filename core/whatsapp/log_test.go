package whatsapp

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// records decodes a JSON slog handler's output.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func TestWALoggerNodeLines(t *testing.T) {
	var buf bytes.Buffer
	// The handler accepts everything: only level decides for Send and Recv.
	root := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).With("account", "a1")
	var level slog.LevelVar
	level.Set(slog.LevelInfo)
	client := newWALogger(root, "Client", &level)
	send, recv, socket := client.Sub("Send"), client.Sub("Recv"), client.Sub("Socket")

	send.Debugf("<iq id=%q/>", "1")
	recv.Debugf("<success/>")
	socket.Debugf("dialing")
	recv.Warnf("odd frame")
	got := records(t, &buf)
	if len(got) != 2 {
		t.Fatalf("at info, got %d lines %v; want the Socket debug line and the Recv warning", len(got), got)
	}
	if got[0]["msg"] != "dialing" || got[0]["module"] != "Client/Socket" || got[0]["account"] != "a1" {
		t.Errorf("line 1 = %v, want dialing from Client/Socket of a1", got[0])
	}
	if got[1]["msg"] != "odd frame" || got[1]["level"] != "WARN" || got[1]["module"] != "Client/Recv" {
		t.Errorf("line 2 = %v, want the Recv warning", got[1])
	}

	buf.Reset()
	level.Set(slog.LevelDebug) // live change
	send.Debugf("<iq id=%q/>", "2")
	recv.Debugf("<success/>")
	got = records(t, &buf)
	if len(got) != 2 || got[0]["msg"] != `<iq id="2"/>` || got[0]["module"] != "Client/Send" || got[1]["module"] != "Client/Recv" {
		t.Errorf("at debug, got %v; want the Send and Recv node lines", got)
	}
}

func TestWALoggerHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l := newWALogger(root, "Client", slog.LevelDebug)
	l.Infof("hello %d", 1)
	l.Errorf("broken %s", "pipe")
	got := records(t, &buf)
	if len(got) != 1 || got[0]["msg"] != "broken pipe" || got[0]["level"] != "ERROR" {
		t.Errorf("got %v, want only the error line", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Successfully paired 15551234567.0:12@s.whatsapp.net", "Successfully paired …67.0:12@s.whatsapp.net"},
		{"Updated LID to 123456789012345@lid", "Updated LID to …45@lid"},
		{"Got 515 code, reconnecting...", "Got 515 code, reconnecting..."},
		{"server s.whatsapp.net", "server s.whatsapp.net"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInfoLinesHidePhoneNumbers(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newWALogger(root, "Client", slog.LevelInfo)
	l.Infof("Successfully paired %s", "15551234567:3@s.whatsapp.net")
	l.Debugf("Successfully paired %s", "15551234567:3@s.whatsapp.net")
	got := records(t, &buf)
	if len(got) != 2 {
		t.Fatalf("got %d lines, want 2", len(got))
	}
	if strings.Contains(got[0]["msg"].(string), "15551234567") {
		t.Errorf("info line %q shows the phone number", got[0]["msg"])
	}
	if !strings.Contains(got[1]["msg"].(string), "15551234567") {
		t.Errorf("debug line %q lost the phone number", got[1]["msg"])
	}
}

func TestZerologBridge(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})).With("account", "a1")
	zl := newZerolog(root)
	zl.Warn().Str("jid", "15551234567@s.whatsapp.net").Int("count", 3).Msg("failed to sync")
	zl.Debug().Msg("noise")
	got := records(t, &buf)
	if len(got) != 1 {
		t.Fatalf("got %v, want one warning", got)
	}
	r := got[0]
	if r["msg"] != "failed to sync" || r["level"] != "WARN" || r["account"] != "a1" || r["count"] != float64(3) {
		t.Errorf("record = %v, want the warning with its fields and account", r)
	}
	if r["jid"] != "…67@s.whatsapp.net" {
		t.Errorf("jid field = %v, want it redacted", r["jid"])
	}
}
