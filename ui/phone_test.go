package ui

import (
	"strings"
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string // a part of the error message
	}{
		{"+1 555 123 4567", "15551234567", ""},
		{"+49 (151) 123-45678", "4915112345678", ""},
		{"  447700900123 ", "447700900123", ""},
		{"+44.7700.900.123", "447700900123", ""},
		{"12345678", "12345678", ""},
		{"123456789012345", "123456789012345", ""},
		{"", "", "country code"},
		{"   ", "", "country code"},
		{"+", "", "country code"},
		{"07700 900123", "", "not 0"},
		{"0044 7700 900123", "", `leave out the "00"`},
		{"+1 555 CALL NOW", "", `'C' is not allowed`},
		{"1+555", "", `"+" may only come first`},
		{"+1 555 12", "", "too short"},
		{"1234567", "", "7 digits is too short"},
		{"1234567890123456", "", "16 digits is too long"},
	}
	for _, tt := range tests {
		got, err := normalizePhone(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("normalizePhone(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("normalizePhone(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
		}
	}
}
