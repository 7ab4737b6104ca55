package fakewa

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	"golang.org/x/crypto/curve25519"
	"google.golang.org/protobuf/proto"
)

// qrLinkPrefix is how other WhatsApp Web clients prefix their QR codes; the
// phone accepts codes with and without it.
const qrLinkPrefix = "https://wa.me/settings/linked_devices#"

// ScanQR is a simulated phone scanning a companion's QR code. It accepts
// "ref,noise,identity,adv" and the "https://wa.me/settings/linked_devices#ref,noise,identity,adv[,platform]"
// form, while the code is shown (60 s for the first, 20 s for each other). It
// sends the companion a signed pair-success, waits for its
// pair-device-sign, then sends 515 so that it logs in. It returns the new
// companion device's JID ("15550001234:1@s.whatsapp.net") on a fresh fake
// phone number.
func (s *Server) ScanQR(code string) (string, error) {
	parts := strings.Split(strings.TrimPrefix(strings.TrimSpace(code), qrLinkPrefix), ",")
	if len(parts) < 4 || len(parts) > 5 {
		return "", fmt.Errorf("scan qr: %d fields: %w", len(parts), ErrBadCode)
	}
	ref := parts[0]
	var keys [3][]byte
	for i, part := range parts[1:4] {
		b, err := base64.StdEncoding.DecodeString(part)
		if err != nil || len(b) != 32 {
			return "", fmt.Errorf("scan qr: field %d is not a base64 32-byte key: %w", i+2, ErrBadCode)
		}
		keys[i] = b
	}
	noisePub, identityPub, advSecret := keys[0], keys[1], keys[2]

	now := s.now()
	s.mu.Lock()
	qr, ok := s.refs[ref]
	if !ok || now.After(qr.expires) {
		s.mu.Unlock()
		return "", fmt.Errorf("scan qr: %w", ErrUnknownRef)
	}
	c := qr.sock
	if !bytes.Equal(noisePub, c.clientStatic[:]) {
		s.mu.Unlock()
		return "", fmt.Errorf("scan qr: noise key does not match the socket that got the ref: %w", ErrBadCode)
	}
	for _, r := range c.refs { // a QR code is scanned once
		delete(s.refs, r)
	}
	c.refs = nil
	p := s.newPhoneLocked()
	s.mu.Unlock()

	jid, err := s.completePairing(c, p, identityPub, advSecret)
	if err != nil {
		return "", fmt.Errorf("scan qr: %w", err)
	}
	return jid, nil
}

// completePairing links the companion on socket c to phone p: the steps after
// the phone learned the companion's identity key and the shared adv secret.
func (s *Server) completePairing(c *sock, p *phone, identityPub, advSecret []byte) (string, error) {
	s.mu.Lock()
	for _, r := range c.refs { // a linked companion needs no QR codes
		delete(s.refs, r)
	}
	c.refs = nil
	p.nextDevice++
	jid := types.JID{User: p.user, Device: p.nextDevice, Server: types.DefaultUserServer}
	lid := types.JID{User: p.lid, Device: p.nextDevice, Server: types.HiddenUserServer}
	id := s.newIDLocked()
	s.mu.Unlock()

	details, err := proto.Marshal(&waAdv.ADVDeviceIdentity{
		RawID:       proto.Uint32(p.rawID),
		Timestamp:   proto.Uint64(uint64(time.Now().Unix())),
		KeyIndex:    proto.Uint32(uint32(jid.Device)),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
		DeviceType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return "", fmt.Errorf("marshal device identity: %w", err)
	}
	signed, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentity{
		Details:             details,
		AccountSignatureKey: p.key.Pub[:],
		AccountSignature:    sign(p.key, concat(whatsmeow.AdvAccountSignaturePrefix, details, identityPub)),
	})
	if err != nil {
		return "", fmt.Errorf("marshal signed device identity: %w", err)
	}
	mac := hmac.New(sha256.New, advSecret)
	mac.Write(signed)
	container, err := proto.Marshal(&waAdv.ADVSignedDeviceIdentityHMAC{
		Details:     signed,
		HMAC:        mac.Sum(nil),
		AccountType: waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		return "", fmt.Errorf("marshal device identity container: %w", err)
	}

	ctx, cancel := context.WithTimeout(c.ctx, s.pairTimeout)
	defer cancel()
	resp, err := c.request(ctx, waBinary.Node{
		Tag:   "iq",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "set", "id": id, "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-success", Content: []waBinary.Node{
			{Tag: "device-identity", Content: container},
			{Tag: "platform", Attrs: waBinary.Attrs{"name": "android"}},
			{Tag: "device", Attrs: waBinary.Attrs{"jid": jid, "lid": lid}},
		}}},
	})
	if err != nil {
		return "", err
	}
	if typ, _ := resp.Attrs["type"].(string); typ != "result" {
		return "", fmt.Errorf("%w: %s", ErrPairingRefused, resp.XMLString())
	}
	signedBack, _ := resp.GetChildByTag("pair-device-sign", "device-identity").Content.([]byte)
	var back waAdv.ADVSignedDeviceIdentity
	if err := proto.Unmarshal(signedBack, &back); err != nil {
		return "", fmt.Errorf("unmarshal pair-device-sign: %w", err)
	}
	deviceMsg := concat(whatsmeow.AdvDeviceSignaturePrefix, back.GetDetails(), identityPub, p.key.Pub[:])
	if !verify(identityPub, deviceMsg, back.GetDeviceSignature()) {
		return "", fmt.Errorf("%w: bad device signature in pair-device-sign", ErrPairingRefused)
	}

	key := jid.String()
	s.mu.Lock()
	s.devices[key] = &device{jid: jid, lid: lid, noiseKey: c.clientStatic}
	s.statsLocked(key)
	s.refuse += s.afterPair // before the 515: its reconnect is refused
	s.afterPair = 0
	s.mu.Unlock()
	s.saveState()
	s.log.Debug("fakewa: device paired", "jid", key)
	s.streamError(c, "515", "") // the companion reconnects and logs in
	return key, nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// The phone-code ("link code") pairing flow, from pair-code.go's other side:
