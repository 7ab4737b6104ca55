package core

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redaction. Warden shows and logs the connection strings an operator gives
// it (the fleet's database, etcd's endpoints, proxies) without their
// secrets. A secret can sit in a URL's userinfo (postgres://u:secret@h), in
// a URL's query (?password=secret, ?sslpassword=secret), or in a
// keyword=value DSN (password='se cret'), and pgx (like libpq) and net/url
// read the same URL differently when a password holds '@', '/', '?' or '#':
// what either of them, or pgx's own error text, could take for a secret is
// hidden. A parameter is taken for a secret when its name says so (see
// secretName), conservatively: a path such as passfile or sslkey is hidden
// too, which costs a log line little.

// secretWords are the parts of a parameter's name that mark it a secret.
var secretWords = []string{"pass", "pwd", "secret", "token", "key", "auth", "cred"}

// secretName reports whether a parameter of that name may hold a secret.
func secretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// RedactURL shows a connection string without its secrets, for the window
// and the logs: a URL (a database's, an etcd endpoint's, a proxy's), a
// keyword=value DSN, or host:port. Secrets become "xxxxx", as in net/url's
// URL.Redacted.
func RedactURL(raw string) string { return redact(raw, "xxxxx") }

// RedactProxy is RedactURL for a proxy, which the window shows with "•••"
// for its password.
func RedactProxy(raw string) string { return redact(raw, "•••") }

// RedactError returns err with every secret of the connection string raw
// hidden from its text, for errors of libraries that quote what they were
// given (pgx quotes a DSN it cannot parse, and hides only the passwords it
// knows). It wraps err, so errors.Is and errors.As still see it.
func RedactError(err error, raw string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	// Longest first, so that a secret inside another goes with it.
	secrets := secretsOf(raw)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// minSecretLen is the shortest secret RedactError looks for in free text:
// a shorter one would match too much of an error's words.
const minSecretLen = 4

// secretsOf returns the secrets of raw as they might be quoted: as written,
// percent-decoded, and with a DSN's backslash escapes undone.
func secretsOf(raw string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLen && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	hide := hidden(raw)
	for i := 0; i < len(raw); {
		if !hide[i] {
			i++
			continue
		}
		j := i
		for j < len(raw) && hide[j] {
			j++
		}
		s := raw[i:j]
		add(s)
		if d, err := url.PathUnescape(s); err == nil {
			add(d)
		}
		if d, err := url.QueryUnescape(s); err == nil {
			add(d)
		}
		add(unescapeDSN(strings.Trim(s, "'")))
		i = j
	}
	return out
}

// redact replaces each run of hidden bytes of raw with mask.
func redact(raw, mask string) string {
	hide := hidden(raw)
	var b strings.Builder
	for i := 0; i < len(raw); {
		if !hide[i] {
			b.WriteByte(raw[i])
			i++
			continue
		}
		b.WriteString(mask)
		for i < len(raw) && hide[i] {
			i++
		}
	}
	return b.String()
}

// hidden marks the bytes of raw that may be a secret.
func hidden(raw string) []bool {
	h := hider{s: raw, hide: make([]bool, len(raw))}
	body := strings.TrimLeft(raw, asciiSpace)
	start := len(raw) - len(body)
	switch n := schemeLen(body); {
	case n > 0:
		// A list of URLs (etcd's endpoints): each on its own.
		base, from := start+n, start+n
		for _, m := range nextURL.FindAllStringIndex(raw[base:], -1) {
			h.url(from, base+m[0])
			from = base + m[1]
		}
		h.url(from, len(raw))
	case strings.Contains(raw, "="):
		h.keywords()
	default: // host:port, "direct", or user:password@host without a scheme
		h.userinfo(0, len(raw))
	}
	h.sweep()
	return h.hide
}

const asciiSpace = " \t\n\r\v\f"

// nextURL is where a comma-separated list of URLs goes on to the next.
var nextURL = regexp.MustCompile(`,\s*[A-Za-z][A-Za-z0-9+.-]*://`)

// schemeLen returns the length of s's "scheme://", or 0.
func schemeLen(s string) int {
	i := strings.Index(s, "://")
	if i < 1 {
		return 0
	}
	for j, r := range s[:i] {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return 0
		}
	}
	return i + 3
}

type hider struct {
	s    string
	hide []bool
}

