package webhookapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"warden/core/outbox"
)

// sse is one server-sent event, or a comment.
type sse struct {
	id      uint64
	event   string
	data    outbox.Event
	fields  map[string]json.RawMessage
	comment string
}

// stream is an open GET /v1/events, read by a goroutine.
type stream struct {
	t      *testing.T
	resp   *http.Response
	cancel context.CancelFunc
	events chan sse
	done   chan error // the reader's end
}

// open starts a stream with the token, path (and query) and header; it
// fails the test unless the answer is 200 text/event-stream.
func (h *harness) open(token, path string, header map[string]string) *stream {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req := h.newRequest(request{method: http.MethodGet, path: path, token: token, header: header}, nil).WithContext(ctx)
	if ok, errs := h.val.ValidateHttpRequest(h.newRequest(request{method: http.MethodGet, path: path, token: token, header: header}, nil)); !ok {
		h.t.Errorf("GET %s: the request does not match the document: %v", path, errs)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		cancel()
		h.t.Fatalf("GET %s = %d %s, want 200 text/event-stream", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: h.t, resp: resp, cancel: cancel, events: make(chan sse, 1024), done: make(chan error, 1)}
	go s.read()
	h.t.Cleanup(s.close)
	return s
}

// read parses the stream into events and comments.
func (s *stream) read() {
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var cur sse
	var data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := json.Unmarshal([]byte(data), &cur.data); err != nil {
					s.done <- fmt.Errorf("data %q: %w", data, err)
					return
				}
				_ = json.Unmarshal([]byte(data), &cur.fields)
				s.events <- cur
			}
			cur, data = sse{}, ""
		case strings.HasPrefix(line, ":"):
			s.events <- sse{comment: strings.TrimSpace(strings.TrimPrefix(line, ":"))}
		case strings.HasPrefix(line, "id: "):
			n, err := strconv.ParseUint(strings.TrimPrefix(line, "id: "), 10, 64)
			if err != nil {
				s.done <- fmt.Errorf("id line %q", line)
				return
			}
			cur.id = n
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		default:
			s.done <- fmt.Errorf("unexpected line %q", line)
			return
		}
	}
	s.done <- sc.Err()
}

// next returns the next event (comments skipped), failing after a
// generous deadline.
func (s *stream) next() sse {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-s.events:
			if ev.comment != "" {
				continue
			}
			return ev
		case err := <-s.done:
			s.t.Fatalf("the stream ended: %v", err)
		case <-deadline:
			s.t.Fatal("waited 30s for an event")
		}
	}
}

// until reads events until one of the type with the ID, and returns them
// all.
func (s *stream) until(typ, id string) []sse {
	s.t.Helper()
	var out []sse
	for {
		ev := s.next()
		out = append(out, ev)
		if ev.event == typ && ev.data.ID == id {
			return out
		}
	}
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// A client reads events, goes away, comes back with Last-Event-ID and gets
// exactly the events after the last it saw: none missing, none twice. Each
// event is the webhook delivery's JSON under its outbox seq.
func TestEventStreamResumes(t *testing.T) {
	h := newHarness(t, options{})
	a1, b1 := h.paired("alfa"), h.paired("bravo")
	h.start()
	h.waitConnected(a1)
	h.waitConnected(b1)

	s := h.open(h.admin, "/v1/events", nil)
	h.receive(a1, "A1")
	h.receive(b1, "B1")
	first := s.until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 1))
	first = append(first, s.until(outbox.TypeMessageReceived, outbox.MessageEventID(b1, 1))...)
	s.close()
	for _, ev := range first {
		if ev.event != ev.data.Type || ev.data.ID == "" || ev.data.Account == "" || ev.data.Time.IsZero() || len(ev.fields) != 5 {
			t.Errorf("event %d: %s %+v (fields %d), want its type as event: and the five fields of a delivery", ev.id, ev.event, ev.data, len(ev.fields))
		}
	}

	// Gone: more happens meanwhile.
	h.receive(a1, "A2")
	h.receive(b1, "B2")
	h.receive(a1, "A3")
	last := first[len(first)-1].id
	resumed := h.open(h.admin, "/v1/events", map[string]string{"Last-Event-ID": strconv.FormatUint(last, 10)})
	second := resumed.until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 3))

	// The whole stream from the start, for comparison.
	whole := h.open(h.admin, "/v1/events?after=0", nil).until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 3))
	got := append(append([]sse{}, first...), second...)
	if len(got) != len(whole) {
		t.Fatalf("read %d events, then %d after resuming: %d, want the %d of the whole stream", len(first), len(second), len(got), len(whole))
	}
	for i := range whole {
		if got[i].id != whole[i].id || got[i].data.ID != whole[i].data.ID {
			t.Errorf("event %d: got %d %s, the whole stream has %d %s", i, got[i].id, got[i].data.ID, whole[i].id, whole[i].data.ID)
		}
		if i > 0 && got[i].id <= got[i-1].id {
			t.Errorf("ids not increasing: %d after %d", got[i].id, got[i-1].id)
		}
	}

	// ?after= does what Last-Event-ID does; the header wins over it.
	viaQuery := h.open(h.admin, "/v1/events?after="+strconv.FormatUint(last, 10), nil).next()
	viaBoth := h.open(h.admin, "/v1/events?after=0", map[string]string{"Last-Event-ID": strconv.FormatUint(last, 10)}).next()
	if viaQuery.id != second[0].id || viaBoth.id != second[0].id {
		t.Errorf("after=%d gave %d, and with Last-Event-ID %d, want %d", last, viaQuery.id, viaBoth.id, second[0].id)
	}
}

