package outbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery. A delivery is an HTTP POST of one event's JSON
// (Content-Type application/json) with:
//
//	Warden-Event-Id:  the event's ID; the same on every attempt, so that a
//	                  receiver drops a repeat by it (delivery is at least once)
//	Warden-Timestamp: when the attempt was signed, in Unix seconds
//	Warden-Signature: v1=<hex of HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the signature over the raw body it read, compares it
// in constant time, and refuses a timestamp too far from its clock, which
// stops a recorded delivery from being replayed later. Verify does all that;
// it has no dependency but the standard library, to be copied as it is.
const (
	HeaderEventID   = "Warden-Event-Id"
	HeaderTimestamp = "Warden-Timestamp"
	HeaderSignature = "Warden-Signature"
)

// signatureVersion prefixes the signature: a later scheme gets another.
const signatureVersion = "v1="

// Errors Verify returns.
var (
	ErrNoSignature  = errors.New("the request is not signed")
	ErrBadSignature = errors.New("the signature does not match the body")
	ErrStale        = errors.New("the timestamp is outside the tolerance")
)

// Sign sets the headers of a delivery of the event id with body, signed at
// t with secret.
func Sign(h http.Header, secret, id string, t time.Time, body []byte) {
	ts := strconv.FormatInt(t.Unix(), 10)
	h.Set("Content-Type", "application/json")
	h.Set(HeaderEventID, id)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, signatureVersion+signature(secret, ts, body))
}

// signature returns the hex HMAC-SHA256 of timestamp "." body.
func signature(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery a receiver got: header is the request's headers,
// body its raw body. It returns nil when the signature is the secret's and
// the timestamp is within tolerance of the receiver's clock (a tolerance of
// 0 or less skips that check; 5 minutes is a sound one).
func Verify(secret string, header http.Header, body []byte, tolerance time.Duration) error {
	ts, sig := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrNoSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", ts, ErrNoSignature)
	}
	got, ok := strings.CutPrefix(sig, signatureVersion)
	want := signature(secret, ts, body)
	if !ok || !hmac.Equal([]byte(got), []byte(want)) {
		return ErrBadSignature
	}
	if tolerance > 0 {
		if d := time.Since(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("signed %s ago: %w", d.Round(time.Second), ErrStale)
		}
	}
	return nil
}
