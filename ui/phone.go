package ui

import (
	"errors"
	"strings"

	"warden/core"
)

// normalizePhone checks a phone number typed for phone-code pairing with
// core.NormalizePhone, the one set of rules, and returns its digits or the
// error in the form's words (without the sentinel's prefix).
func normalizePhone(in string) (string, error) {
	digits, err := core.NormalizePhone(in)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), core.ErrInvalidPhone.Error()+": "))
	}
	return digits, nil
}