// A key for account A streams A's events and never B's; a read-only key
// may stream; ?types= keeps those types.
func TestEventStreamFilters(t *testing.T) {
	h := newHarness(t, options{})
	a1, b1 := h.paired("alfa"), h.paired("bravo")
	h.start()
	h.waitConnected(a1)
	h.waitConnected(b1)
	onlyA := h.key("crm-a", true, a1)

	h.receive(b1, "B1")
	h.receive(a1, "A1")
	h.receive(b1, "B2")
	h.receive(a1, "A2")
	// The admin's stream shows the order they were stored in.
	h.open(h.admin, "/v1/events", nil).until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 2))

	for _, ev := range h.open(onlyA, "/v1/events", nil).until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 2)) {
		if ev.data.Account != a1 {
			t.Errorf("a key for %s streamed %s's event %s", a1, ev.data.Account, ev.data.ID)
		}
	}
	var types []string
	for _, ev := range h.open(h.admin, "/v1/events?types=message.received", nil).until(outbox.TypeMessageReceived, outbox.MessageEventID(a1, 2)) {
		types = append(types, ev.event)
	}
	if strings.Join(types, ",") != strings.Repeat("message.received,", 3)+"message.received" {
		t.Errorf("?types=message.received streamed %v, want the four messages only", types)
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/accounts/" + string(b1), token: onlyA}); a.status != http.StatusForbidden {
		t.Errorf("the key for %s reading %s = %d, want 403", a1, b1, a.status)
	}

	for _, r := range []request{
		{method: http.MethodGet, path: "/v1/events", header: map[string]string{"Last-Event-ID": "abc"}, invalid: true},
		{method: http.MethodGet, path: "/v1/events?after=-1", invalid: true},
		{method: http.MethodGet, path: "/v1/events?types=message.eaten"},
	} {
		r.token = h.admin
		if a := h.do(r); a.status != http.StatusBadRequest || a.code(t) != "invalid_query" {
			t.Errorf("GET %s %v = %d %s, want 400 invalid_query", r.path, r.header, a.status, a.body)
		}
	}
	if a := h.do(request{method: http.MethodGet, path: "/v1/events", invalid: true}); a.status != http.StatusUnauthorized {
		t.Errorf("GET /v1/events without a key = %d, want 401", a.status)
	}
}

// An idle stream gets keep-alive comments, and ends cleanly when the
// server closes.
func TestEventStreamKeepAliveAndClose(t *testing.T) {
	h := newHarness(t, options{keepAlive: 20 * time.Millisecond})
	s := h.open(h.admin, "/v1/events", nil)
	deadline := time.After(30 * time.Second)
	for alive := false; !alive; {
		select {
		case ev := <-s.events:
			alive = ev.comment == "keep-alive"
		case err := <-s.done:
			t.Fatalf("the stream ended: %v", err)
		case <-deadline:
			t.Fatal("no keep-alive comment in 30s")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.srv.Close(ctx); err != nil {
		t.Errorf("Close with a stream open = %v, want it ended", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the client's stream did not end when the server closed")
	}
}
