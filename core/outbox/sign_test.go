package outbox_test

import (
	"errors"
	"net/http"
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
