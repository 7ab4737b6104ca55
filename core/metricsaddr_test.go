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
