package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// The checks of a fleet's configuration, shared by the command line and the
// Settings dialog, so that both say the same thing about the same mistake.

// Bounds of the lease's TTL.
const (
	MinTTL = 2 * time.Second
	MaxTTL = time.Minute
)

// ErrInvalidConfig is wrapped by the checks' errors.
var ErrInvalidConfig = errors.New("invalid fleet configuration")

// ParseEndpoints reads comma-separated etcd endpoints: http:// or https://
// URLs with a host and a port.
func ParseEndpoints(s string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "":
			return nil, fmt.Errorf("%w: %q is not an etcd endpoint: write it as http://host:2379", ErrInvalidConfig, raw)
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("%w: %q: an etcd endpoint starts with http:// or https://", ErrInvalidConfig, raw)
		case u.Port() == "":
			return nil, fmt.Errorf("%w: %q has no port: etcd's is usually 2379", ErrInvalidConfig, raw)
		case u.Path != "" && u.Path != "/":
			return nil, fmt.Errorf("%w: %q: an etcd endpoint has no path", ErrInvalidConfig, raw)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no etcd endpoint given", ErrInvalidConfig)
	}
	return out, nil
}

// CheckDatabaseURL checks the fleet's PostgreSQL URL.
func CheckDatabaseURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		return fmt.Errorf("%w: the database URL cannot be read: write it as postgres://user:password@host:5432/warden", ErrInvalidConfig)
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return fmt.Errorf("%w: the database URL starts with postgres://", ErrInvalidConfig)
	case u.Host == "":
		return fmt.Errorf("%w: the database URL names no host", ErrInvalidConfig)
	case strings.Trim(u.Path, "/") == "":
		return fmt.Errorf("%w: the database URL names no database (…/warden at the end)", ErrInvalidConfig)
	}
	return nil
}

// MaxNodeNameLen is the longest node name.
const MaxNodeNameLen = 64

// CheckNodeName checks a node's name: letters, digits, '-', '_' and '.',
// as in a host name.
func CheckNodeName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: the node name is empty", ErrInvalidConfig)
	case len(s) > MaxNodeNameLen:
		return fmt.Errorf("%w: the node name is longer than %d characters", ErrInvalidConfig, MaxNodeNameLen)
	}
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w: %q is not allowed in a node name: use letters, digits, '-', '_' and '.'", ErrInvalidConfig, r)
		}
	}
	return nil
}

// CheckTTL checks the lease's TTL.
func CheckTTL(d time.Duration) error {
	if d < MinTTL || d > MaxTTL || d%time.Second != 0 {
		return fmt.Errorf("%w: the lease's time is whole seconds from %v to %v", ErrInvalidConfig, MinTTL, MaxTTL)
	}
	return nil
}
