package fakewa

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.mau.fi/libsignal/ecc"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/state/store"
	waBinary "go.mau.fi/whatsmeow/binary"
	wastore "go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// A peer is a simulated device that receives messages: an account's primary
// phone (device 0), or one of a contact's devices. It has real Signal keys, the
// server hands out its prekey bundle, and it decrypts what companions send it
// with libsignal, the way a phone does. Its private keys come from its phone's
// key, so only its sessions and prekey counter need keeping.

// signedPreKeyID is the ID of every peer's signed prekey.
const signedPreKeyID = 1

// defaultOneTimePreKeys is how many one-time prekeys a simulated device keeps
// on the server when Config.OneTimePreKeys is zero.
const defaultOneTimePreKeys = 50

var pb = wastore.SignalProtobufSerializer

// errNoGroups is returned by the sender-key store: fakewa simulates one-to-one
// messages only.
var errNoGroups = errors.New("fakewa: group messages are not simulated")

type peer struct {
	jid      types.JID
	regID    uint32
	identity *keys.KeyPair
	signed   *keys.PreKey
	seed     string // derives the one-time prekeys

	pool     uint32     // how many one-time prekeys it keeps on the server
	mu       sync.Mutex // guards the following, and orders decryption
	sessions map[string][]byte
	trusted  map[string][32]byte
	next     uint32          // the next one-time prekey ID to hand out
	top      uint32          // the highest one-time prekey ID uploaded: next..top are on the server
	used     map[uint32]bool // one-time prekeys a session was built with
}

// newPeer derives the device's keys from its phone's key.
func newPeer(p *phone, device uint16) *peer {
	seed := fmt.Sprintf("fakewa peer %x %d", p.key.Priv[:], device)
	id := keyPairFromSeed([]byte(seed + " identity"))
	if device == 0 {
		// The phone's Signal identity is the account's key, which signs
		// its companions' identities and its key index list, and which a
		// companion stores at pairing as its phone's identity.
		id = p.key
	}
	spk := keyPairFromSeed([]byte(seed + " signed prekey"))
	regID := binary.BigEndian.Uint32(keyPairFromSeed([]byte(seed + " registration")).Pub[:4])&0x3fff + 1
	return &peer{
		pool:     p.preKeys,
		top:      p.preKeys,
		jid:      types.JID{User: p.user, Device: device, Server: types.DefaultUserServer},
		regID:    regID,
		identity: id,
		signed:   &keys.PreKey{KeyPair: *spk, KeyID: signedPreKeyID, Signature: id.Sign(spk)},
		seed:     seed,
		sessions: make(map[string][]byte),
		trusted:  make(map[string][32]byte),
		next:     1,
		used:     make(map[uint32]bool),
	}
}

// state returns what the peer keeps across restarts.
func (p *peer) state() peerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := peerState{Sessions: make(map[string][]byte, len(p.sessions)), Next: p.next, Top: p.top}
	for addr, raw := range p.sessions {
		st.Sessions[addr] = raw
	}
	for id := range p.used {
		st.Used = append(st.Used, id)
	}
	slices.Sort(st.Used)
	return st
}

// oneTimeKey returns the one-time prekey with this ID.
func (p *peer) oneTimeKey(id uint32) *keys.KeyPair {
	return keyPairFromSeed(fmt.Appendf(nil, "%s prekey %d", p.seed, id))
}

// bundleNode hands out the peer's prekey bundle in the shape of the server's
// answer to <iq xmlns="encrypt" type="get"><key>. As on the real server, each
// one-time prekey goes into one bundle only, and when the device has none left
// on the server the bundle has the signed prekey alone.
func (p *peer) bundleNode(jid types.JID) waBinary.Node {
	p.mu.Lock()
	id := p.next
	if id <= p.top {
		p.next++
	}
	p.mu.Unlock()
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], p.regID)
	content := []waBinary.Node{
		{Tag: "registration", Content: reg[:]},
		{Tag: "type", Content: []byte{ecc.DjbType}},
		{Tag: "identity", Content: p.identity.Pub[:]},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: keyID(p.signed.KeyID)},
			{Tag: "value", Content: p.signed.Pub[:]},
			{Tag: "signature", Content: p.signed.Signature[:]},
		}},
	}
	if id <= p.top {
		otk := p.oneTimeKey(id)
		content = append(content, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID(id)},
			{Tag: "value", Content: otk.Pub[:]},
		}})
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: content}
}

// handedOut reports whether the one-time prekey id went into a bundle. p.mu
// must be held.
func (p *peer) handedOut(id uint32) bool { return id > 0 && id < p.next }

func keyID(id uint32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return b[1:]
}

