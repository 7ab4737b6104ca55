package fakewa

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
)

// FaultKind is a misbehaviour of the server that Warden must survive.
type FaultKind int

// The faults. The first six hit the device's live logged-in sockets (or, for a
// device that is offline, right after its next login); the FaultFail kinds
// answer the device's next login.
const (
	FaultReplaced      FaultKind = iota + 1 // <stream:error code="440"><conflict type="replaced"/></stream:error>, then close
	FaultRestart                            // <stream:error code="515"/>, then close (whatsmeow reconnects by itself)
	FaultDeviceRemoved                      // <stream:error code="401"><conflict type="device_removed"/></stream:error>; the device is forgotten
	FaultStream503                          // <stream:error code="503"/>, then close
	FaultDrop                               // hard TCP close, no stanza
	FaultStall                              // keepalive pings (w:p) go unanswered on that socket until it closes
	FaultFail401                            // next login: <failure reason="401"/>; the device is forgotten
	FaultFail402                            // next login: <failure reason="402" code=… expire=…/> (Fault.Code, Fault.Expire)
	FaultFail405                            // next login: <failure reason="405"/>
	FaultFail500                            // next login: <failure reason="500"/>
)

// FaultKinds lists every fault kind in declaration order.
var FaultKinds = []FaultKind{
	FaultReplaced, FaultRestart, FaultDeviceRemoved, FaultStream503, FaultDrop, FaultStall,
	FaultFail401, FaultFail402, FaultFail405, FaultFail500,
}

var faultNames = map[FaultKind]string{
	FaultReplaced:      "replaced (440)",
	FaultRestart:       "restart (515)",
	FaultDeviceRemoved: "device removed (401)",
	FaultStream503:     "stream error 503",
	FaultDrop:          "drop",
	FaultStall:         "stall",
	FaultFail401:       "login failure 401",
	FaultFail402:       "login failure 402 (temporary ban)",
	FaultFail405:       "login failure 405 (client outdated)",
	FaultFail500:       "login failure 500",
}

