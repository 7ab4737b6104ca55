// Package fakewa is an offline stand-in for WhatsApp's multi-device server. It is
// a test server, not WhatsApp: it talks to nothing outside this process, it
// stores nothing, and nothing it says means anything to the real WhatsApp.
//
// It exists so that Warden's whatsmeow adapter can be tested, and `warden --demo`
// can run, without a phone or a network. An unmodified whatsmeow client pointed at
// it (through HTTPClient and the process-wide root key, see InstallRootKey) does
// the Noise handshake, pairs by QR code or phone code with a simulated phone,
// logs in, keeps alive, and sees the faults that the real server produces:
// stream errors (440 replaced, 515, 401 device_removed, 503), login failures
// (401, 402, 405, 500), dropped and stalled sockets, refused upgrades.
//
// It also takes one-to-one text messages the way the real server does (see
// send.go): usync device lists with each user's LID, prekey bundles of
// simulated devices with real Signal keys, which decrypt each copy with
// libsignal, addressed by phone number or by LID; the server ack; the
// recipient phone's delivery receipt; and the wrong answers (an unknown
// number, a number without devices, 429, no ack). Received tells what arrived
// on which device.
//
// And it delivers messages the other way (see receive.go): a simulated
// contact, or the account's own phone, sends an account's companions a
// message (SendText, SendMessage), encrypted for each with a real Signal
// session (a pkmsg until the companion has answered in it, then msg). A
// companion that is logged in gets it at once; one that is away gets it at
// its next login, in the offline queue, with true offline counts. Each copy
// is kept until the companion's delivery receipt confirms it, and sent again
// at its next login if its socket went away first; a retry receipt has the
// sender encrypt it again. Receipts tells what the companions confirmed and
// read, Pending what they have not confirmed yet.
//
// It answers the IQs a client sends at login as the real server does (the
// prekey count and digest, passive/active, blocklist, privacy settings,
// props). Any other IQ gets error 501 feature-not-implemented, is logged, and
// is reported (UnknownIQs, Config.OnUnknownIQ), so that no test passes on an
// answer the server only pretends to give.
//
// Like the real server, a second login of the same device replaces the first.
// The server counts, per device, how many logged-in sockets were open at once
// (MaxConcurrentLogins): the number Warden must keep at 1.
package fakewa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// Errors callers can branch on with errors.Is.
var (
	ErrClosed         = errors.New("fakewa: server closed")
	ErrUnknownDevice  = errors.New("fakewa: unknown device")
	ErrUnknownRef     = errors.New("fakewa: unknown or expired qr ref")
	ErrBadCode        = errors.New("fakewa: malformed code")
	ErrNoPendingPair  = errors.New("fakewa: no companion is waiting for a pairing code for this phone")
	ErrWrongCode      = errors.New("fakewa: wrong pairing code")
	ErrPairingRefused = errors.New("fakewa: the companion refused the pairing")
	ErrUnknownSender  = errors.New("fakewa: unknown sender")
	ErrUnknownAccount = errors.New("fakewa: unknown account")
	ErrNoCompanion    = errors.New("fakewa: the account has no paired companion")
)

// Defaults for the zero Config.
const (
	defaultCloseDelay  = 100 * time.Millisecond
	defaultPairTimeout = 10 * time.Second
	handshakeTimeout   = 20 * time.Second
	writeTimeout       = 10 * time.Second
)

