package core_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"warden/core"
)

func TestNormalizeProxy(t *testing.T) {
	good := map[string]string{
		"":                                    "",
		" direct ":                            "direct",
		"DIRECT":                              "direct",
		"socks5://127.0.0.1:1080":             "socks5://127.0.0.1:1080",
		"SOCKS5://Proxy.Example.COM:1080/":    "socks5://proxy.example.com:1080",
		"socks5h://user:p%40ss@10.0.0.1:9050": "socks5h://user:p%40ss@10.0.0.1:9050",
		"http://proxy.example.com:3128":       "http://proxy.example.com:3128",
		"https://u:secret@[2001:db8::1]:8443": "https://u:secret@[2001:db8::1]:8443",
	}
	// The longest proxy URL there is room for.
	longest := "http://" + strings.Repeat("p", core.MaxProxyLen-len("http://:3128")) + ":3128"
	good[longest] = longest
	for in, want := range good {
		got, err := core.NormalizeProxy(in)
		if err != nil || got != want {
			t.Errorf("NormalizeProxy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"127.0.0.1:1080":                  "start with the kind of proxy",
		"ftp://proxy:21":                  `"ftp" proxies are not supported`,
		"socks5://:1080":                  "no host",
		"socks5://proxy.example.com":      "no port",
		"http://proxy:0":                  "not between 1 and 65535",
		"http://proxy:99999":              "not between 1 and 65535",
		"http://proxy:3128/path":          "no path or query",
		"http://proxy:3128/?a=b":          "no path or query",
		"socks5://:secret@proxy:1080":     "no user name",
		"socks5://user@proxy:1080":        "no password",
		"socks5://user:hunter2@pro xy:80": "not a URL",
		"socks5://user:hunter2@" + strings.Repeat("p", core.MaxProxyLen) + ".example.com:1080": "longer than 2048 bytes",
	}
	for in, want := range bad {
		_, err := core.NormalizeProxy(in)
		if !errors.Is(err, core.ErrInvalidProxy) || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeProxy(%q) = %v; want ErrInvalidProxy saying %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error for %q shows the password: %v", in, err)
		}
	}
}

func TestRedactProxy(t *testing.T) {
	for in, want := range map[string]string{
		"socks5://user:hunter2@127.0.0.1:1080": "socks5://user:•••@127.0.0.1:1080",
		"http://proxy.example.com:3128":        "http://proxy.example.com:3128",
		"direct":                               "direct",
		"socks5://user:hunter2@pro xy:80":      "socks5://user:•••@pro xy:80",
		"user:hunter2@127.0.0.1:1080":          "user:•••@127.0.0.1:1080",
	} {
		if got := core.RedactProxy(in); got != want {
			t.Errorf("RedactProxy(%q) = %q, want %q", in, got, want)
		}
	}
}

// A proxy given at Add is on the account from its first dial; SetProxy
// changes it for the next dial and keeps the session that is up.
func TestProxyReachesTheDialer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, noJitter())
		r.startManager()
		ctx := context.Background()
		if _, err := r.m.Add(ctx, "Bad", core.WithProxy("socks5://nowhere")); !errors.Is(err, core.ErrInvalidProxy) {
			t.Fatalf("Add with a bad proxy = %v, want ErrInvalidProxy", err)
		}
		if n := len(r.m.Statuses()); n != 0 {
			t.Fatalf("a refused Add left %d accounts", n)
		}
		acct, err := r.m.Add(ctx, "Proxied", core.WithProxy("SOCKS5://u:pw@127.0.0.1:1080"))
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		first := r.d.Sessions(acct.ID)
		if len(first) != 1 || first[0].Account.Proxy != "socks5://u:pw@127.0.0.1:1080" {
			t.Fatalf("the first session got %+v, want the proxy", first)
		}
		if stored, _ := r.s.Account(acct.ID); stored.Proxy != "socks5://u:pw@127.0.0.1:1080" {
			t.Errorf("stored proxy = %q", stored.Proxy)
		}

		if err := r.m.SetProxy(ctx, acct.ID, "http://10.0.0.2:3128"); err != nil {
			t.Fatal(err)
		}
		if err := r.m.SetProxy(ctx, acct.ID, "nonsense"); !errors.Is(err, core.ErrInvalidProxy) {
			t.Errorf("SetProxy(nonsense) = %v", err)
		}
		synctest.Wait()
		if n := len(r.d.Sessions(acct.ID)); n != 1 {
			t.Errorf("SetProxy started %d sessions, want none new", n-1)
		}
		if st, _ := r.m.Status(acct.ID); st.Account.Proxy != "http://10.0.0.2:3128" {
			t.Errorf("status proxy = %q", st.Account.Proxy)
		}
		if stored, _ := r.s.Account(acct.ID); stored.Proxy != "http://10.0.0.2:3128" {
			t.Errorf("stored proxy = %q after SetProxy", stored.Proxy)
		}
		// The next connection uses it.
		if err := r.m.Disconnect(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.m.Connect(ctx, acct.ID); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if last := r.d.Last(acct.ID); last.Account.Proxy != "http://10.0.0.2:3128" {
			t.Errorf("the next session got proxy %q", last.Account.Proxy)
		}
	})
}
