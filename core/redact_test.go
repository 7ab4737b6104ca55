package core_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"warden/core"
)

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		// URLs: the userinfo's password.
		{"postgres://w:secret@db:5432/warden?sslmode=disable", "postgres://w:xxxxx@db:5432/warden?sslmode=disable"},
		{"postgres://w@db/warden", "postgres://w@db/warden"},
		{"postgres://w:secret@db/%zz", "postgres://w:xxxxx@db/%zz"},
		{"postgresql://w:s%40cret@[::1]:5432,db2:5433/warden", "postgresql://w:xxxxx@[::1]:5432,db2:5433/warden"},
		// URLs: the query's secrets.
		{"postgres://w@db/warden?password=secret", "postgres://w@db/warden?password=xxxxx"},
		{"postgres://w@db/warden?sslmode=verify-full&sslpassword=secret&sslkey=/k.pem&sslcert=/c.pem",
			"postgres://w@db/warden?sslmode=verify-full&sslpassword=xxxxx&sslkey=xxxxx&sslcert=/c.pem"},
		{"postgres://w@db/warden?pass%77ord=secret", "postgres://w@db/warden?pass%77ord=xxxxx"},
		{"postgres://w@db/warden?PASSWORD=secret&api_token=secret&client_secret=secret&passfile=/p",
			"postgres://w@db/warden?PASSWORD=xxxxx&api_token=xxxxx&client_secret=xxxxx&passfile=xxxxx"},
		{"postgres://db?password=secret", "postgres://db?password=xxxxx"},
		{"postgres://db/warden?application_name=a@b&password=se@cret#x", "postgres://db/warden?application_name=a@b&password=xxxxx"},
		{"postgres://db/warden?x=1?password=secret", "postgres://db/warden?x=1?password=xxxxx"},
		// URLs that pgx and net/url read differently: both readings' secrets go.
		{"postgres://w:se@cret@db/warden", "postgres://w:xxxxx@db/warden"},
		{"postgres://w:se/cret@db/warden", "postgres://w:xxxxx@db/warden"},
		{"postgres://w:se?cret@db/warden", "postgres://w:xxxxx@db/warden"},
		{"postgres://w:se#cret@db/warden", "postgres://w:xxxxx@db/warden"},
		{"postgres://w:se:cret@db/warden", "postgres://w:xxxxx@db/warden"},
		{"  postgres://w:secret@db/warden", "  postgres://w:xxxxx@db/warden"},
		// Keyword=value DSNs.
		{"host=db user=w password=secret dbname=warden", "host=db user=w password=xxxxx dbname=warden"},
		{"host=db user=w password='se cret' dbname=warden", "host=db user=w password=xxxxx dbname=warden"},
		{`host=db password='se\' cret' dbname=warden`, "host=db password=xxxxx dbname=warden"},
		{`host=db password=se\ cret dbname=warden`, "host=db password=xxxxx dbname=warden"},
		{"host=db password = secret sslpassword='x y' sslmode=require", "host=db password = xxxxx sslpassword=xxxxx sslmode=require"},
		{"host=db password='unterminated secret", "host=db password=xxxxx"},
		{"host=db password=se cret", "host=db password=xxxxx xxxxx"},
		{"host=w:secret@db dbname=warden", "host=w:xxxxx@db dbname=warden"},
		// No scheme, no keywords.
		{"db.example.com:5432", "db.example.com:5432"},
		{"w:secret@db:5432", "w:xxxxx@db:5432"},
		{"", ""},
		// etcd endpoints and proxies.
		{"http://root:secret@127.0.0.1:2379", "http://root:xxxxx@127.0.0.1:2379"},
		{"socks5://u:secret@127.0.0.1:1080", "socks5://u:xxxxx@127.0.0.1:1080"},
		{"http://root:secret@e1:2379, https://e2:2379,http://root:secret@e3:2379/?token=secret",
			"http://root:xxxxx@e1:2379, https://e2:2379,http://root:xxxxx@e3:2379/?token=xxxxx"},
	} {
		if got := core.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// An error that quotes a connection string loses its secrets and keeps its
// sentinel.
func TestRedactError(t *testing.T) {
	sentinel := errors.New("cannot parse")
	dsn := "postgres://w:pa$$word@db/warden?sslmode=bogus&api_token=t0k%2Fen"
	err := fmt.Errorf("%w `postgres://w:pa$$word@db/warden?sslmode=bogus&api_token=t0k/en`: sslmode is invalid", sentinel)
	got := core.RedactError(err, dsn)
	if !errors.Is(got, sentinel) {
		t.Errorf("RedactError(%v) lost its sentinel", err)
	}
	for _, secret := range []string{"pa$$word", "t0k/en", "t0k%2Fen"} {
		if strings.Contains(got.Error(), secret) {
			t.Errorf("RedactError(…) = %q shows %q", got, secret)
		}
	}
	if !strings.Contains(got.Error(), "sslmode is invalid") {
		t.Errorf("RedactError(…) = %q lost what went wrong", got)
	}
	if core.RedactError(nil, dsn) != nil {
		t.Error("RedactError(nil) is not nil")
	}
}

// secretForms are the places a secret can take in what Warden is given, each
// as pgx or a proxy dialer would read it back.
var secretForms = []struct {
	name string
	make func(secret string) string
}{
	{"URL userinfo, escaped", func(s string) string {
		return "postgres://w:" + url.PathEscape(s) + "@db.example:5432/warden?sslmode=disable"
	}},
	{"URL userinfo, as typed", func(s string) string {
		return "postgres://w:" + s + "@db.example:5432/warden?sslmode=disable"
	}},
	{"URL query password", func(s string) string {
		return "postgres://w@db.example/warden?sslmode=disable&password=" + url.QueryEscape(s)
	}},
	{"URL query sslpassword", func(s string) string {
		return "postgresql://w@db.example/warden?sslpassword=" + url.QueryEscape(s) + "&sslmode=require"
	}},
	{"URL query, another secret", func(s string) string {
		return "postgres://w@db.example/warden?auth_token=" + url.QueryEscape(s)
	}},
	{"DSN, quoted", func(s string) string {
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
		return "host=db.example user=w password='" + r.Replace(s) + "' dbname=warden"
	}},
	{"DSN, bare", func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			if strings.IndexByte(" \t\n\r\v\f\\'", c) >= 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		return "host=db.example user=w password=" + b.String() + " dbname=warden"
	}},
	{"proxy", func(s string) string {
		return "socks5://u:" + url.PathEscape(s) + "@127.0.0.1:1080"
	}},
}

// No secret survives redaction, whatever it holds and whichever form it
// takes.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"hunter2", "se cret", `a'b\c`, "p@ss/w?rd#", "x:y@z", "%zz", "password=x", "ünï©ødé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		if len(secret) < 4 {
			t.Skip("too short to tell from the rest")
		}
		for _, form := range secretForms {
			raw := form.make(secret)
			// Only a secret that is not already part of the redacted
			// form without it can be looked for.
			if strings.Contains(core.RedactURL(form.make("\x00")), secret) ||
				strings.Contains(core.RedactProxy(form.make("\x00")), secret) || strings.Contains(form.make(""), secret) {
				continue
			}
			for _, redact := range []func(string) string{core.RedactURL, core.RedactProxy} {
				if got := redact(raw); strings.Contains(got, secret) {
					t.Errorf("%s: redacting %q = %q shows the secret", form.name, raw, got)
				}
			}
			if got := core.RedactError(errors.New("cannot parse `"+raw+"`"), raw); strings.Contains(got.Error(), secret) {
				t.Errorf("%s: RedactError quoting %q = %q shows the secret", form.name, raw, got)
			}
		}
	})
}