// Config configures a Server. The zero value is ready to use.
type Config struct {
	Logger *slog.Logger // nil: discard
	Seed   int64        // for generated identities (phone numbers, keys)

	// StreamErrorCloseDelay is how long a socket stays open after the server
	// sent it a stream error or a login failure. Zero means 100 ms. A negative
	// value closes at once, which exposes whatsmeow's race between the stanza and
	// the close (see WHATSAPP.md).
	StreamErrorCloseDelay time.Duration
	// StatePath, when set, is a file where the server keeps the phones and
	// devices it knows, so that paired devices stay paired across restarts (for
	// the demo). It is read by New and rewritten on every change.
	StatePath string
	// Now is the server's clock, for QR ref expiry. Nil means time.Now.
	Now func() time.Time
	// PairTimeout bounds how long a simulated phone waits for the companion's
	// answers while pairing. Zero means 10 s.
	PairTimeout time.Duration
	// DeliveryDelay is how long after the server acked a message the
	// recipient's phone confirms delivery. Zero means 50 ms; a negative value
	// means phones never confirm.
	DeliveryDelay time.Duration
	// OneTimePreKeys is how many one-time prekeys each simulated device keeps
	// on the server; it uploads more whenever it is down to half of them and
	// decrypts a message. Zero means 50; a negative value means none, so that
	// every prekey bundle has the signed prekey alone.
	OneTimePreKeys int
	// OnUnknownIQ, when set, is called with every IQ a client sent that the
	// server does not implement (it answers error 501): tests make it fail
	// the test, so that they do not pass on answers fakewa only pretends.
	OnUnknownIQ func(iq string)
	// LIDMigration makes every simulated phone an account past its LID
	// migration, as real accounts now are: once a new companion has uploaded
	// its keys, the phone sends it the initial history sync, whose global
	// settings carry the chat database's LID migration time and whose
	// mappings hold the account's phone number and LID. whatsmeow then
	// addresses one-to-one messages by LID. False leaves companions on the
	// phone-number path they take before the migration.
	LIDMigration bool
}

// Server is a running fake WhatsApp server on 127.0.0.1.
type Server struct {
	log           *slog.Logger
	seed          int64
	closeDelay    time.Duration
	pairTimeout   time.Duration
	deliveryDelay time.Duration
	preKeys       uint32 // Config.OneTimePreKeys
	onUnknownIQ   func(iq string)
	lidMigration  bool // Config.LIDMigration
	ln            net.Listener
	httpSrv       *http.Server
	httpClient    *http.Client
	static        *keys.KeyPair // the Noise static key, certified by the leaf
	chain         []byte        // the marshalled certificate chain
	statePath     string
	now           func() time.Time
	saveMu        sync.Mutex // serialises saveState

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // the listener and every socket
	closeOnce sync.Once

	chaosMu sync.Mutex
	chaos   *chaosRun // nil when stopped

	mu         sync.Mutex // guards the following
	closed     bool
	rng        *rand.Rand
	nextID     uint64
	socks      map[*sock]struct{}
	refs       map[string]qrRef     // QR refs → the registering socket that got them
	linkCodes  map[string]*linkCode // pairing ref → companion waiting for a phone code
	phones     map[string]*phone    // phone user → the simulated primary phone
	lids       map[string]*phone    // LID user → the simulated primary phone
	devices    map[string]*device   // device JID → paired companion device
	stats      map[string]*stats    // device JID → counters; kept after the device is gone
	failNext   map[string]Fault     // device JID → failure for its next login
	liveNext   map[string][]Fault   // device JID → faults for right after its next login
	refuse     int                  // websocket upgrades still to refuse
	refused    int                  // websocket upgrades refused so far
	afterPair  int                  // added to refuse as the next pairing's 515 goes out
	failSend   map[string]SendFault // device JID → fault for its next message
	acked      map[string]time.Time // "sender id" → when the message was acked
	received   []Message            // what simulated devices decrypted, oldest first
	unknownIQs []string             // IQs answered with 501, oldest first
	sendStats  SendStats
	receipts   []Receipt // what companions confirmed of messages to them, oldest first
	recvStats  ReceiveStats

	versionPage    VersionPage
	currentRev     uint32 // 0: whatsmeow's built-in
	minRev         uint32 // logins older than this get 405; 0: any
	versionFetches int
}

