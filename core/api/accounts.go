package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"warden/core"
)

// accountView is an account as the API shows it.
type accountView struct {
	ID            core.AccountID `json:"id"`
	Name          string         `json:"name"`
	Phone         string         `json:"phone,omitempty"` // +digits; "" until paired
	State         string         `json:"state"`
	Reason        string         `json:"reason,omitempty"`
	Since         time.Time      `json:"since,omitzero"`
	Attempt       int            `json:"attempt,omitempty"`
	NextAttempt   time.Time      `json:"next_attempt,omitzero"`
	NeedsAction   bool           `json:"needs_action"`
	Node          string         `json:"node,omitempty"`
	MessagesToday traffic        `json:"messages_today"`
	LastMessageAt time.Time      `json:"last_message_at,omitzero"`
}

type traffic struct {
	In  int `json:"in"`
	Out int `json:"out"`
}

// stateName is a state as the API writes it: its name in lower case.
func stateName(s core.State) string { return strings.ToLower(s.String()) }

// view is the account of a status, as the API shows it.
func (s *Server) view(st core.Status) accountView {
	in, out := st.Traffic.Today(s.now())
	v := accountView{
		ID:            st.Account.ID,
		Name:          st.Account.Name,
		State:         stateName(st.State),
		Reason:        st.Reason,
		Since:         st.Since,
		Attempt:       st.Attempt,
		NextAttempt:   st.NextAttempt,
		NeedsAction:   st.NeedsAction(),
		Node:          st.Node,
		MessagesToday: traffic{In: in, Out: out},
		LastMessageAt: st.Traffic.LastIn,
	}
	if p := st.Account.Phone(); p != "" {
		v.Phone = "+" + p
	}
	return v
}

// visible returns the statuses of the accounts the request's key may see.
func (s *Server) visible(r *http.Request) []core.Status {
	k, _ := KeyFrom(r.Context())
	var out []core.Status
	for _, st := range s.ctl.Statuses() {
		if k.Allows(st.Account.ID) {
			out = append(out, st)
		}
	}
	return out
}

// status returns the account's status, or an error wrapping
// core.ErrUnknownAccount.
func (s *Server) status(id core.AccountID) (core.Status, error) {
	for _, st := range s.ctl.Statuses() {
		if st.Account.ID == id {
			return st, nil
		}
	}
	return core.Status{}, unknownAccount(id)
}

// unknownAccount is the error of an id no account has.
func unknownAccount(id core.AccountID) error {
	return &wrapped{core.ErrUnknownAccount, "no such account: " + string(id)}
}

