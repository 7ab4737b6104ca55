package app

import (
	"bytes"
	"context"
	"image/png"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

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

// fakeTrayApp records what the tray sets.
type fakeTrayApp struct {
	mu    sync.Mutex
	icons []fyne.Resource
}

func (f *fakeTrayApp) SetSystemTrayMenu(*fyne.Menu)    {}
func (f *fakeTrayApp) SetSystemTrayWindow(fyne.Window) {}
func (f *fakeTrayApp) SetSystemTrayIcon(r fyne.Resource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.icons = append(f.icons, r)
}

func TestTrayFollowsTheAccountsAtMostOnceASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		test.NewTempApp(t)
		fa := &fakeTrayApp{}
		var fyneThread sync.Mutex // one Fyne thread, as fyne.Do gives
		tr := &tray{app: fa, show: fyne.NewMenuItem("Show Warden", nil), quit: &fyne.MenuItem{Label: "Quit", IsQuit: true},
			do: func(f func()) {
				fyneThread.Lock()
				defer fyneThread.Unlock()
				f()
			}}
		tr.menu = fyne.NewMenu("Warden", tr.items(nil)...)
		updates := make(chan core.Status)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tr.follow(ctx, updates, map[core.AccountID]core.Status{})
		}()
		labels := func() []string {
			fyneThread.Lock()
			defer fyneThread.Unlock()
			var out []string
			for _, it := range tr.menu.Items {
				out = append(out, it.Label)
			}
			return out
		}
		st := func(id string, state core.State) core.Status {
			return core.Status{Account: core.Account{ID: core.AccountID(id)}, State: state}
		}

		updates <- st("a", core.Connected)
		updates <- st("b", core.Connected)
		synctest.Wait()
		if got := labels(); !slices.Equal(got, []string{"No connections", "", "Show Warden", "", "Quit"}) {
			t.Errorf("the menu changed before a second passed: %q", got)
		}
		time.Sleep(trayEvery)
		synctest.Wait()
		if got := labels(); !slices.Equal(got, []string{"2 connected", "", "Show Warden", "", "Quit"}) {
			t.Errorf("menu after a second = %q", got)
		}
		updates <- st("b", core.LoggedOut)
		time.Sleep(trayEvery)
		synctest.Wait()
		if got := labels(); !slices.Equal(got, []string{"1 needs action", "1 connected", "1 logged out", "", "Show Warden", "", "Quit"}) {
			t.Errorf("menu after a logout = %q", got)
		}
		fa.mu.Lock()
		icons := slices.Clone(fa.icons)
		fa.mu.Unlock()
		if len(icons) != 1 || icons[0] != trayIcon(true) {
			t.Errorf("icons set %d times, want once, to the one with the dot", len(icons))
		}
		cancel()
		<-done
	})
}
