package app

import (
	"bufio"
	"errors"
	"image"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"warden/core/store"
)

// A second Warden started from a desktop, on a data directory in use, shows
// its refusal in a window (a desktop user has no terminal) and quits from
// it with Enter; on a terminal it says the same.
func TestSecondWardenRefusesInAWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the app under Xvfb; not with -short")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "warden")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Fatal("xdotool is not installed: run `make deps`")
	}
	display := xvfb(t)
	dir := filepath.Join(tmp, "data")
	first, err := store.Open(filepath.Join(dir, store.DBFile), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	cmd := exec.Command(bin, "--data-dir", dir)
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "XDG_CONFIG_HOME="+tmp, "XDG_CACHE_HOME="+tmp,
		"DBUS_SESSION_BUS_ADDRESS=disabled:")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	said := make(chan time.Duration, 1)
	var out lockedLog
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.add(sc.Text())
			if strings.Contains(sc.Text(), "another Warden is already running") {
				select {
				case said <- time.Since(began):
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case d := <-said:
		t.Logf("the refusal was printed %v after the process started", d.Round(time.Millisecond))
	case err := <-exited:
		t.Fatalf("warden exited without the refusal: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no refusal within 30 s:\n%s", out.String())
	}

	xdo := func(args ...string) (string, error) {
		c := exec.Command("xdotool", args...)
		c.Env = append(os.Environ(), "DISPLAY="+display)
		b, err := c.CombinedOutput()
		return strings.TrimSpace(string(b)), err
	}
	var win string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if id, err := xdo("search", "--onlyvisible", "--name", "Warden did not start"); err == nil && id != "" {
			win = strings.Fields(id)[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window titled \"Warden did not start\" within 30 s:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	shots := filepath.Join("..", "ui", "testdata", "screens")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	img := screenshotWhen(t, display, filepath.Join(shots, "refusal.png"), 30*time.Second, func(img image.Image) bool { return colours(img, 5000) >= 3 })
	if n := colours(img, 5000); n < 3 {
		t.Errorf("the screenshot has %d colours: the window is blank", n)
	}

	geo, err := xdo("getwindowgeometry", "--shell", win)
	if err != nil {
		t.Fatalf("xdotool getwindowgeometry: %v: %s", err, geo)
	}
	x, y := shellVar(geo, "X")+shellVar(geo, "WIDTH")/2, shellVar(geo, "Y")+shellVar(geo, "HEIGHT")/2
	if o, err := xdo("mousemove", strconv.Itoa(x), strconv.Itoa(y)); err != nil {
		t.Fatalf("xdotool mousemove: %v: %s", err, o)
	}
	if o, err := xdo("key", "Return"); err != nil {
		t.Fatalf("xdotool key: %v: %s", err, o)
	}
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("warden ended with %v after Enter in its refusal, want exit status 1", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after Enter in the refusal window:\n%s", out.String())
	}
}

// shellVar reads NAME=value from xdotool's --shell output.
func shellVar(out, name string) int {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
