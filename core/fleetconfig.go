package core

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// The checks of a fleet's configuration: etcd's endpoints, the database, the
// node's name and the lease's time. The command line, the Settings dialog and
// the store all call these, so that they say the same thing about the same
// mistake, and none of them imports core/cluster to say it.

// Bounds of a fleet node's lease time (its TTL in etcd).
const (
	MinLeaseTTL = 2 * time.Second
	MaxLeaseTTL = time.Minute
)

// MaxNodeNameLen is the longest node name.
const MaxNodeNameLen = 64

// ErrInvalidFleet is wrapped by the checks' errors.
var ErrInvalidFleet = errors.New("invalid fleet configuration")

// ParseEtcdEndpoints reads comma-separated etcd endpoints: http:// or
// https:// URLs with a host and a port. It returns each as scheme://host:port.
func ParseEtcdEndpoints(s string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		shown := RedactURL(raw)
		switch {
		case err != nil || u.Host == "":
			return nil, fmt.Errorf("%w: %q is not an etcd endpoint: write it as http://host:2379", ErrInvalidFleet, shown)
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("%w: %q: an etcd endpoint starts with http:// or https://", ErrInvalidFleet, shown)
		case u.Port() == "":
			return nil, fmt.Errorf("%w: %q has no port: etcd's is usually 2379", ErrInvalidFleet, shown)
		case u.Path != "" && u.Path != "/":
			return nil, fmt.Errorf("%w: %q: an etcd endpoint has no path", ErrInvalidFleet, shown)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no etcd endpoint given", ErrInvalidFleet)
	}
	return out, nil
}

// CheckDatabaseURL checks the fleet's PostgreSQL URL.
func CheckDatabaseURL(s string) error {
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		return fmt.Errorf("%w: the database URL cannot be read: write it as postgres://user:password@host:5432/warden", ErrInvalidFleet)
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return fmt.Errorf("%w: the database URL starts with postgres://", ErrInvalidFleet)
	case u.Host == "":
		return fmt.Errorf("%w: the database URL names no host", ErrInvalidFleet)
	case strings.Trim(u.Path, "/") == "":
		return fmt.Errorf("%w: the database URL names no database (…/warden at the end)", ErrInvalidFleet)
	}
	return nil
}

// CheckNodeName checks a fleet node's name: letters, digits, '-', '_' and
// '.', as in a host name.
func CheckNodeName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: the node name is empty", ErrInvalidFleet)
	case len(s) > MaxNodeNameLen:
		return fmt.Errorf("%w: the node name is longer than %d characters", ErrInvalidFleet, MaxNodeNameLen)
	}
	for _, r := range s {
		if !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%w: %q is not allowed in a node name: use letters, digits, '-', '_' and '.'", ErrInvalidFleet, r)
		}
	}
	return nil
}

// CheckLeaseTTL checks a fleet node's lease time: whole seconds from
// MinLeaseTTL to MaxLeaseTTL.
func CheckLeaseTTL(d time.Duration) error {
	if d < MinLeaseTTL || d > MaxLeaseTTL || d%time.Second != 0 {
		return fmt.Errorf("%w: the lease's time is whole seconds from %v to %v", ErrInvalidFleet, MinLeaseTTL, MaxLeaseTTL)
	}
	return nil
}
