package api

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"warden/core"
)

// admit checks the request's key, its rate limit and its rights on the
// route. It returns the key, and a reply when the request is refused.
func (s *Server) admit(r *http.Request, rt Route) (core.APIKey, *reply) {
	k, rep := s.authenticate(r)
	if rep != nil {
		return k, rep
	}
	now := s.now()
	if wait, allowed := s.limits.take(k.ID, now); !allowed {
		rep := fail(http.StatusTooManyRequests, "rate_limited", "this API key made too many requests; retry after "+wait.String())
		return k, withRetryAfter(rep, wait)
	}
	s.touch.used(r.Context(), k, now)
	if rt.Write && k.ReadOnly {
		return k, fail(http.StatusForbidden, "read_only", "this API key is read-only: it cannot "+rt.Summary)
	}
	if id := r.PathValue("id"); strings.Contains(rt.Path, "{id}") && !k.Allows(core.AccountID(id)) {
		return k, fail(http.StatusForbidden, "account_not_allowed", "this API key is not allowed to use account "+id)
	}
	return k, nil
}

// authenticate finds the key of the Authorization header.
func (s *Server) authenticate(r *http.Request) (core.APIKey, *reply) {
	unauthorized := func(code, msg string) *reply {
		return fail(http.StatusUnauthorized, code, msg)
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return core.APIKey{}, unauthorized("missing_key", "send an API key: Authorization: Bearer wdn_… (create one with: warden api-key create --name NAME)")
	}
	id, secret, err := ParseToken(strings.TrimSpace(token))
	if err != nil {
		return core.APIKey{}, unauthorized("invalid_key", err.Error())
	}
	k, err := s.keys.APIKey(r.Context(), id)
	switch {
	case errors.Is(err, core.ErrUnknownAPIKey) || err == nil && !matches(k, secret):
		return core.APIKey{}, unauthorized("invalid_key", "this API key is not known to Warden")
	case err != nil:
		s.log.Error("api: reading an API key failed", "key_id", id, "err", err)
		return core.APIKey{}, fail(http.StatusServiceUnavailable, "keys_unavailable", "Warden could not read its API keys; its log says why")
	case !k.Revoked.IsZero():
		return core.APIKey{}, unauthorized("revoked_key", "this API key was revoked on "+k.Revoked.Format(time.RFC3339))
	}
	return k, nil
}

// withRetryAfter adds a Retry-After of wait, rounded up to a second.
func withRetryAfter(rep *reply, wait time.Duration) *reply {
	rep.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
	return rep
}

// RateLimit is a token bucket: PerSecond requests a second on average,
// Burst at once.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// DefaultRateLimit is each key's limit unless configured: ample for a
// business's software, short of what would flood the accounts.
var DefaultRateLimit = RateLimit{PerSecond: 20, Burst: 40}

// limiter keeps a token bucket per key.
type limiter struct {
	rate RateLimit

	mu sync.Mutex
	// mu guards the following
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// newLimiter returns a limiter of rate (DefaultRateLimit if unset).
func newLimiter(rate RateLimit) *limiter {
	if rate.PerSecond <= 0 || rate.Burst <= 0 {
		rate = DefaultRateLimit
	}
	return &limiter{rate: rate, buckets: make(map[string]*bucket)}
}

// take takes a token of the key's bucket, or says how long until one.
func (l *limiter) take(id string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		b = &bucket{tokens: float64(l.rate.Burst), at: now}
		l.buckets[id] = b
	}
	b.tokens = min(float64(l.rate.Burst), b.tokens+now.Sub(b.at).Seconds()*l.rate.PerSecond)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate.PerSecond * float64(time.Second)), false
}

// touchEvery is how often a key's last use is written: at most once a
// minute, so that a busy key does not write the store on every request.
const touchEvery = time.Minute

// toucher records the keys' last use.
type toucher struct {
	keys KeyStore
	log  *slog.Logger

	mu sync.Mutex
	// mu guards the following: when each key's use was last written.
	last map[string]time.Time
}

// used records the use of k at now, unless it was recorded less than
// touchEvery ago. The write is the request's: a failure is logged and
// the request goes on.
func (t *toucher) used(ctx context.Context, k core.APIKey, now time.Time) {
	t.mu.Lock()
	last := t.last[k.ID]
	if k.LastUsed.After(last) {
		last = k.LastUsed
	}
	due := now.Sub(last) >= touchEvery
	if due {
		t.last[k.ID] = now
	}
	t.mu.Unlock()
	if !due {
		return
	}
	if err := t.keys.TouchAPIKey(ctx, k.ID, now.Truncate(time.Minute)); err != nil {
		t.log.Warn("api: recording an API key's last use failed", "key", k.Name, "err", err)
	}
}
