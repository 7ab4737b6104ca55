package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Accounts made elsewhere (File › Import accounts…). Such an account is
// checked here as the stores will check it, before anything is written, so
// that an import is refused whole rather than failing halfway; and an
// import's accounts are added all together or not at all.

// MaxAccountIDLen bounds an account's ID, in bytes: IDs are keys in the
// stores (bbolt's keys and bucket names, PostgreSQL's rows).
const MaxAccountIDLen = 256

// ErrInvalidAccount is wrapped by ValidateAccount's errors.
var ErrInvalidAccount = errors.New("invalid account")

// ValidateAccountID checks an account's ID as the stores will: not empty, at
// most MaxAccountIDLen bytes, and text that PostgreSQL keeps, which holds no
// zero byte and only UTF-8. Warden's own IDs are "a" and 12 hex digits.
func ValidateAccountID(id AccountID) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidAccount, fmt.Sprintf(format, args...))
	}
	switch {
	case id == "":
		return bad("the account has no ID")
	case len(id) > MaxAccountIDLen:
		return bad("its ID is longer than %d bytes", MaxAccountIDLen)
	case id[0] == 0:
		return bad("its ID starts with a zero byte")
	case strings.IndexByte(string(id), 0) >= 0:
		return bad("its ID holds a zero byte")
	case !utf8.ValidString(string(id)):
		return bad("its ID is not valid text (UTF-8)")
	}
	return nil
}

// ValidateJID checks a WhatsApp device JID as whatsmeow reads it,
// "user[.agent][:device]@server", without the wrap-around of whatsmeow's
// parser, which reads device 65537 as device 1: the agent is a number from 0
// to 255, the device one from 0 to 65535. "" (not paired) is valid.
func ValidateJID(jid string) error {
	if jid == "" {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: its WhatsApp device %.80q %s", ErrInvalidAccount, jid, fmt.Sprintf(format, args...))
	}
	if !utf8.ValidString(jid) || strings.IndexFunc(jid, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: its WhatsApp device is not valid text", ErrInvalidAccount)
	}
	user, server, ok := strings.Cut(jid, "@")
	if !ok || user == "" || server == "" || strings.Contains(server, "@") {
		return bad("is not a device address (user:device@server)")
	}
	user, device, hasDevice := strings.Cut(user, ":")
	user, agent, hasAgent := strings.Cut(user, ".")
	if user == "" || strings.ContainsAny(device, ".:") || strings.ContainsAny(agent, ".:") {
		return bad("is not a device address (user:device@server)")
	}
	if hasAgent {
		if _, err := strconv.ParseUint(agent, 10, 8); err != nil {
			return bad("has agent %.20q, not a number from 0 to 255", agent)
		}
	}
	if hasDevice {
		if _, err := strconv.ParseUint(device, 10, 16); err != nil {
			if n, err := strconv.ParseUint(device, 10, 64); err == nil && n > 65535 {
				return bad("has device number %d; WhatsApp's device numbers go up to 65535", n)
			}
			return bad("has device number %.20q, not a number from 0 to 65535", device)
		}
	}
	return nil
}

// ValidateAccount checks an account made elsewhere as AddExisting and the
// stores will: its ID (ValidateAccountID), name (ValidateName), WhatsApp
// device (ValidateJID), proxy (NormalizeProxy) and creation time, which the
// stores keep in UTC as RFC 3339, so within the years 0 to 9999. It returns
// the account with its name trimmed and its proxy in canonical form. An
// empty ID and a zero CreatedAt are valid: AddExisting fills them in.
func ValidateAccount(a Account) (Account, error) {
	name, err := ValidateName(a.Name)
	if err != nil {
		return Account{}, err
	}
	a.Name = name
	if a.ID != "" {
		if err := ValidateAccountID(a.ID); err != nil {
			return Account{}, err
		}
	}
	if err := ValidateJID(a.JID); err != nil {
		return Account{}, err
	}
	if a.Proxy, err = NormalizeProxy(a.Proxy); err != nil {
		return Account{}, err
	}
	if y := a.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		return Account{}, fmt.Errorf("%w: its creation time %s is not in the years 0 to 9999 (UTC)", ErrInvalidAccount, a.CreatedAt.Format(time.RFC3339))
	}
	return a, nil
}

// ErrDuplicateAccount is wrapped by AddExisting for an account whose
// WhatsApp device is already here.
var ErrDuplicateAccount = errors.New("this WhatsApp account is already in Warden")

// AddExisting adds an account made elsewhere (an import), with its name,
// JID, proxy and creation time; its device keys must be in the dialer's store
// already. It keeps the account's ID unless one here has it. It is refused,
// wrapping ErrDuplicateAccount, when an account here has the same JID. The
// account starts when its AutoStart is set.
func (m *Manager) AddExisting(ctx context.Context, acct Account) (Account, error) {
	added, err := m.AddAllExisting(ctx, []Account{acct})
	if len(added) == 1 {
		return added[0], err
	}
	return Account{}, err
}

// AddAllExisting adds accounts made elsewhere, as AddExisting does, all of
// them or none: each is checked (ValidateAccount, and no device twice or
// here already) before any is stored, and when the store refuses one, those
// stored before it are deleted again. It returns the accounts as added, with
// their IDs; it can return them with an error when starting them failed.
func (m *Manager) AddAllExisting(ctx context.Context, accts []Account) ([]Account, error) {
	out := make([]Account, len(accts))
	for i, acct := range accts {
		a, err := ValidateAccount(acct)
		if err != nil {
			if len(accts) > 1 {
				err = fmt.Errorf("%s: %w", label(acct, i), err)
			}
			return nil, err
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = m.now().UTC().Truncate(time.Millisecond)
		}
		out[i] = a
	}
	return m.register(ctx, out, "account imported")
}

// label names the i-th account of several in an error: by its name, or by
// its place when it has no valid name.
func label(a Account, i int) string {
	if name, err := ValidateName(a.Name); err == nil {
		return strconv.Quote(name)
	}
	return fmt.Sprintf("account %d", i+1)
}
