package webhookapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"warden/core/api"
	"warden/core/outbox"
)

// stream serves GET /v1/events: the outbox's events as Server-Sent Events,
// from the one after Last-Event-ID (or ?after=), those of the key's
// accounts and of the types asked for, until the client goes or Warden
// stops.
func (e *Extension) stream(w http.ResponseWriter, r *http.Request) {
	after, types, msg := streamQuery(r)
	if msg != "" {
		api.WriteError(w, http.StatusBadRequest, "invalid_query", msg)
		return
	}
	k := key(r)
	events, err := e.Outbox.Subscribe(r.Context(), after)
	if err != nil {
		e.failure(w, err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a proxy in front must not hold the events back
	w.WriteHeader(http.StatusOK)
	// A first comment shows the client the stream is open.
	if !e.send(w, rc, ": warden events, after "+strconv.FormatUint(after, 10)+"\n\n") {
		return
	}
	tick := time.NewTicker(e.KeepAlive)
	defer tick.Stop()
	for {
		select {
		case ev, open := <-events:
			if !open {
				return // Warden stops, or the store failed: the client resumes
			}
			if !k.Allows(ev.Account) || len(types) > 0 && !slices.Contains(types, ev.Type) {
				continue
			}
			data, err := json.Marshal(ev)
			if err != nil {
				e.Logger.Error("api: an event does not encode; the stream ends", "event", ev.ID, "err", err)
				return
			}
			if !e.send(w, rc, fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)) {
				return
			}
			tick.Reset(e.KeepAlive)
		case <-tick.C:
			if !e.send(w, rc, ": keep-alive\n\n") {
				return
			}
		case <-r.Context().Done():
			return
		}
	}
}

// send writes and flushes s; false when the client is gone.
func (e *Extension) send(w http.ResponseWriter, rc *http.ResponseController, s string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every writer has one
	if _, err := w.Write([]byte(s)); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// streamQuery reads where a stream starts and its types; msg says what is
// wrong.
func streamQuery(r *http.Request) (after uint64, types []string, msg string) {
	q := r.URL.Query()
	if v := strings.TrimSpace(r.Header.Get("Last-Event-ID")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, nil, fmt.Sprintf("Last-Event-ID must be the id of an event of this stream (a whole number), not %q", v)
		}
		after = n
	} else if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, nil, fmt.Sprintf("after must be the id of an event of this stream (a whole number), not %q", v)
		}
		after = n
	}
	for _, t := range strings.Split(q.Get("types"), ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !outbox.ValidType(t) {
			return 0, nil, fmt.Sprintf("types: unknown event type %q; the types are %s", t, strings.Join(outbox.Types, ", "))
		}
		types = append(types, t)
	}
	return after, types, ""
}
