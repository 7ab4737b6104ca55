package app

import (
	"bufio"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const screenW, screenH = 1280, 800

// xvfb starts a virtual X display and returns its DISPLAY value.
func xvfb(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatal("Xvfb is not installed: run `make deps` (the window test needs it)")
	}
	for n := 90 + os.Getpid()%50; n < 200; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		display := fmt.Sprintf(":%d", n)
		cmd := exec.Command(bin, display, "-screen", "0", fmt.Sprintf("%dx%dx24", screenW, screenH), "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		for range 50 {
			if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
				return display
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("Xvfb %s did not start", display)
	}
	t.Fatal("no free X display number")
	return ""
}

// screenshot captures the whole display into path.
func screenshot(t *testing.T, display, path string) image.Image {
	t.Helper()
	importBin := "/usr/bin/import" // ImageMagick's; a stand-in may shadow it on PATH
	if _, err := os.Stat(importBin); err != nil {
		if importBin, err = exec.LookPath("import"); err != nil {
			t.Fatal("ImageMagick's import is not installed: run `make deps`")
		}
	}
	if out, err := exec.Command(importBin, "-display", display, "-window", "root", path).CombinedOutput(); err != nil {
		t.Fatalf("import: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

// screenshotWhen takes screenshots until ok accepts one, and returns the
// last one after d: on a loaded machine the window may take a while to draw
// what the keys asked for, so the test waits for it rather than for a fixed
// time.
func screenshotWhen(t *testing.T, display, path string, d time.Duration, ok func(image.Image) bool) image.Image {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		img := screenshot(t, display, path)
		if ok(img) || time.Now().After(deadline) {
			return img
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestDemoWindow builds the real binary, runs `warden --demo` under Xvfb until
// an account is Connected, takes a screenshot, and quits with SIGTERM.
func TestDemoWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("the window test builds and runs the app; not with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "warden")
	build := exec.Command("go", "build", "-tags", "migrated_fynedo", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// The built binary knows the modules it was built with (About shows them).
	if out, err := exec.Command(bin, "--version").Output(); err != nil ||
		!regexp.MustCompile(`(?m)^whatsmeow v\S+\nfyne v2\.\S+$`).Match(out) {
		t.Errorf("warden --version = %q, %v; want whatsmeow's and Fyne's versions", out, err)
	}
	display := xvfb(t)

	cmd := exec.Command(bin, "--demo")
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "WARDEN_DEMO_FAULT_EVERY=3s", "XDG_CONFIG_HOME="+dir, "XDG_DATA_HOME="+dir,
		"XDG_CACHE_HOME="+dir, "DBUS_SESSION_BUS_ADDRESS=disabled:")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	connected := make(chan struct{})
	accounts := newDemoAccounts()
	sends := make(chan sendNote, 16)
	faulted := make(chan string, 1) // the name of the first account hit by a fault
	var logTail lockedLog
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		once := false
		for sc.Scan() {
			line := sc.Text()
			logTail.add(line)
			accounts.observe(line)
			if m := sendLine.FindStringSubmatch(line); m != nil {
				select {
				case sends <- sendNote{account: m[1], cause: m[2], line: line}:
				default:
				}
			}
			if !once && strings.Contains(line, "→ Connected") {
				once = true
				close(connected)
			}
			if m := faultLine.FindStringSubmatch(line); m != nil {
				select {
				case faulted <- m[1] + m[2]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	defer func() { _ = cmd.Process.Kill() }()

	select {
	case <-connected:
	case err := <-exited:
		t.Fatalf("warden exited before connecting: %v\n%s", err, logTail.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no account Connected within 60 s\n%s", logTail.String())
	}
	// Let the other paired accounts connect, so that the screenshot shows
	// the demo as an operator sees it; faults may keep one down.
	for deadline := time.Now().Add(20 * time.Second); accounts.connectedCount() < 5 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}

	shots := filepath.Join("..", "ui", "testdata", "screens")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	img := screenshotWhen(t, display, filepath.Join(shots, "demo.png"), 30*time.Second, func(img image.Image) bool { return colours(img, 5000) >= 8 })
	if b := img.Bounds(); b.Dx() != screenW || b.Dy() != screenH {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), screenW, screenH)
	}
	if n := colours(img, 5000); n < 8 {
		t.Errorf("the screenshot has %d colours: the window is blank", n)
	}

	// After a fault, open that account's Timeline and Logs as an operator
	// would with the keyboard: Ctrl+F, its name, Enter, Alt+2, Alt+3.
	var name string
	select {
	case name = <-faulted:
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo injected no fault within 30 s\n%s", logTail.String())
	}
	time.Sleep(2 * time.Second) // let the account go through its reconnection
	xdo := func(args ...string) {
		t.Helper()
		c := exec.Command("xdotool", args...)
		c.Env = append(os.Environ(), "DISPLAY="+display)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("xdotool %v: %v: %s", args, err, out)
		}
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Fatal("xdotool is not installed: run `make deps`")
	}
	xdo("mousemove", "640", "400")
	xdo("key", "ctrl+f")
	xdo("type", "--delay", "30", name)
	xdo("key", "Return")
	time.Sleep(500 * time.Millisecond)
	xdo("key", "alt+2")
	time.Sleep(500 * time.Millisecond)
	timeline := screenshotWhen(t, display, filepath.Join(shots, "timeline.png"), 30*time.Second, func(shot image.Image) bool { return differingPixels(img, shot) >= 5 })
	xdo("key", "alt+3")
	time.Sleep(500 * time.Millisecond)
	logs := screenshotWhen(t, display, filepath.Join(shots, "logs.png"), 30*time.Second, func(shot image.Image) bool { return differingPixels(timeline, shot) >= 5 })
	if d := differingPixels(img, timeline); d < 5 {
		t.Errorf("opening %q's timeline changed %.1f %% of the screen: the keys did nothing", name, d)
	}
	if d := differingPixels(timeline, logs); d < 5 {
		t.Errorf("switching to the Logs tab changed %.1f %% of the screen", d)
	}

	// Send a test message as an operator would: pick a connected account
	// (Ctrl+F, its name, Enter), Ctrl+T, a number or none, Enter; then the
	// result shows inline. A fault may drop the account first: try another.
	send := func(shot, number, wantCause string) {
		t.Helper()
		for try := 0; try < 4; try++ {
			id, name := accounts.anyConnected()
			if id == "" {
				time.Sleep(2 * time.Second)
				continue
			}
			for len(sends) > 0 {
				<-sends
			}
			xdo("key", "ctrl+f")
			xdo("key", "ctrl+a")
			xdo("type", "--delay", "30", name)
			xdo("key", "Return")
			time.Sleep(500 * time.Millisecond)
			xdo("key", "ctrl+t")
			time.Sleep(300 * time.Millisecond)
			if number != "" {
				xdo("type", "--delay", "30", number)
			}
			xdo("key", "Return")
			deadline := time.After(10 * time.Second)
		wait:
			for {
				select {
				case n := <-sends:
					if n.account != id {
						continue
					}
					if n.cause != wantCause {
						t.Logf("try %d: %s: %s", try+1, name, n.line)
						break wait
					}
					time.Sleep(1500 * time.Millisecond) // the delivery receipt
					img := screenshotWhen(t, display, filepath.Join(shots, shot), 30*time.Second, func(img image.Image) bool { return differingPixels(logs, img) >= 1 })
					if d := differingPixels(logs, img); d < 1 {
						t.Errorf("the send from %q changed %.1f %% of the screen", name, d)
					}
					return
				case <-deadline:
					t.Logf("try %d: no send from %q within 10 s", try+1, name)
					break wait
				}
			}
		}
		t.Fatalf("no %q from a connected account in 4 tries\n%s", wantCause, logTail.String())
	}
	send("sent.png", "", "message sent")
	send("send_error.png", "+1 555 0100 404", "send failed")

	// Help › About Warden, with the mouse: the menu bar is drawn by Fyne.
	before := screenshot(t, display, filepath.Join(shots, "before_about.png"))
	xdo("mousemove", "172", "14")
	xdo("click", "1")
	screenshotWhen(t, display, filepath.Join(shots, "help_menu.png"), 30*time.Second, func(shot image.Image) bool { return differingPixels(before, shot) > 0.1 })
	xdo("mousemove", "210", "48")
	xdo("click", "1")
	about := screenshotWhen(t, display, filepath.Join(shots, "about.png"), 30*time.Second, func(shot image.Image) bool { return differingPixels(before, shot) >= 1 })
	if d := differingPixels(before, about); d < 1 {
		t.Errorf("Help › About changed %.1f %% of the screen: no dialog", d)
	}

	began := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, logTail.String())
		}
		t.Logf("clean exit %v after SIGTERM", time.Since(began).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGQUIT) // dump its goroutines into the log
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
		}
		t.Fatalf("still running 5 s after SIGTERM; its log ends with:\n%s", logTail.String())
	}
	if !strings.Contains(logTail.String(), "warden stopped cleanly") {
		t.Errorf("no clean-stop line in the log")
	}
}

// faultLine matches the demo's log line for an injected fault and captures
// the account's name, quoted or not.
var faultLine = regexp.MustCompile(`demo: injected a fault.* name=(?:"([^"]*)"|(\S+))`)

// sendLine matches the log line of a send's timeline note: the account and
// the cause.
var sendLine = regexp.MustCompile(`account=(\S+).* cause="(message sent|send failed)"`)

type sendNote struct{ account, cause, line string }

// demoAccounts follows the demo's log: each account's name, and which are
// Connected.
type demoAccounts struct {
	mu        sync.Mutex
	names     map[string]string
	connected map[string]bool
}

var (
	addedLine = regexp.MustCompile(`demo: account added.* account=(\S+) name=(?:"([^"]*)"|(\S+))`)
	stateLine = regexp.MustCompile(`msg="state \S+ → (\S+)".* account=(\S+)`)
)

func newDemoAccounts() *demoAccounts {
	return &demoAccounts{names: map[string]string{}, connected: map[string]bool{}}
}

func (a *demoAccounts) observe(line string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if m := addedLine.FindStringSubmatch(line); m != nil {
		a.names[m[1]] = m[2] + m[3]
	}
	if m := stateLine.FindStringSubmatch(line); m != nil {
		a.connected[m[2]] = m[1] == "Connected"
	}
}

// connectedCount returns how many accounts are Connected now.
func (a *demoAccounts) connectedCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, on := range a.connected {
		if on {
			n++
		}
	}
	return n
}

// anyConnected returns a connected account's ID and name, or "".
func (a *demoAccounts) anyConnected() (id, name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, on := range a.connected {
		if on && a.names[id] != "" {
			return id, a.names[id]
		}
	}
	return "", ""
}

// differingPixels returns the percentage of sampled pixels that differ.
func differingPixels(a, b image.Image) float64 {
	bounds := a.Bounds()
	n, diff := 0, 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			n++
			if a.At(x, y) != b.At(x, y) {
				diff++
			}
		}
	}
	return 100 * float64(diff) / float64(n)
}

// colours counts distinct colours, up to limit.
func colours(img image.Image, limit int) int {
	seen := make(map[[3]uint32]bool)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if len(seen) >= limit {
				return limit
			}
		}
	}
	return len(seen)
}

// lockedLog keeps the child's log lines for failure messages.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
	if l.b.Len() > 1<<20 { // keep the newest part: the end says why it failed
		rest := l.b.String()[l.b.Len()-1<<19:]
		l.b.Reset()
		l.b.WriteString(rest)
	}
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
