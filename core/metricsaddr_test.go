package core_test

import (
	"errors"
	"strings"
	"testing"

	"warden/core"
)

func TestCheckMetricsAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		remote   bool
		loopback bool
		want     error // nil: accepted
		says     string
	}{
		{"127.0.0.1:9464", false, true, nil, ""},
		{"localhost:9464", false, true, nil, ""},
		{"[::1]:9464", false, true, nil, ""},
		{"127.0.0.2:80", false, true, nil, ""},
		{"[::ffff:127.0.0.1]:9464", false, true, nil, ""},
		{"0.0.0.0:9464", false, false, core.ErrMetricsNotLoopback, "every network interface"},
		{":9464", false, false, core.ErrMetricsNotLoopback, "every network interface"},
		{"192.168.1.5:9464", false, false, core.ErrMetricsNotLoopback, "not a loopback address"},
		{"metrics.example:9464", false, false, core.ErrMetricsNotLoopback, "names a host"},
		{"0.0.0.0:9464", true, false, nil, ""},
		{"192.168.1.5:9464", true, false, nil, ""},
		{"", false, false, core.ErrInvalidMetricsAddr, "empty"},
		{"127.0.0.1", false, false, core.ErrInvalidMetricsAddr, "host:port"},
		{"::1:9464", false, false, core.ErrInvalidMetricsAddr, "brackets"},
		{"127.0.0.1:0", false, false, core.ErrInvalidMetricsAddr, "1 to 65535"},
		{"127.0.0.1:65536", false, false, core.ErrInvalidMetricsAddr, "1 to 65535"},
		{"127.0.0.1:http", false, false, core.ErrInvalidMetricsAddr, "1 to 65535"},
		{"127.0.0.1: 9464", false, false, core.ErrInvalidMetricsAddr, "spaces"},
	} {
		loopback, err := core.CheckMetricsAddr(c.addr, c.remote)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("CheckMetricsAddr(%q, %v) = %v, want it accepted", c.addr, c.remote, err)
		case c.want != nil && (!errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says)):
			t.Errorf("CheckMetricsAddr(%q, %v) = %v, want %v saying %q", c.addr, c.remote, err, c.want, c.says)
		case err == nil && loopback != c.loopback:
			t.Errorf("CheckMetricsAddr(%q, %v) loopback = %v, want %v", c.addr, c.remote, loopback, c.loopback)
		}
	}

	// The server about to listen also takes port 0 (any free port), and
	// refuses the rest as before.
	if _, err := core.CheckMetricsListenAddr("127.0.0.1:0", false); err != nil {
		t.Errorf("CheckMetricsListenAddr(%q, false) = %v, want it accepted", "127.0.0.1:0", err)
	}
	for _, addr := range []string{"0.0.0.0:0", "127.0.0.1:-1", "127.0.0.1:65536"} {
		if _, err := core.CheckMetricsListenAddr(addr, false); err == nil {
			t.Errorf("CheckMetricsListenAddr(%q, false) = nil, want it refused", addr)
		}
	}
}

func TestAPIListenCheck(t *testing.T) {
	for _, c := range []struct {
		l        core.APIListen
		loopback bool
		want     error // nil: accepted
		says     string
	}{
		{core.APIListen{}, true, nil, ""},
		{core.APIListen{Addr: "localhost:8080"}, true, nil, ""},
		{core.APIListen{Addr: "127.0.0.1:9470", TLSCert: "c.pem", TLSKey: "k.pem"}, true, nil, ""},
		{core.APIListen{Addr: "0.0.0.0:9470"}, false, core.ErrAPINotLoopback, "allow remote access to the API"},
		{core.APIListen{Addr: "api.example:9470"}, false, core.ErrAPINotLoopback, "keeps the API on this machine"},
		{core.APIListen{Addr: "0.0.0.0:9470", AllowRemote: true}, false, core.ErrAPITransport, "plain HTTP"},
		{core.APIListen{Addr: "0.0.0.0:9470", AllowRemote: true, Insecure: true}, false, nil, ""},
		{core.APIListen{Addr: "0.0.0.0:9470", AllowRemote: true, TLSCert: "c.pem", TLSKey: "k.pem"}, false, nil, ""},
		{core.APIListen{Addr: "0.0.0.0:9470", AllowRemote: true, TLSCert: "c.pem"}, false, core.ErrAPITransport, "go together"},
		{core.APIListen{TLSKey: "k.pem"}, false, core.ErrAPITransport, "go together"},
		{core.APIListen{Insecure: true, TLSCert: "c.pem", TLSKey: "k.pem"}, false, core.ErrAPITransport, "contradict"},
		{core.APIListen{Addr: "127.0.0.1"}, false, core.ErrInvalidAPIAddr, "for example 127.0.0.1:9470"},
		{core.APIListen{Addr: "::1:9470"}, false, core.ErrInvalidAPIAddr, "[::1]:9470"},
		{core.APIListen{Addr: "127.0.0.1:0"}, false, core.ErrInvalidAPIAddr, "1 to 65535"},
	} {
		loopback, err := c.l.Check()
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%+v.Check() = %v, want it accepted", c.l, err)
		case c.want != nil && (!errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%+v.Check() = %v, want %v saying %q", c.l, err, c.want, c.says)
		case err == nil && loopback != c.loopback:
			t.Errorf("%+v.Check() loopback = %v, want %v", c.l, loopback, c.loopback)
		}
	}
}