//  1. The companion (whatsmeow's PairPhone) sends companion_hello: its
//     ephemeral key, encrypted with a key derived from the 8-character code it
//     shows. The server answers with a pairing ref.
//  2. The phone's user types the code (EnterPhoneCode). The phone decrypts the
//     companion's ephemeral key, and sends its own, encrypted the same way, with
//     its identity key, in a notification.
//  3. The companion answers companion_finish: a key bundle sealed with a key from
//     the two ephemeral keys. It opens only if both sides used the same code.
//  4. Both sides derive the adv secret, and pairing ends as with a QR code.

// linkCodeIterations is the PBKDF2 cost whatsmeow uses for the code key (2<<16).
const linkCodeIterations = 2 << 16

// linkCode is a companion waiting for its code to be typed on the phone.
type linkCode struct {
	sock    *sock
	phone   string // the phone number the companion asked to link to
	ref     string
	wrapped []byte              // salt(32) | iv(16) | encrypted ephemeral key(32)
	finish  chan *waBinary.Node // the companion_finish stage, once it comes
	seq     uint64              // newer registrations win
	entered bool                // the code was typed; guarded by Server.mu
}

// linkCodeStage answers the companion's link_code_companion_reg IQ.
func (s *Server) linkCodeStage(c *sock, id string, reg waBinary.Node) waBinary.Node {
	stage, _ := reg.Attrs["stage"].(string)
	switch stage {
	case "companion_hello":
		jid, _ := reg.Attrs["jid"].(types.JID)
		wrapped, _ := reg.GetChildByTag("link_code_pairing_wrapped_companion_ephemeral_pub").Content.([]byte)
		authKey, _ := reg.GetChildByTag("companion_server_auth_key_pub").Content.([]byte)
		if jid.User == "" || len(wrapped) != 80 || !bytes.Equal(authKey, c.clientStatic[:]) {
			return errorNode(id, 400, "bad-request")
		}
		ref := newRef()
		s.mu.Lock()
		s.nextID++
		s.linkCodes[ref] = &linkCode{sock: c, phone: jid.User, ref: ref, wrapped: wrapped, finish: make(chan *waBinary.Node, 1), seq: s.nextID}
		s.mu.Unlock()
		return resultNode(id, waBinary.Node{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(ref)},
		}})
	case "companion_finish":
		ref, _ := reg.GetChildByTag("link_code_pairing_ref").Content.([]byte)
		s.mu.Lock()
		lc := s.linkCodes[string(ref)]
		s.mu.Unlock()
		if lc == nil || lc.sock != c {
			return errorNode(id, 404, "item-not-found")
		}
		select {
		case lc.finish <- &reg:
		default:
		}
		return resultNode(id)
	}
	return errorNode(id, 400, "bad-request")
}

