package store

import (
	"encoding/json"
	"math"
	"time"

	"warden/core"
)

// decodeEvent reads a stored event. Reading a timeline is dominated by JSON
// decoding, so the flat objects encodeEvents writes are scanned by hand; any
// other shape (escapes, spaces, unknown keys) goes to encoding/json, which has
// the last word on what is valid.
func decodeEvent(v []byte, r *eventRecord) error {
	if scanEvent(v, r) {
		return nil
	}
	*r = eventRecord{}
	return json.Unmarshal(v, r)
}

// knownCauses interns the usual causes, so reading them allocates nothing.
var knownCauses = func() map[string]string {
	m := make(map[string]string)
	for _, c := range []string{core.CauseConnect, core.CauseDisconnect, core.CauseLogout, core.CauseDelete,
		core.CauseTimer, core.CauseDialFailed, core.CauseZombie, core.CauseStale, core.CauseSkipped,
		core.CauseStartup, core.CauseShutdown, core.CauseLogoutError} {
		m[c] = c
	}
	for k := core.SessionConnected; k <= core.SessionQRTimeout; k++ {
		m[k.String()] = k.String()
	}
	return m
}()

// scanEvent decodes v if it is a flat object of plain strings and integers
// with the keys of eventRecord, and reports whether it did.
func scanEvent(v []byte, r *eventRecord) bool {
	*r = eventRecord{}
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return false
	}
	p := 1
	if v[p] == '}' {
		return p == len(v)-1
	}
	for {
		key, next, ok := scanString(v, p)
		if !ok || next >= len(v) || v[next] != ':' {
			return false
		}
		p = next + 1
		switch string(key) {
		case "at", "from", "to", "cause", "reason", "message_id":
			s, next, ok := scanString(v, p)
			if !ok {
				return false
			}
			p = next
			switch string(key) {
			case "at":
				if r.At.UnmarshalText(s) != nil {
					return false
				}
			case "from":
				if r.From.UnmarshalText(s) != nil {
					return false
				}
			case "to":
				if r.To.UnmarshalText(s) != nil {
					return false
				}
			case "cause":
				if c, ok := knownCauses[string(s)]; ok {
					r.Cause = c
				} else {
					r.Cause = string(s)
				}
			case "reason":
				r.Reason = string(s)
			case "message_id":
				r.MessageID = string(s)
			}
		case "attempt", "delay", "latency", "token":
			n, next, ok := scanInt(v, p)
			if !ok || (key[0] == 'a' && (n < math.MinInt || n > math.MaxInt)) {
				return false
			}
			p = next
			switch key[0] {
			case 'a':
				r.Attempt = int(n)
			case 'd':
				r.Delay = time.Duration(n)
			case 't':
				r.Token = n
			default:
				r.Latency = time.Duration(n)
			}
		case "epoch":
			n, next, ok := scanUint(v, p)
			if !ok {
				return false
			}
			p, r.Epoch = next, n
		default:
			return false
		}
		switch {
		case p >= len(v):
			return false
		case v[p] == '}':
			return p == len(v)-1
		case v[p] == ',':
			p++
		default:
			return false
		}
	}
}

// scanString reads a JSON string without escapes at v[p] and returns its
// contents and the index after its closing quote.
func scanString(v []byte, p int) (s []byte, next int, ok bool) {
	if p >= len(v) || v[p] != '"' {
		return nil, 0, false
	}
	for i := p + 1; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return v[p+1 : i], i + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, 0, false // escapes and non-ASCII (which may be invalid UTF-8) go to encoding/json
		}
	}
	return nil, 0, false
}

// scanUint reads a JSON unsigned integer (no leading zeros, no fraction).
func scanUint(v []byte, p int) (n uint64, next int, ok bool) {
	i := p
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := uint64(v[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, 0, false
		}
		n = n*10 + d
	}
	switch {
	case i == p, v[p] == '0' && i-p > 1:
		return 0, 0, false
	case i < len(v) && (v[i] == '.' || v[i] == 'e' || v[i] == 'E'):
		return 0, 0, false
	}
	return n, i, true
}

// scanInt reads a JSON integer that fits an int64.
func scanInt(v []byte, p int) (n int64, next int, ok bool) {
	neg := p < len(v) && v[p] == '-'
	if neg {
		p++
	}
	u, next, ok := scanUint(v, p)
	switch {
	case !ok:
		return 0, 0, false
	case neg && u <= 1<<63:
		return -int64(u), next, true
	case !neg && u <= math.MaxInt64:
		return int64(u), next, true
	}
	return 0, 0, false
}