// wrapped is an error of core's with the API's words.
type wrapped struct {
	err error
	msg string
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// accountReply answers with the account's current view.
func (s *Server) accountReply(status int, id core.AccountID) *reply {
	st, err := s.status(id)
	if err != nil {
		return s.failure(err)
	}
	return ok(status, s.view(st))
}

// listAccounts answers the accounts the key may see.
func (s *Server) listAccounts(r *http.Request) *reply {
	views := []accountView{}
	for _, st := range s.visible(r) {
		views = append(views, s.view(st))
	}
	return ok(http.StatusOK, map[string]any{"accounts": views})
}

// getAccount answers one account.
func (s *Server) getAccount(r *http.Request) *reply {
	return s.accountReply(http.StatusOK, accountID(r))
}

type createRequest struct {
	Name  string `json:"name"`
	Proxy string `json:"proxy,omitempty"`
}

// createAccount adds an account, which starts pairing. A key limited to
// some accounts may not: it could not see the new one.
func (s *Server) createAccount(r *http.Request) *reply {
	if k, _ := KeyFrom(r.Context()); len(k.Accounts) > 0 {
		return fail(http.StatusForbidden, "account_not_allowed", "this API key is limited to some accounts: it cannot add one")
	}
	var req createRequest
	if rep := decode(r, &req); rep != nil {
		return rep
	}
	var opts []core.AccountOption
	if req.Proxy != "" {
		opts = append(opts, core.WithProxy(req.Proxy))
	}
	a, err := s.ctl.Add(r.Context(), req.Name, opts...)
	if err != nil {
		return s.failure(err)
	}
	return s.accountReply(http.StatusCreated, a.ID)
}

type patchRequest struct {
	Name  *string `json:"name,omitempty"`
	Proxy *string `json:"proxy,omitempty"`
}

// patchAccount renames the account, changes its proxy, or both (the name
// first: a refused proxy leaves the new name).
func (s *Server) patchAccount(r *http.Request) *reply {
	var req patchRequest
	if rep := decode(r, &req); rep != nil {
		return rep
	}
	if req.Name == nil && req.Proxy == nil {
		return fail(http.StatusBadRequest, "invalid_json", "send a name, a proxy or both")
	}
	id := accountID(r)
	if req.Name != nil {
		if err := s.ctl.Rename(r.Context(), id, *req.Name); err != nil {
			return s.failure(err)
		}
	}
	if req.Proxy != nil {
		if err := s.ctl.SetProxy(r.Context(), id, *req.Proxy); err != nil {
			return s.failure(err)
		}
	}
	return s.accountReply(http.StatusOK, id)
}

// command answers a route that runs one command on the account.
func (s *Server) command(run func(ctx context.Context, id core.AccountID) error) func(r *http.Request) *reply {
	return func(r *http.Request) *reply {
		id := accountID(r)
		if err := run(r.Context(), id); err != nil {
			return s.failure(err)
		}
		return s.accountReply(http.StatusOK, id)
	}
}

// takeover connects a Replaced account: this Warden takes it back from
// the other client. Any other state is refused, so that a takeover never
// starts an account the caller did not mean to.
func (s *Server) takeover(ctx context.Context, id core.AccountID) error {
	st, err := s.status(id)
	if err != nil {
		return err
	}
	if st.State != core.Replaced {
		return &wrapped{errNotReplaced, "the account is " + stateName(st.State) + ", not replaced: there is nothing to take over"}
	}
	return s.ctl.Connect(ctx, id)
}

var errNotReplaced = errors.New("the account is not replaced")

type deleted struct {
	ID      core.AccountID `json:"id"`
	Deleted bool           `json:"deleted"`
	Warning string         `json:"warning,omitempty"`
}

// deleteAccount deletes the account. A device WhatsApp still links is a
// warning of a successful delete, not an error: the account is gone here.
func (s *Server) deleteAccount(r *http.Request) *reply {
	id := accountID(r)
	err := s.ctl.Delete(r.Context(), id)
	switch {
	case errors.Is(err, core.ErrStillLinked):
		return ok(http.StatusOK, deleted{ID: id, Deleted: true, Warning: err.Error() + "; remove it on the phone: Settings → Linked devices"})
	case err != nil:
		return s.failure(err)
	}
	return ok(http.StatusOK, deleted{ID: id, Deleted: true})
}

type qrView struct {
	Code      string    `json:"code"`
	Index     int       `json:"index"`
	Total     int       `json:"total"`
	ExpiresAt time.Time `json:"expires_at"`
}

// pairingQR returns the account's current QR code, or a refusal.
func (s *Server) pairingQR(id core.AccountID) (qrView, *reply) {
	st, err := s.status(id)
	if err != nil {
		return qrView{}, s.failure(err)
	}
	if st.State != core.Pairing || st.QRCode == "" {
		return qrView{}, failWith(http.StatusConflict, apiError{Code: "not_pairing",
			Message: "the account shows no QR code: it is " + stateName(st.State) + "; connect it to pair it",
			State:   stateName(st.State), Reason: st.Reason})
	}
	return qrView{Code: st.QRCode, Index: st.QRIndex, Total: st.QRTotal, ExpiresAt: st.QRExpires}, nil
}

// getQR answers the pairing QR code as text.
func (s *Server) getQR(r *http.Request) *reply {
	qr, rep := s.pairingQR(accountID(r))
	if rep != nil {
		return rep
	}
	return ok(http.StatusOK, qr)
}

// getQRPNG answers the pairing QR code as a PNG image to show as it is.
func (s *Server) getQRPNG(r *http.Request) *reply {
	qr, rep := s.pairingQR(accountID(r))
	if rep != nil {
		return rep
	}
	png, err := qrcode.Encode(qr.Code, qrcode.Medium, 320)
	if err != nil {
		return s.failure(err)
	}
	return &reply{status: http.StatusOK, contentType: "image/png", body: png}
}

type pairPhoneRequest struct {
	Phone string `json:"phone"`
}

// pairPhone asks for the code to type on the phone instead of scanning.
func (s *Server) pairPhone(r *http.Request) *reply {
	var req pairPhoneRequest
	if rep := decode(r, &req); rep != nil {
		return rep
	}
	code, err := s.ctl.PairPhone(r.Context(), accountID(r), req.Phone)
	if err != nil {
		return s.failure(err)
	}
	return ok(http.StatusOK, map[string]string{"code": code})
}