// phone is a simulated primary device: the account that companions link to.
type phone struct {
	user       string        // the phone number, JID user part
	lid        string        // the account's LID user part
	key        *keys.KeyPair // the account signature key (the primary's identity)
	rawID      uint32
	nextDevice uint16
	preKeys    uint32  // one-time prekeys each of its devices keeps on the server
	peers      []*peer // the simulated devices: [0] is the phone itself
}

// device is a paired companion, as the server knows it.
type device struct {
	jid      types.JID
	lid      types.JID
	noiseKey [32]byte      // the static key the companion must log in with
	prekeys  int           // prekeys uploaded
	keys     *uploadedKeys // nil: none uploaded since the server started

	historySynced bool // its phone sent it the history sync (Config.LIDMigration)

	// deliverMu orders what simulated devices send the device: they encrypt
	// and send one message at a time, in the order of the outbox. Taken
	// before s.mu, never under it.
	deliverMu sync.Mutex
	outbox    []*outgoing // messages to it not confirmed yet, oldest first; guarded by s.mu
}

// stats are the per-device observations.
type stats struct {
	open     int // logged-in sockets open now
	maxOpen  int // the most that were ever open at once
	logins   int
	unlinked bool
	version  string // announced at the last login
}

// New starts a server listening on 127.0.0.1 on a free port. It installs the
// root key into whatsmeow (see InstallRootKey).
func New(cfg Config) (*Server, error) {
	InstallRootKey()
	s := &Server{
		log:           cfg.Logger,
		seed:          cfg.Seed,
		closeDelay:    cfg.StreamErrorCloseDelay,
		pairTimeout:   cfg.PairTimeout,
		deliveryDelay: cfg.DeliveryDelay,
		onUnknownIQ:   cfg.OnUnknownIQ,
		lidMigration:  cfg.LIDMigration,
		statePath:     cfg.StatePath,
		now:           cfg.Now,
		rng:           rand.New(rand.NewPCG(uint64(cfg.Seed), 0x66616b657761)),
		socks:         make(map[*sock]struct{}),
		refs:          make(map[string]qrRef),
		linkCodes:     make(map[string]*linkCode),
		phones:        make(map[string]*phone),
		lids:          make(map[string]*phone),
		devices:       make(map[string]*device),
		stats:         make(map[string]*stats),
		failNext:      make(map[string]Fault),
		liveNext:      make(map[string][]Fault),
		failSend:      make(map[string]SendFault),
		acked:         make(map[string]time.Time),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.closeDelay == 0 {
		s.closeDelay = defaultCloseDelay
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.pairTimeout <= 0 {
		s.pairTimeout = defaultPairTimeout
	}
	if s.deliveryDelay == 0 {
		s.deliveryDelay = defaultDeliveryDelay
	}
	switch {
	case cfg.OneTimePreKeys == 0:
		s.preKeys = defaultOneTimePreKeys
	case cfg.OneTimePreKeys > 0:
		s.preKeys = uint32(cfg.OneTimePreKeys)
	}
	s.static = keyPairFromSeed(fmt.Appendf(nil, "fakewa static %d", cfg.Seed))
	intermediate := keyPairFromSeed(fmt.Appendf(nil, "fakewa intermediate %d", cfg.Seed))
	chain, err := certChain(intermediate, *s.static.Pub, time.Now())
	if err != nil {
		return nil, fmt.Errorf("fakewa: %w", err)
	}
	s.chain = chain
	if s.statePath != "" {
		if err := s.loadState(); err != nil {
			return nil, fmt.Errorf("fakewa: %w", err)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakewa: listen: %w", err)
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.httpSrv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.httpClient = ClientFor(ln.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("fakewa: serve", "err", err)
		}
	}()
	s.log.Info("fakewa: test server listening", "addr", s.Addr())
	return s, nil
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HTTPClient returns a client whose every connection, TLS or not, goes to this
// server over plain TCP. Give it to whatsmeow with both SetPreLoginHTTPClient and
// SetWebsocketHTTPClient.
func (s *Server) HTTPClient() *http.Client { return s.httpClient }

// Close stops the server: it stops chaos, closes every socket and the listener,
// and waits for its goroutines. It is safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.StopChaos()
		s.mu.Lock()
		s.closed = true
		socks := make([]*sock, 0, len(s.socks))
		for c := range s.socks {
			socks = append(socks, c)
		}
		s.mu.Unlock()
		s.cancel()
		_ = s.httpSrv.Close()
		for _, c := range socks {
			c.closeNow()
		}
		s.wg.Wait()
		s.httpClient.CloseIdleConnections()
		s.log.Info("fakewa: test server closed")
	})
}

// MaxConcurrentLogins returns the largest number of logged-in sockets of the
// device that were ever open at the same time. One client per account keeps it
// at 1; a second login before the first socket closed makes it 2.
func (s *Server) MaxConcurrentLogins(jid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[normJID(jid)]; st != nil {
		return st.maxOpen
	}
	return 0
}

// LoggedIn returns how many logged-in sockets of the device are open now.
func (s *Server) LoggedIn(jid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[normJID(jid)]; st != nil {
		return st.open
	}
	return 0
}

// LiveSockets returns how many websocket connections are open now, logged in or
// not.
func (s *Server) LiveSockets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.socks)
}