func (h *hider) mark(from, to int) {
	for i := from; i < to; i++ {
		h.hide[i] = true
	}
}

// userinfo hides, in s[from:to], what lies between the first ':' and the
// last '@' after it: user:password@host written anywhere.
func (h *hider) userinfo(from, to int) {
	part := h.s[from:to]
	at := strings.LastIndexByte(part, '@')
	if c := strings.IndexByte(part, ':'); c >= 0 && c < at {
		h.mark(from+c+1, from+at)
	}
}

// url hides the secrets of the URL in s[start:end] whose authority starts
// at start, as pgx (libpq's rules) and net/url would each read it.
func (h *hider) url(start, end int) {
	p := h.s[start:end]

	// libpq: the userinfo ends at the first '@' before any '/'.
	rest := 0
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		if c := strings.IndexByte(p[:i], ':'); c >= 0 {
			h.mark(start+c+1, start+i)
		}
		rest = i + 1
	}
	if q := strings.IndexByte(p[rest:], '?'); q >= 0 {
		h.query(start+rest+q+1, end)
	}

	// net/url: the fragment and the query go first; the userinfo ends at
	// the authority's last '@'.
	auth, _, _ := strings.Cut(p, "#")
	auth, _, hasQuery := strings.Cut(auth, "?")
	if hasQuery {
		h.query(start+len(auth)+1, end)
	}
	auth, _, _ = strings.Cut(auth, "/")
	at := strings.LastIndexByte(auth, '@')
	if c := strings.IndexByte(auth, ':'); c >= 0 && c < at {
		h.mark(start+c+1, start+at)
	}

	// A password holding a '/' strands its '@' past the authority, where
	// neither reads it as one (postgres://u:pass/word@h/db). An '@' past
	// both readings' userinfo may be one: what lies from the first ':' to
	// it goes too. A URL with an '@' in its query loses more than it must.
	if last := strings.LastIndexByte(p, '@'); last > max(rest-1, at) {
		if c := strings.IndexByte(p, ':'); c >= 0 && c < last {
			h.mark(start+c+1, start+last)
		}
	}
}

// query hides the values of the secret parameters of the query in
// s[start:end] (to the URL's end: libpq has no fragment).
func (h *hider) query(start, end int) {
	off := start
	for _, pair := range strings.Split(h.s[start:end], "&") {
		if k, _, ok := strings.Cut(pair, "="); ok {
			name, err := url.PathUnescape(k)
			if err != nil {
				name = k
			}
			if secretName(name) {
				h.mark(off+len(k)+1, off+len(pair))
			}
		}
		off += len(pair) + 1
	}
}

// keywords hides the secret values of a keyword=value DSN, read as pgx
// reads one: values are bare (with backslash escapes) or single-quoted
// (with backslash escapes). Where it cannot be read, the rest is hidden.
func (h *hider) keywords() {
	s, i := h.s, 0
	skip := func() {
		for i < len(s) && strings.IndexByte(asciiSpace, s[i]) >= 0 {
			i++
		}
	}
	for skip(); i < len(s); skip() {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			h.mark(i, len(s))
			return
		}
		key := s[i : i+eq]
		i += eq + 1
		skip()
		from := i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) { // unterminated
				h.mark(from, len(s))
				return
			}
			i++ // the closing quote
		} else {
			for i < len(s) && strings.IndexByte(asciiSpace, s[i]) < 0 {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, len(s))
		}
		if secretName(key) {
			h.mark(from, i)
		} else {
			h.userinfo(from, i)
		}
	}
}

// unescapeDSN undoes a keyword=value DSN's backslash escapes.
func unescapeDSN(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// secretParam finds name=value anywhere, for the sweep: a name that says
// secret, then a quoted value (escapes and all) or a bare one up to a space
// or a '&'.
var secretParam = regexp.MustCompile(`(?i)[a-z0-9_.-]*(?:` + strings.Join(secretWords, "|") +
	`)[a-z0-9_.-]*\s*=\s*('(?:[^'\\]|\\.)*'?|(?:[^\s&\\]|\\.)*)`)

// sweep hides every name=value whose name says secret wherever it stands,
// also where the structure above found none (a query in a query, a
// malformed DSN).
func (h *hider) sweep() {
	for _, m := range secretParam.FindAllStringSubmatchIndex(h.s, -1) {
		h.mark(m[2], m[3])
	}
}