// EnterPhoneCode is the phone's user typing the code a companion shows after
// whatsmeow's PairPhone(phone, …). It completes the link-code pairing and, like
// ScanQR, ends with a 515 so that the companion logs in. A code that is not the
// one the companion shows fails with ErrWrongCode.
func (s *Server) EnterPhoneCode(phone, code string) error {
	user := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, phone)
	code = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(code) != 8 {
		return fmt.Errorf("enter phone code: %q: %w", code, ErrBadCode)
	}

	s.mu.Lock()
	var lc *linkCode
	for _, cand := range s.linkCodes {
		if cand.phone == user && !cand.entered && (lc == nil || cand.seq > lc.seq) {
			lc = cand
		}
	}
	if lc == nil {
		s.mu.Unlock()
		return fmt.Errorf("enter phone code: %w", ErrNoPendingPair)
	}
	lc.entered = true // one try per code, as on the phone
	p := s.phoneLocked(user)
	id := s.newIDLocked()
	s.mu.Unlock()
	c := lc.sock
	defer func() {
		s.mu.Lock()
		delete(s.linkCodes, lc.ref)
		s.mu.Unlock()
	}()

	// 2. Unwrap the companion's ephemeral key and send ours, wrapped with the code.
	companionEphemeral, err := linkCodeCrypt(code, lc.wrapped[0:32], lc.wrapped[32:48], lc.wrapped[48:80])
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	ephemeral := keys.NewKeyPair()
	salt, iv := randomBytes(32), randomBytes(16)
	wrappedEphemeral, err := linkCodeCrypt(code, salt, iv, ephemeral.Pub[:])
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	err = c.sendNode(waBinary.Node{
		Tag:   "notification",
		Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "link_code_companion_reg", "id": id, "t": fmt.Sprint(time.Now().Unix())},
		Content: []waBinary.Node{{Tag: "link_code_companion_reg", Content: []waBinary.Node{
			{Tag: "link_code_pairing_ref", Content: []byte(lc.ref)},
			{Tag: "link_code_pairing_wrapped_primary_ephemeral_pub", Content: concat(salt, iv, wrappedEphemeral)},
			{Tag: "primary_identity_pub", Content: p.key.Pub[:]},
		}}},
	})
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}

	// 3. Wait for the companion's key bundle and open it.
	var finish *waBinary.Node
	select {
	case finish = <-lc.finish:
	case <-c.ctx.Done():
		return fmt.Errorf("enter phone code: the companion disconnected")
	case <-time.After(s.pairTimeout):
		return fmt.Errorf("enter phone code: no companion_finish within %v", s.pairTimeout)
	}
	bundle, _ := finish.GetChildByTag("link_code_pairing_wrapped_key_bundle").Content.([]byte)
	if len(bundle) < 32+12 {
		return fmt.Errorf("enter phone code: key bundle of %d bytes: %w", len(bundle), ErrPairingRefused)
	}
	ephemeralShared, err := curve25519.X25519(ephemeral.Priv[:], companionEphemeral)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	bundleKey, err := hkdf.Key(sha256.New, ephemeralShared, bundle[:32], "link_code_pairing_key_bundle_encryption_key", 32)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	gcm, err := newGCM(bundleKey)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	plain, err := gcm.Open(nil, bundle[32:44], bundle[44:], nil)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", ErrWrongCode)
	}
	if len(plain) != 96 || !bytes.Equal(plain[32:64], p.key.Pub[:]) {
		return fmt.Errorf("enter phone code: unexpected key bundle: %w", ErrPairingRefused)
	}
	identityPub, advRandom := plain[0:32], plain[64:96]

	// 4. The adv secret, as the companion derives it.
	identityShared, err := curve25519.X25519(p.key.Priv[:], identityPub)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	advSecret, err := hkdf.Key(sha256.New, concat(ephemeralShared, identityShared, advRandom), nil, "adv_secret", 32)
	if err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	if _, err := s.completePairing(c, p, identityPub, advSecret); err != nil {
		return fmt.Errorf("enter phone code: %w", err)
	}
	return nil
}

// linkCodeCrypt encrypts or decrypts (AES-CTR is its own inverse) a 32-byte
// ephemeral key with the key derived from the pairing code and salt.
func linkCodeCrypt(code string, salt, iv, data []byte) ([]byte, error) {
	key, err := pbkdf2.Key(sha256.New, code, salt, linkCodeIterations, 32)
	if err != nil {
		return nil, fmt.Errorf("derive code key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("code cipher: %w", err)
	}
	out := make([]byte, len(data))
	cipher.NewCTR(block, iv).XORKeyStream(out, data)
	return out, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