// Logins returns how many times the device logged in successfully.
func (s *Server) Logins(jid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[normJID(jid)]; st != nil {
		return st.logins
	}
	return 0
}

// Unlinked reports whether the device unlinked itself (whatsmeow's Logout sends
// remove-companion-device).
func (s *Server) Unlinked(jid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[normJID(jid)]
	return st != nil && st.unlinked
}

// Devices returns the JIDs of the paired devices the server knows, sorted.
func (s *Server) Devices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.devices))
	for jid := range s.devices {
		out = append(out, jid)
	}
	slices.Sort(out)
	return out
}

// normJID returns the canonical form of a device JID string, so that callers may
// pass any spelling types.ParseJID accepts.
func normJID(jid string) string {
	parsed, err := types.ParseJID(jid)
	if err != nil {
		return jid
	}
	return parsed.String()
}

// newID returns a fresh stanza ID. s.mu must be held.
func (s *Server) newIDLocked() string {
	s.nextID++
	return fmt.Sprintf("fakewa.%d", s.nextID)
}

// statsLocked returns the device's counters, creating them. s.mu must be held.
func (s *Server) statsLocked(jid string) *stats {
	st := s.stats[jid]
	if st == nil {
		st = &stats{}
		s.stats[jid] = st
	}
	return st
}

// phoneLocked returns the simulated phone with this number, creating it. s.mu
// must be held.
func (s *Server) phoneLocked(user string) *phone {
	if p := s.phones[user]; p != nil {
		return p
	}
	p := &phone{
		user:    user,
		lid:     fmt.Sprintf("%d", 100_000_000_000_000+s.rng.Int64N(900_000_000_000_000)),
		key:     keyPairFromSeed(fmt.Appendf(nil, "fakewa account %d %s", s.seed, user)),
		rawID:   s.rng.Uint32(),
		preKeys: s.preKeys,
	}
	p.setDevices(1)
	s.phones[user] = p
	s.lids[p.lid] = p
	return p
}

// newPhoneLocked makes a simulated phone with a fresh fake number, 1555000XXXX
// while those last. s.mu must be held.
func (s *Server) newPhoneLocked() *phone {
	for i := 0; ; i++ {
		user := fmt.Sprintf("1555000%04d", s.rng.IntN(10_000))
		if i >= 100 {
			user = fmt.Sprintf("1555%07d", s.rng.IntN(10_000_000))
		}
		if s.phones[user] == nil {
			return s.phoneLocked(user)
		}
	}
}
