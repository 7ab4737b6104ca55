package ui

import (
	"errors"
	"fmt"
	"strings"
)

// normalizePhone checks a phone number typed for phone-code pairing and
// returns its digits: international format, country code first. Spaces,
// dashes, dots, parentheses and one leading "+" are allowed and dropped.
func normalizePhone(in string) (string, error) {
	s := strings.TrimSpace(in)
	if s == "" {
		return "", errors.New("enter the phone number with its country code, for example +1 555 123 4567")
	}
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		case r == '+':
			return "", errors.New(`"+" may only come first, before the country code`)
		default:
			return "", fmt.Errorf("%q is not allowed: use digits only, with the country code first", r)
		}
	}
	digits := b.String()
	switch {
	case digits == "":
		return "", errors.New("enter the phone number with its country code, for example +1 555 123 4567")
	case strings.HasPrefix(digits, "00"):
		return "", errors.New(`leave out the "00": start with the country code, for example 44 7700 900123`)
	case digits[0] == '0':
		return "", errors.New("start with the country code, not 0: for example +44 7700 900123 instead of 07700 900123")
	case len(digits) < 8:
		return "", fmt.Errorf("%d digits is too short: a number with its country code has 8 to 15 digits", len(digits))
	case len(digits) > 15:
		return "", fmt.Errorf("%d digits is too long: a number with its country code has at most 15 digits", len(digits))
	}
	return digits, nil
}
