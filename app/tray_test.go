package app

import (
	"bytes"
	"image/png"
	"slices"
	"testing"

	"warden/assets"
	"warden/core"
)

func TestTrayCounts(t *testing.T) {
	st := func(id string, state core.State) core.Status {
		return core.Status{Account: core.Account{ID: core.AccountID(id)}, State: state}
	}
	statuses := map[core.AccountID]core.Status{}
	if got := countsOf(statuses).lines(); !slices.Equal(got, []string{"No connections"}) {
		t.Errorf("no accounts: %q", got)
	}
	for _, s := range []core.Status{st("a", core.Connected), st("b", core.Connected), st("c", core.Waiting), st("d", core.LoggedOut), st("e", core.Replaced)} {
		statuses[s.Account.ID] = s
	}
	want := []string{"2 need action", "2 connected", "1 reconnecting", "1 replaced", "1 logged out"}
	if got := countsOf(statuses).lines(); !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestTrayIconHasARedDotWhenNeeded(t *testing.T) {
	if trayIcon(false) != assets.Icon {
		t.Error("the icon without anything to do is not Warden's icon")
	}
	plain, err := png.Decode(bytes.NewReader(assets.Icon.Content()))
	if err != nil {
		t.Fatal(err)
	}
	dotted, err := png.Decode(bytes.NewReader(trayIcon(true).Content()))
	if err != nil {
		t.Fatal(err)
	}
	b := plain.Bounds()
	if dotted.Bounds() != b {
		t.Fatalf("the dotted icon is %v, the icon %v", dotted.Bounds(), b)
	}
	size := b.Dx()
	r, g, bl, _ := dotted.At(b.Max.X-size*24/100, b.Max.Y-size*24/100).RGBA()
	if r>>8 < 0xc0 || g>>8 > 0x60 || bl>>8 > 0x60 {
		t.Errorf("the dot's centre is (%d, %d, %d), want red", r>>8, g>>8, bl>>8)
	}
	r1, g1, b1, a1 := plain.At(b.Min.X+size/4, b.Min.Y+size/4).RGBA()
	r2, g2, b2, a2 := dotted.At(b.Min.X+size/4, b.Min.Y+size/4).RGBA()
	if r1>>8 != r2>>8 || g1>>8 != g2>>8 || b1>>8 != b2>>8 || a1>>8 != a2>>8 {
		t.Error("the dot changed the icon away from the bottom right")
	}
}

func TestNoTrayWithoutASessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	if trayAvailable() {
		t.Fatal("a tray is available with DBUS_SESSION_BUS_ADDRESS=disabled:")
	}
	var none *tray // what startTray returns then
	none.stop()    // safe on a nil tray
}
