package app

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestDemoAccountsSetting(t *testing.T) {
	for _, bad := range []string{"5", "201", "many"} {
		t.Setenv("WARDEN_DEMO_ACCOUNTS", bad)
		d, err := newDemo(slog.New(slog.DiscardHandler))
		if err == nil {
			d.stop()
			d.server.Close()
			t.Errorf("WARDEN_DEMO_ACCOUNTS=%s is taken", bad)
			continue
		}
		if !strings.Contains(err.Error(), "want a number of accounts from 6 to 200") {
			t.Errorf("WARDEN_DEMO_ACCOUNTS=%s: the error %q does not say what is wanted", bad, err)
		}
	}
	t.Setenv("WARDEN_DEMO_ACCOUNTS", "8")
	d, err := newDemo(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.server.Close()
	defer d.stop()
	want := append(slices.Clone(demoNames), "Desk 7", "Desk 8")
	if !slices.Equal(d.names, want) {
		t.Errorf("the demo creates %q, want %q", d.names, want)
	}
}
