package api

import (
	"net/http"
)

// What an Extension's handlers use to answer like the API's own routes: the
// same JSON, the same errors, the same strict reading of bodies.

// WriteJSON answers v as JSON with the status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeReply(w, ok(status, v))
}

// WriteError answers an error: {"error": {"code", "message"}}, code for
// programs, message for people.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	writeReply(w, fail(status, code, message))
}

// DecodeBody reads the request's JSON body into v as the API's routes do:
// one object, no unknown field, at most the server's MaxBody bytes. When the
// body is not that, it answers the error (400 or 413) and returns false.
func DecodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if rep := decode(r, v); rep != nil {
		writeReply(w, rep)
		return false
	}
	return true
}
