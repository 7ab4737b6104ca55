package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"warden/core"
)

// reply is a handler's answer, rendered: the idempotency cache keeps it as
// it is, so that a retried send gets the same bytes.
type reply struct {
	status      int
	contentType string
	body        []byte
	retryAfter  int // seconds, for Retry-After; 0: none
}

// handle adapts a handler that returns its reply.
func (s *Server) handle(fn func(r *http.Request) *reply) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.write(w, fn(r)) })
}

// write sends a reply; no answer of the API is cached on the way.
func (s *Server) write(w http.ResponseWriter, rep *reply) { writeReply(w, rep) }

// writeReply sends a reply, uncached.
func writeReply(w http.ResponseWriter, rep *reply) {
	h := w.Header()
	h.Set("Content-Type", rep.contentType)
	h.Set("Cache-Control", "no-store")
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// ok renders v as JSON with the status.
func ok(status int, v any) *reply {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the API's own view types are rendered: a failure is a bug.
		return fail(http.StatusInternalServerError, "internal", "the answer could not be written: "+err.Error())
	}
	return &reply{status: status, contentType: "application/json", body: append(b, '\n')}
}

// apiError is the body of every error: {"error": {...}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// State and Reason say why an account refused: its state and why it
	// is in it.
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// fail renders an error: code for programs, message for people.
func fail(status int, code, message string) *reply {
	return failWith(status, apiError{Code: code, Message: message})
}

// failWith renders an error with the account's state and reason.
func failWith(status int, e apiError) *reply {
	rep := ok(status, struct {
		Error apiError `json:"error"`
	}{e})
	rep.status = status
	return rep
}

// errorCodes maps core's errors to statuses and codes, first match wins.
var errorCodes = []struct {
	err    error
	status int
	code   string
}{
	{core.ErrUnknownAccount, http.StatusNotFound, "unknown_account"},
	{core.ErrNotConnected, http.StatusConflict, "not_connected"},
	{core.ErrAlreadyConnected, http.StatusConflict, "already_connected"},
	{core.ErrBusy, http.StatusConflict, "busy"},
	{core.ErrNotPairing, http.StatusConflict, "not_pairing"},
	{core.ErrDeviceInUse, http.StatusConflict, "device_in_use"},
	{core.ErrNotOwned, http.StatusConflict, "not_owned"},
	{core.ErrNotOnWhatsApp, http.StatusUnprocessableEntity, "not_on_whatsapp"},
	{core.ErrNoDevices, http.StatusUnprocessableEntity, "no_devices"},
	{core.ErrInvalidPhone, http.StatusUnprocessableEntity, "invalid_phone"},
	{core.ErrInvalidMessage, http.StatusUnprocessableEntity, "invalid_message"},
	{core.ErrInvalidName, http.StatusUnprocessableEntity, "invalid_name"},
	{core.ErrInvalidProxy, http.StatusUnprocessableEntity, "invalid_proxy"},
	{core.ErrRateLimited, http.StatusTooManyRequests, "whatsapp_rate_limited"},
	{core.ErrNoAck, http.StatusGatewayTimeout, "no_ack"},
	{core.ErrClosed, http.StatusServiceUnavailable, "shutting_down"},
	{errNotReplaced, http.StatusConflict, "not_replaced"},
}

// classify finds the status and code of an error core names.
func classify(err error) (status int, code string, known bool) {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.status, c.code, true
		}
	}
	return http.StatusInternalServerError, "internal", false
}

// failure renders an error of the Controller. An error core does not name
// is logged and answered 500 without its text, which may say more than a
// caller should read.
func (s *Server) failure(err error) *reply {
	status, code, known := classify(err)
	if !known {
		s.log.Error("api: an operation failed", "err", err)
		return fail(status, code, "Warden failed to do this; its log says why")
	}
	return fail(status, code, err.Error())
}

// decode reads a JSON body into v (see decodeBytes).
func decode(r *http.Request, v any) *reply {
	body, rep := readBody(r)
	if rep != nil {
		return rep
	}
	return decodeBytes(body, v)
}

// readBody reads a body of at most the server's MaxBody bytes.
func readBody(r *http.Request) ([]byte, *reply) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, fail(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit))
	case err != nil:
		return nil, fail(http.StatusBadRequest, "unreadable_body", "the body could not be read: "+err.Error())
	}
	return body, nil
}

// decodeBytes reads a JSON body into v: one object and no unknown fields.
func decodeBytes(body []byte, v any) *reply {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		return fail(http.StatusBadRequest, "invalid_json", "the body is not what this route takes: "+jsonProblem(err))
	}
	return nil
}

// jsonProblem says what was wrong with a body, in a caller's words.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty; send a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + " (see /v1/openapi.json)"
	}
	return err.Error()
}
