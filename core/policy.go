package core

import (
	"errors"
	"fmt"
	"time"
)

// Backoff is one row of the reconnect schedule: attempts up to and including
// UpTo wait Delay. The last row applies to every attempt after it as well.
type Backoff struct {
	UpTo  int           `json:"up_to"`
	Delay time.Duration `json:"delay"`
}

// Policy holds every tunable of the state machine. The Settings dialog edits it;
// Manager.SetPolicy applies it live.
type Policy struct {
	// Schedule is the reconnect table; Jitter a fraction (0.1 = up to 10 %) added
	// on top, so a delay is never below the table's value.
	Schedule []Backoff `json:"schedule"`
	Jitter   float64   `json:"jitter"`
	// StableAfter is how long a connection must last before the attempt counter
	// resets: a brief connect must not reset it.
	StableAfter time.Duration `json:"stable_after"`

	// The conflict breaker. On a conflict (Replaced), Warden takes the account
	// over once after TakeoverDelay if there were fewer than ConflictLimit
	// conflicts in the last ConflictWindow, counting this one; otherwise it parks
	// the account in Replaced until the operator acts. With TakeoverOff it never
	// takes over by itself: every conflict parks.
	ConflictLimit  int           `json:"conflict_limit"`
	ConflictWindow time.Duration `json:"conflict_window"`
	TakeoverDelay  time.Duration `json:"takeover_delay"`
	TakeoverOff    bool          `json:"takeover_off"`

	// ZombieAfter: keepalives failing for this long close the session and
	// reconnect through the schedule.
	ZombieAfter time.Duration `json:"zombie_after"`

	// LoginTimeout bounds Connecting: a session that has not logged in this
	// long after its dial, or after its pairing, is closed and retried
	// through the schedule. Zero means DefaultLoginTimeout (a policy saved
	// before the field existed has none).
	LoginTimeout time.Duration `json:"login_timeout,omitempty"`

	// StartSpread is the gap between two accounts' first dials at start-up;
	// the whole start-up is capped at StartWindow.
	StartSpread time.Duration `json:"start_spread"`
	StartWindow time.Duration `json:"start_window"`

	// SelfCheckEvery is how often each Connected account sends a test message
	// to its own number, to prove it can deliver; zero turns the check off. A
	// failed check is a timeline event and never reconnects by itself.
	SelfCheckEvery time.Duration `json:"self_check_every,omitempty"`
}

// DefaultLoginTimeout is the login timeout of DefaultPolicy. It is the sum of
// the bounds on each step of a dial that reports its own failure: 30 s to
// open the TCP connection (net/http's dialer), 10 s for TLS, 20 s for
// whatsmeow's Noise handshake. So the timer never cuts short a dial that
// would fail with its own, more precise error. It only catches what has no
// bound of its own: a websocket upgrade that is never answered, a login
// WhatsApp never answers, a restart after pairing that never logs in. A
// login on a sound connection takes a few seconds.
const DefaultLoginTimeout = 60 * time.Second

// MinSelfCheckEvery is the shortest self-check interval: a message to the
// account's own number shows on the phone, and WhatsApp frowns on chatty
// clients.
const MinSelfCheckEvery = 10 * time.Minute

// DefaultPolicy returns the seed's policy: 3 s, then 5 s for attempts 2–5, 10 s
// for 6–15 and 30 s after that, with up to 10 % jitter; one takeover after 30 s
// unless a second conflict came within 10 minutes; zombie after 3 minutes; a
// login timeout of 60 s.
func DefaultPolicy() Policy {
	return Policy{
		Schedule: []Backoff{
			{UpTo: 1, Delay: 3 * time.Second},
			{UpTo: 5, Delay: 5 * time.Second},
			{UpTo: 15, Delay: 10 * time.Second},
			{UpTo: 16, Delay: 30 * time.Second},
		},
		Jitter:         0.1,
		StableAfter:    60 * time.Second,
		ConflictLimit:  2,
		ConflictWindow: 10 * time.Minute,
		TakeoverDelay:  30 * time.Second,
		ZombieAfter:    3 * time.Minute,
		LoginTimeout:   DefaultLoginTimeout,
		StartSpread:    250 * time.Millisecond,
		StartWindow:    10 * time.Second,
	}
}

// loginTimeout returns LoginTimeout, or its default when zero.
func (p Policy) loginTimeout() time.Duration {
	if p.LoginTimeout <= 0 {
		return DefaultLoginTimeout
	}
	return p.LoginTimeout
}

// Delay returns the table delay before attempt n (1-based), without jitter.
func (p Policy) Delay(n int) time.Duration {
	if len(p.Schedule) == 0 {
		return 0
	}
	for _, b := range p.Schedule {
		if n <= b.UpTo {
			return b.Delay
		}
	}
	return p.Schedule[len(p.Schedule)-1].Delay
}

// JitteredDelay returns Delay(n) plus jitter, where r in [0,1) picks how much.
func (p Policy) JitteredDelay(n int, r float64) time.Duration {
	return addJitter(p.Delay(n), p.Jitter, r)
}

func addJitter(d time.Duration, jitter, r float64) time.Duration {
	if jitter <= 0 || r <= 0 {
		return d
	}
	if r >= 1 {
		r = 0.999999
	}
	return d + time.Duration(float64(d)*jitter*r)
}

// ErrInvalidPolicy is wrapped by every Policy.Validate error.
var ErrInvalidPolicy = errors.New("invalid policy")

// Validate checks a policy and names the first bad field.
func (p Policy) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...))
	}
	if len(p.Schedule) == 0 {
		return bad("the reconnect schedule is empty")
	}
	prevUpTo, prevDelay := 0, time.Duration(0)
	for i, b := range p.Schedule {
		if b.UpTo <= prevUpTo {
			return bad("schedule row %d: attempts must increase (after %d, got %d)", i+1, prevUpTo, b.UpTo)
		}
		if b.Delay <= 0 {
			return bad("schedule row %d: the delay must be positive", i+1)
		}
		if b.Delay < prevDelay {
			return bad("schedule row %d: delays must not decrease (%s after %s)", i+1, b.Delay, prevDelay)
		}
		prevUpTo, prevDelay = b.UpTo, b.Delay
	}
	switch {
	case p.Jitter < 0 || p.Jitter > 1:
		return bad("jitter must be between 0 and 100 %%")
	case p.StableAfter <= 0:
		return bad("the stable time must be positive")
	case p.ConflictLimit < 1:
		return bad("the conflict limit must be at least 1")
	case p.ConflictWindow <= 0:
		return bad("the conflict window must be positive")
	case p.TakeoverDelay <= 0:
		return bad("the takeover delay must be positive")
	case p.ZombieAfter <= 0:
		return bad("the zombie threshold must be positive")
	case p.LoginTimeout < 0:
		return bad("the login timeout must not be negative (zero means %s)", DefaultLoginTimeout)
	case p.StartSpread < 0 || p.StartWindow < 0:
		return bad("the start-up spread must not be negative")
	case p.SelfCheckEvery < 0 || (p.SelfCheckEvery > 0 && p.SelfCheckEvery < MinSelfCheckEvery):
		return bad("the self-check runs at most once per %s (or is off)", MinSelfCheckEvery)
	}
	return nil
}
