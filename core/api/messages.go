package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"warden/core"
)

type sendRequest struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

type sentView struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Status  string    `json:"status"`
	SentAt  time.Time `json:"sent_at"`
	AckedAt time.Time `json:"acked_at"`
}

// Statuses of a sent message.
const (
	statusAcknowledged = "acknowledged" // WhatsApp's server has it
	statusDelivered    = "delivered"    // the recipient's phone has it
	statusFailed       = "failed"
)

// sendMessage sends a text, once per Idempotency-Key. A retry is
// recognised by the message it carries (recipient and text), not by the
// bytes of its body.
func (s *Server) sendMessage(r *http.Request) *reply {
	var req sendRequest
	if rep := decode(r, &req); rep != nil {
		return rep
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > MaxIdempotencyKey {
		return fail(http.StatusBadRequest, "invalid_idempotency_key", "the Idempotency-Key is longer than 255 bytes")
	}
	id := accountID(r)
	send := func() *reply { return s.send(r.Context(), id, req) }
	if key == "" {
		return send()
	}
	k, _ := KeyFrom(r.Context())
	return s.idem.do(r.Context(), idemKey{apiKey: k.ID, account: id, key: key}, []byte(req.To+"\x00"+req.Text), s.now(), send)
}

// send sends a message. The send outlives a caller that hangs up: once
// handed to WhatsApp it completes, and a retry with the same
// Idempotency-Key gets its outcome.
func (s *Server) send(ctx context.Context, id core.AccountID, req sendRequest) *reply {
	res, err := s.ctl.SendText(context.WithoutCancel(ctx), id, req.To, req.Text)
	if err != nil {
		return s.sendFailure(id, err)
	}
	return ok(http.StatusOK, sentView{ID: res.MessageID, To: "+" + res.To, Status: statusAcknowledged, SentAt: res.SentAt, AckedAt: res.AckedAt})
}

// sendFailure words a failed send; a refusal because the account is not
// connected says its state and why.
func (s *Server) sendFailure(id core.AccountID, err error) *reply {
	status, code, known := classify(err)
	if !known {
		return s.failure(err)
	}
	e := apiError{Code: code, Message: core.SendErrorText(err)}
	if errors.Is(err, core.ErrNotConnected) {
		if st, serr := s.status(id); serr == nil {
			e.State, e.Reason = stateName(st.State), st.Reason
		}
	}
	return failWith(status, e)
}

type messageStatus struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	At          time.Time `json:"at"` // when it reached that status
	Reason      string    `json:"reason,omitempty"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
}

// statusScan is how many of the account's newest timeline events a
// message's status is looked for in.
const statusScan = 5000

// getMessage says what became of a message the account sent: its notes on
// the timeline.
func (s *Server) getMessage(r *http.Request) *reply {
	id, msg := accountID(r), r.PathValue("msgid")
	evs, err := s.ctl.Events(r.Context(), id, statusScan)
	if err != nil {
		return s.failure(err)
	}
	var st *messageStatus
	for _, e := range evs {
		if e.MessageID != msg {
			continue
		}
		switch e.Cause {
		case core.CauseSent:
			st = &messageStatus{ID: msg, Status: statusAcknowledged, At: e.At}
		case core.CauseSendFailed:
			st = &messageStatus{ID: msg, Status: statusFailed, At: e.At, Reason: e.Reason}
		case core.CauseDelivered:
			if st == nil {
				st = &messageStatus{ID: msg}
			}
			st.Status, st.At, st.DeliveredAt = statusDelivered, e.At, e.At
		}
	}
	if st == nil {
		return fail(http.StatusNotFound, "unknown_message", "the account's timeline has no message "+msg+" (it may be older than the timeline keeps)")
	}
	return ok(http.StatusOK, st)
}

// Bounds of the list routes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// listMessages returns the account's received messages after a Seq,
// oldest first: a caller pages with after = the last Seq it got.
func (s *Server) listMessages(r *http.Request) *reply {
	if s.inbox == nil {
		return fail(http.StatusNotImplemented, "no_inbox", "this Warden keeps no received messages")
	}
	after, rep := queryInt(r, "after", 0, 0, 1<<62)
	if rep != nil {
		return rep
	}
	limit, rep := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if rep != nil {
		return rep
	}
	id := accountID(r)
	if _, err := s.status(id); err != nil {
		return s.failure(err)
	}
	msgs, err := s.inbox.Messages(r.Context(), id, after, int(limit))
	if err != nil {
		return s.failure(err)
	}
	if msgs == nil {
		msgs = []core.Message{}
	}
	return ok(http.StatusOK, map[string]any{"messages": msgs})
}

type eventView struct {
	Seq       uint64    `json:"seq"`
	At        time.Time `json:"at"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Cause     string    `json:"cause"`
	Reason    string    `json:"reason,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
}

// timeline returns the account's events before a Seq (default: the
// newest), at most limit, oldest first: a caller pages back with before =
// the first Seq it got.
func (s *Server) timeline(r *http.Request) *reply {
	limit, rep := queryInt(r, "limit", defaultLimit, 1, maxLimit)
	if rep != nil {
		return rep
	}
	before, rep := queryInt(r, "before", 0, 0, 1<<62)
	if rep != nil {
		return rep
	}
	evs, err := s.eventsBefore(r.Context(), accountID(r), before, int(limit))
	if err != nil {
		return s.failure(err)
	}
	views := []eventView{}
	for _, e := range evs {
		views = append(views, eventView{Seq: e.Seq, At: e.At, From: stateName(e.From), To: stateName(e.To),
			Cause: e.Cause, Reason: e.Reason, Attempt: e.Attempt, MessageID: e.MessageID})
	}
	return ok(http.StatusOK, map[string]any{"events": views})
}

// eventsBefore returns the account's last limit events with a Seq below
// before (0: all), oldest first. The Controller gives the newest events:
// the Seqs of an account are consecutive, so the newest one says how many
// to ask for to reach before.
func (s *Server) eventsBefore(ctx context.Context, id core.AccountID, before uint64, limit int) ([]core.Event, error) {
	if before == 0 {
		return s.ctl.Events(ctx, id, limit)
	}
	newest, err := s.ctl.Events(ctx, id, 1)
	if err != nil || len(newest) == 0 {
		return nil, err
	}
	skip := 0
	if last := newest[0].Seq; before <= last {
		skip = int(last + 1 - before)
	}
	evs, err := s.ctl.Events(ctx, id, skip+limit)
	if err != nil {
		return nil, err
	}
	var out []core.Event
	for _, e := range evs {
		if e.Seq < before {
			out = append(out, e)
		}
	}
	return out[max(0, len(out)-limit):], nil
}

type healthView struct {
	Status      string        `json:"status"` // ok, or needs_action
	Accounts    int           `json:"accounts"`
	NeedsAction []accountView `json:"needs_action"`
}

// health answers 200 when none of the key's accounts needs the operator
// and 503 when some do: core's rule, Status.NeedsAction, as /healthz.
func (s *Server) health(r *http.Request) *reply {
	sts := s.visible(r)
	h := healthView{Status: "ok", Accounts: len(sts), NeedsAction: []accountView{}}
	for _, st := range sts {
		if st.NeedsAction() {
			h.NeedsAction = append(h.NeedsAction, s.view(st))
		}
	}
	if len(h.NeedsAction) > 0 {
		h.Status = "needs_action"
		return ok(http.StatusServiceUnavailable, h)
	}
	return ok(http.StatusOK, h)
}
