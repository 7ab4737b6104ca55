package outbox_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"warden/core/outbox"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"a:m1","type":"message.received","account":"a","time":"2026-01-01T00:00:00Z","data":{}}`)
	signed := func(secret string, at time.Time) http.Header {
		h := http.Header{}
		outbox.Sign(h, secret, "a:m1", at, body)
		return h
	}
	now := time.Now()
	cases := []struct {
		name   string
		header http.Header
		body   []byte
		want   error
	}{
		{"good", signed("s3cret", now), body, nil},
		{"another secret", signed("other", now), body, outbox.ErrBadSignature},
		{"body changed", signed("s3cret", now), append([]byte(" "), body...), outbox.ErrBadSignature},
		{"too old", signed("s3cret", now.Add(-time.Hour)), body, outbox.ErrStale},
		{"unsigned", http.Header{}, body, outbox.ErrNoSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := outbox.Verify("s3cret", c.header, c.body, 5*time.Minute); !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

// A webhook's URL is http or https, with a host, without credentials or a
// fragment; plain http to another machine is flagged, not refused.
func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		bad     string // "" when valid
		warning bool
	}{
		{"https://crm.example.com/warden?token=x", "", false},
		{"http://127.0.0.1:8080/hook", "", false},
		{"http://[::1]:8080/hook", "", false},
		{"http://localhost/hook", "", false},
		{"http://192.0.2.10/hook", "", true},
		{"http://crm.internal/hook", "", true},
		{"", "give the receiver's URL", false},
		{"crm.example.com/warden", "http:// or https://", false},
		{"ftp://example.com/x", "http:// or https://", false},
		{"https:///x", "no host", false},
		{"https://:443/x", "no host", false},
		{"https://user:pw@example.com/x", "user or password", false},
		{"https://user@example.com/x", "user or password", false},
		{"https://example.com/x#frag", "fragment", false},
		{"https://example.com/x#", "fragment", false},
		{"http://[::1", "not a URL", false},
		{"https://example.com/" + strings.Repeat("x", outbox.MaxURL), "at most 2048", false},
	} {
		err := outbox.CheckURL(tc.url)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want valid", tc.url, err)
		case tc.bad != "" && (!errors.Is(err, outbox.ErrInvalidWebhook) || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("CheckURL(%q) = %v, want ErrInvalidWebhook saying %q", tc.url, err, tc.bad)
		}
		if tc.bad == "" {
			if warn := outbox.URLWarning(tc.url); (warn != "") != tc.warning {
				t.Errorf("URLWarning(%q) = %q, want a warning: %v", tc.url, warn, tc.warning)
			}
		}
	}
}