// decrypt opens one <enc> node from the sender device, as a phone would, and
// strips whatsmeow's padding.
func (p *peer) decrypt(from types.JID, enc waBinary.Node) ([]byte, error) {
	content, ok := enc.Content.([]byte)
	if !ok {
		return nil, errors.New("enc content is not bytes")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx := context.Background()
	addr := from.SignalAddress()
	cipher := session.NewCipher(session.NewBuilderFromSignal(p, addr, pb), addr)
	var plain []byte
	var err error
	switch typ, _ := enc.Attrs["type"].(string); typ {
	case "pkmsg":
		var msg *protocol.PreKeySignalMessage
		if msg, err = protocol.NewPreKeySignalMessageFromBytes(content, pb.PreKeySignalMessage, pb.SignalMessage); err == nil {
			plain, err = cipher.DecryptMessage(ctx, msg)
		}
	case "msg":
		var msg *protocol.SignalMessage
		if msg, err = protocol.NewSignalMessageFromBytes(content, pb.SignalMessage); err == nil {
			plain, err = cipher.Decrypt(ctx, msg)
		}
	default:
		return nil, fmt.Errorf("enc type %q", typ)
	}
	if err != nil {
		return nil, err
	}
	// The device is online: it tops its one-time prekeys on the server up
	// again, as a phone does when the server says it is running low.
	if 2*(p.top-(p.next-1)) < p.pool {
		p.top = p.next - 1 + p.pool
	}
	if len(plain) == 0 || int(plain[len(plain)-1]) > len(plain) {
		return nil, errors.New("bad padding")
	}
	return plain[:len(plain)-int(plain[len(plain)-1])], nil
}

// The libsignal store of the peer. Its methods run under p.mu, held by decrypt.

var _ store.SignalProtocol = (*peer)(nil)

func (p *peer) GetIdentityKeyPair() *identity.KeyPair {
	return identity.NewKeyPair(identity.NewKey(ecc.NewDjbECPublicKey(*p.identity.Pub)), ecc.NewDjbECPrivateKey(*p.identity.Priv))
}

func (p *peer) GetLocalRegistrationID() uint32 { return p.regID }

func (p *peer) SaveIdentity(_ context.Context, addr *protocol.SignalAddress, key *identity.Key) error {
	p.trusted[addr.String()] = key.PublicKey().PublicKey()
	return nil
}

// IsTrustedIdentity trusts on first use, and trusts a changed key too: a
// companion that re-paired has a new identity, as on a real phone.
func (p *peer) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

// LoadPreKey loads any one-time prekey the server handed out, also one a
// session was already built with: whatsmeow, sending to its own number, lists
// the phone twice and builds two sessions from the one bundle (send.go,
// encryptMessageForDevices), and keeps sending prekey messages of the second
// until the phone answers. A real phone would ask for the message again with
// a retry receipt, which fakewa does not simulate; keeping the key reads it.
func (p *peer) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	if !p.handedOut(id) {
		return nil, fmt.Errorf("fakewa: no prekey %d", id)
	}
	kp := p.oneTimeKey(id)
	return record.NewPreKey(id, ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*kp.Pub), ecc.NewDjbECPrivateKey(*kp.Priv)), nil), nil
}

func (p *peer) StorePreKey(context.Context, uint32, *record.PreKey) error {
	return errors.New("fakewa: prekeys are derived, not stored")
}

func (p *peer) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	return p.handedOut(id), nil
}

func (p *peer) RemovePreKey(_ context.Context, id uint32) error {
	p.used[id] = true
	return nil
}

func (p *peer) LoadSession(_ context.Context, addr *protocol.SignalAddress) (*record.Session, error) {
	raw, ok := p.sessions[addr.String()]
	if !ok {
		return record.NewSession(pb.Session, pb.State), nil
	}
	return record.NewSessionFromBytes(raw, pb.Session, pb.State)
}

func (p *peer) GetSubDeviceSessions(context.Context, string) ([]uint32, error) {
	return nil, errors.New("fakewa: not simulated")
}

func (p *peer) StoreSession(_ context.Context, addr *protocol.SignalAddress, rec *record.Session) error {
	p.sessions[addr.String()] = rec.Serialize()
	return nil
}

func (p *peer) ContainsSession(_ context.Context, addr *protocol.SignalAddress) (bool, error) {
	_, ok := p.sessions[addr.String()]
	return ok, nil
}

func (p *peer) DeleteSession(_ context.Context, addr *protocol.SignalAddress) error {
	delete(p.sessions, addr.String())
	return nil
}

func (p *peer) DeleteAllSessions(context.Context) error {
	clear(p.sessions)
	return nil
}

func (p *peer) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	if id != p.signed.KeyID {
		return nil, fmt.Errorf("fakewa: no signed prekey %d", id)
	}
	kp := ecc.NewECKeyPair(ecc.NewDjbECPublicKey(*p.signed.Pub), ecc.NewDjbECPrivateKey(*p.signed.Priv))
	return record.NewSignedPreKey(id, 0, kp, *p.signed.Signature, nil), nil
}

func (p *peer) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	rec, err := p.LoadSignedPreKey(ctx, p.signed.KeyID)
	return []*record.SignedPreKey{rec}, err
}

func (p *peer) StoreSignedPreKey(context.Context, uint32, *record.SignedPreKey) error {
	return errors.New("fakewa: the signed prekey is derived, not stored")
}

func (p *peer) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	return id == p.signed.KeyID, nil
}

func (p *peer) RemoveSignedPreKey(context.Context, uint32) error {
	return errors.New("fakewa: the signed prekey is derived, not stored")
}

func (p *peer) StoreSenderKey(context.Context, *protocol.SenderKeyName, *groupRecord.SenderKey) error {
	return errNoGroups
}

func (p *peer) LoadSenderKey(context.Context, *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	return nil, errNoGroups
}