func (k FaultKind) String() string {
	if name, ok := faultNames[k]; ok {
		return name
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// forLogin reports whether the fault answers a login rather than hitting a live
// socket.
func (k FaultKind) forLogin() bool { return k >= FaultFail401 && k <= FaultFail500 }

// Fault is one fault to inject.
type Fault struct {
	Kind   FaultKind
	Expire time.Duration // FaultFail402: how long the ban lasts (whole seconds on the wire)
	Code   int           // FaultFail402: the ban reason code; 0 means 101
}

// Inject makes the device (a JID as ScanQR returns it) suffer f. Live faults hit
// every logged-in socket of the device now, or, when it has none, right after
// its next login; except FaultDeviceRemoved, which forgets an offline device at
// once, so that its next login fails with 401. Login failures answer its next
// login, whether it is online now or not. It fails for a device the server does
// not know.
func (s *Server) Inject(jid string, f Fault) error {
	if _, ok := faultNames[f.Kind]; !ok {
		return fmt.Errorf("fakewa: inject %v: unknown fault kind", f.Kind)
	}
	key := normJID(jid)
	s.mu.Lock()
	if s.devices[key] == nil {
		s.mu.Unlock()
		return fmt.Errorf("inject %v on %s: %w", f.Kind, key, ErrUnknownDevice)
	}
	if f.Kind.forLogin() {
		s.failNext[key] = f
		s.mu.Unlock()
		s.log.Debug("fakewa: fault armed for next login", "jid", key, "fault", f.Kind)
		return nil
	}
	var targets []*sock
	for c := range s.socks {
		if c.loggedIn && c.jid == key {
			targets = append(targets, c)
		}
	}
	removedOffline := len(targets) == 0 && f.Kind == FaultDeviceRemoved
	switch {
	case removedOffline:
		// The phone unlinked a device that is offline: it is forgotten now, and
		// its next login fails with 401, as on the real server.
		delete(s.devices, key)
	case len(targets) == 0:
		s.liveNext[key] = append(s.liveNext[key], f)
	}
	s.mu.Unlock()
	if removedOffline {
		s.saveState()
	}
	s.log.Debug("fakewa: fault injected", "jid", key, "fault", f.Kind, "sockets", len(targets))
	for _, c := range targets {
		s.apply(c, f)
	}
	return nil
}

// apply makes the logged-in socket c suffer the live fault f.
func (s *Server) apply(c *sock, f Fault) {
	switch f.Kind {
	case FaultReplaced:
		s.streamError(c, "440", "replaced")
	case FaultRestart:
		s.streamError(c, "515", "")
	case FaultDeviceRemoved:
		s.mu.Lock()
		delete(s.devices, c.jid)
		s.mu.Unlock()
		s.saveState()
		s.streamError(c, "401", "device_removed")
	case FaultStream503:
		s.streamError(c, "503", "")
	case FaultDrop:
		s.mu.Lock()
		s.endSessionLocked(c)
		s.mu.Unlock()
		c.closeNow()
	case FaultStall:
		c.stalled.Store(true)
	}
}

// streamError ends c's session with a stream error and closes the socket soon.
func (s *Server) streamError(c *sock, code, conflict string) {
	s.mu.Lock()
	s.endSessionLocked(c)
	s.mu.Unlock()
	node := waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": code}}
	if conflict != "" {
		node.Content = []waBinary.Node{{Tag: "conflict", Attrs: waBinary.Attrs{"type": conflict}}}
	}
	_ = c.sendNode(node)
	s.closeSoon(c)
}

// failureNode is the answer to a login that fails with f.
func failureNode(f Fault) waBinary.Node {
	attrs := waBinary.Attrs{"location": "fakewa"}
	switch f.Kind {
	case FaultFail402:
		code := f.Code
		if code == 0 {
			code = 101
		}
		attrs["reason"] = "402"
		attrs["code"] = strconv.Itoa(code)
		attrs["expire"] = strconv.FormatInt(int64(f.Expire/time.Second), 10)
	case FaultFail405:
		attrs["reason"] = "405"
	case FaultFail500:
		attrs["reason"] = "500"
	default:
		attrs["reason"] = "401"
	}
	return waBinary.Node{Tag: "failure", Attrs: attrs}
}

// RefuseUpgrades makes the next n websocket upgrades fail with HTTP 503.
func (s *Server) RefuseUpgrades(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = max(n, 0)
}

// RefuseAfterPairing makes the reconnect that follows the next pairing fail.
// A pairing ends with a 515 stream error, on which the companion reconnects
// to log in with its new keys; as the server sends that 515, it starts
// refusing the next n websocket upgrades with HTTP 503, as RefuseUpgrades
// does. The refusals go to the next upgrades, whoever makes them.
func (s *Server) RefuseAfterPairing(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterPair = max(n, 0)
}

// Refusals returns how many websocket upgrades the server refused on command
// (RefuseUpgrades, RefuseAfterPairing).
func (s *Server) Refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// chaosRun is a running StartChaos.
type chaosRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartChaos injects random faults into random logged-in devices, about one per
// every (uniformly between every/2 and 3·every/2), until StopChaos or Close. The
// sequence of delays, picks and kinds is deterministic for a seed. With no kinds,
// every kind may come. It replaces a chaos run already going.
func (s *Server) StartChaos(seed int64, every time.Duration, kinds ...FaultKind) {
	s.StopChaos()
	if every <= 0 {
		return
	}
	if len(kinds) == 0 {
		kinds = FaultKinds
	}
	kinds = slices.Clone(kinds)
	ctx, cancel := context.WithCancel(s.ctx)
	run := &chaosRun{cancel: cancel, done: make(chan struct{})}
	s.chaosMu.Lock()
	s.chaos = run
	s.chaosMu.Unlock()
	go func() {
		defer close(run.done)
		rng := rand.New(rand.NewPCG(uint64(seed), 0x6368616f73))
		for {
			wait := every/2 + time.Duration(rng.Int64N(int64(every)))
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			targets := s.loggedInDevices()
			if len(targets) == 0 {
				continue
			}
			jid := targets[rng.IntN(len(targets))]
			kind := kinds[rng.IntN(len(kinds))]
			f := Fault{Kind: kind, Expire: every, Code: 101}
			if err := s.Inject(jid, f); err != nil {
				s.log.Debug("fakewa: chaos", "err", err)
				continue
			}
			s.log.Info("fakewa: chaos fault", "fault", kind)
		}
	}()
}

// StopChaos stops a chaos run and waits for it to end. It does nothing when
// none runs.
func (s *Server) StopChaos() {
	s.chaosMu.Lock()
	run := s.chaos
	s.chaos = nil
	s.chaosMu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// loggedInDevices returns the JIDs of the devices with a logged-in socket,
// sorted so that chaos picks deterministically.
func (s *Server) loggedInDevices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for c := range s.socks {
		if c.loggedIn && !slices.Contains(out, c.jid) {
			out = append(out, c.jid)
		}
	}
	slices.Sort(out)
	return out
}
