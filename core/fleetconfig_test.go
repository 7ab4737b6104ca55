package core_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"warden/core"
)

func TestParseEtcdEndpoints(t *testing.T) {
	got, err := core.ParseEtcdEndpoints(" http://e1:2379, https://e2:2379/ ,")
	if err != nil || strings.Join(got, ",") != "http://e1:2379,https://e2:2379" {
		t.Errorf("ParseEtcdEndpoints = %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"":                    "no etcd endpoint",
		"e1:2379":             "http://",
		"http://e1":           "no port",
		"ftp://e1:2379":       "starts with http://",
		"http://e1:2379/v3":   "no path",
		"http://e1:2379,%zz":  "not an etcd endpoint",
		"http://e1:2379, , ,": "",
	} {
		_, err := core.ParseEtcdEndpoints(in)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", in, err)
			}
			continue
		}
		if !errors.Is(err, core.ErrInvalidFleet) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it to say %q", in, err, want)
		}
	}
	// An endpoint's password never shows in what is wrong with it.
	for _, in := range []string{"root:hunter2@e1:2379", "http://root:hunter2@e1", "ftp://root:hunter2@e1:2379",
		"http://root:hunter2@e1:2379/v3", "http://root:hunter2@e1:2379/%zz"} {
		if _, err := core.ParseEtcdEndpoints(in); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: %v, want an error without the password", in, err)
		}
	}
}

func TestCheckDatabaseURLAndNodeName(t *testing.T) {
	if err := core.CheckDatabaseURL("postgres://w:pw@db:5432/warden?sslmode=disable"); err != nil {
		t.Error(err)
	}
	for in, want := range map[string]string{
		"mysql://db/warden":  "postgres://",
		"postgres:///warden": "no host",
		"postgres://db":      "no database",
	} {
		if err := core.CheckDatabaseURL(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
	for _, ok := range []string{"node-a", "desk_2.office"} {
		if err := core.CheckNodeName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "é", strings.Repeat("x", 65), "a/b"} {
		if err := core.CheckNodeName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if core.CheckLeaseTTL(5*time.Second) != nil || core.CheckLeaseTTL(time.Second) == nil || core.CheckLeaseTTL(2500*time.Millisecond) == nil || core.CheckLeaseTTL(2*time.Minute) == nil {
		t.Error("CheckLeaseTTL bounds")
	}
}
