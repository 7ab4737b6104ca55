package logbook

import (
	"log/slog"

	"warden/core"
)

// Scope is what a slog handler's WithAttrs and WithGroup add up to, read the
// way Warden's logs read records: an "account" attribute outside any group
// picks the account, every other attribute becomes a "group.key" = value
// pair. The Book and the store's log handler both use it.
type Scope struct {
	Account core.AccountID // from WithAttrs
	attrs   []kv           // from WithAttrs, flattened
	prefix  string         // from WithGroup: "a.b."
}

type kv struct{ key, value string }

// With returns the scope with as added, as slog.Handler.WithAttrs does.
func (s Scope) With(as []slog.Attr) Scope {
	s2 := s
	s2.attrs = append([]kv(nil), s.attrs...)
	for _, a := range as {
		if s.prefix == "" && a.Key == AccountKey {
			s2.Account = core.AccountID(a.Value.Resolve().String())
			continue
		}
		s2.attrs = flatten(s2.attrs, s.prefix, a)
	}
	return s2
}

// Group returns the scope inside group name, as slog.Handler.WithGroup does.
func (s Scope) Group(name string) Scope {
	if name != "" {
		s.prefix += name + "."
	}
	return s
}

// Read returns a record's account (the scope's unless the record names one)
// and its attributes with the scope's, nil when there are none.
func (s Scope) Read(r slog.Record) (core.AccountID, map[string]string) {
	account := s.Account
	var attrs []kv
	r.Attrs(func(a slog.Attr) bool {
		if s.prefix == "" && a.Key == AccountKey {
			account = core.AccountID(a.Value.Resolve().String())
			return true
		}
		attrs = flatten(attrs, s.prefix, a)
		return true
	})
	n := len(s.attrs) + len(attrs)
	if n == 0 {
		return account, nil
	}
	out := make(map[string]string, n)
	for _, a := range s.attrs {
		out[a.key] = a.value
	}
	for _, a := range attrs {
		out[a.key] = a.value
	}
	return account, out
}

// flatten appends a's key/value pairs, groups spelled "group.key".
func flatten(out []kv, prefix string, a slog.Attr) []kv {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return out
	}
	if a.Value.Kind() != slog.KindGroup {
		return append(out, kv{prefix + a.Key, a.Value.String()})
	}
	if a.Key != "" {
		prefix += a.Key + "."
	}
	for _, g := range a.Value.Group() {
		out = flatten(out, prefix, g)
	}
	return out
}
