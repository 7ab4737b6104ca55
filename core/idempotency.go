package core

import "time"

// IdempotentReply is the HTTP API's answer to a request that carried an
// Idempotency-Key, as the stores keep it: a retry of the request, even one
// that reaches a restarted Warden (or, in a fleet, another node), gets this
// answer instead of doing the request again. It lives in core so that the
// stores keep it without importing core/api, which makes and reads it.
type IdempotentReply struct {
	// Request is a hash of what identifies the request (for a send, its
	// recipient and text): a request under the same key with another
	// content is refused, not answered with this.
	Request     []byte    `json:"request"`
	Status      int       `json:"status"`
	ContentType string    `json:"content_type"`
	Body        []byte    `json:"body"`
	RetryAfter  int       `json:"retry_after,omitempty"`
	At          time.Time `json:"at"` // when the answer was made: it expires from then
}
