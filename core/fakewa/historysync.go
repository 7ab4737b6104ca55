package fakewa

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/util/optional"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"
)

// The history sync. A phone past its LID migration (Config.LIDMigration)
// sends a new companion, once the companion has uploaded its keys, the
// initial history sync as a peer protocol message from device 0, encrypted
// with the companion's prekey bundle. The history sync rides inline
// (InitialHistBootstrapInlinePayload, zlib-compressed, so no media upload)
// and holds what whatsmeow reads of the migration (message.go,
// DownloadHistorySync): GlobalSettings.ChatDbLidMigrationTimestamp, which
// sets the companion's Store.LIDMigrationTimestamp, and the account's phone
// number to LID mapping. fakewa sends no chats.

// sendHistorySync sends c's companion the phone's initial history sync, once
// per companion.
func (s *Server) sendHistorySync(c *sock) {
	s.mu.Lock()
	dev := s.devices[c.jid]
	s.mu.Unlock()
	if dev == nil {
		return
	}
	// The phone's messages to the device go out in the order it encrypts
	// them (see push).
	dev.deliverMu.Lock()
	defer dev.deliverMu.Unlock()
	s.mu.Lock()
	if !s.lidMigration || !c.loggedIn || s.devices[c.jid] != dev || dev.keys == nil || dev.historySynced {
		s.mu.Unlock()
		return
	}
	p := s.phones[dev.jid.User]
	if p == nil || len(p.peers) == 0 {
		s.mu.Unlock()
		return
	}
	dev.historySynced = true
	phone, to := p.peers[0], dev.jid
	var bundle waBinary.Node // none: the phone reuses its session with the device
	if !phone.hasSession(to) {
		bundle = dev.keys.bundleNode(dev.jid)
		dev.prekeys = len(dev.keys.prekeys)
	}
	pn := types.JID{User: p.user, Server: types.DefaultUserServer}
	lid := types.JID{User: p.lid, Server: types.HiddenUserServer}
	now := s.now()
	s.mu.Unlock()
	s.saveState()

	plain, err := historySyncMessage(pn, lid, now.Unix())
	if err == nil {
		var enc waBinary.Node
		if enc, err = phone.encrypt(to, bundle, plain); err == nil {
			err = c.sendNode(waBinary.Node{Tag: "message", Attrs: waBinary.Attrs{
				"from":     pn,
				"id":       newMessageID(),
				"t":        strconv.FormatInt(now.Unix(), 10),
				"type":     "text",
				"category": "peer",
			}, Content: []waBinary.Node{enc}})
		}
	}
	if err != nil {
		c.log.Warn("fakewa: the phone could not send its history sync", "device", c.jid, "err", err)
	}
}

// historySyncMessage is the plaintext of the phone's protocol message that
// carries the initial history sync.
func historySyncMessage(pn, lid types.JID, migratedAt int64) ([]byte, error) {
	hs, err := proto.Marshal(&waHistorySync.HistorySync{
		SyncType:       waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		ChunkOrder:     proto.Uint32(1),
		Progress:       proto.Uint32(100),
		GlobalSettings: &waHistorySync.GlobalSettings{ChatDbLidMigrationTimestamp: proto.Int64(migratedAt)},
		PhoneNumberToLidMappings: []*waHistorySync.PhoneNumberToLIDMapping{
			{PnJID: proto.String(pn.String()), LidJID: proto.String(lid.String())},
		},
	})
	if err != nil {
		return nil, err
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	if _, err := zw.Write(hs); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return proto.Marshal(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_HISTORY_SYNC_NOTIFICATION.Enum(),
		HistorySyncNotification: &waE2E.HistorySyncNotification{
			SyncType:                          waE2E.HistorySyncType_INITIAL_BOOTSTRAP.Enum(),
			ChunkOrder:                        proto.Uint32(1),
			Progress:                          proto.Uint32(100),
			InitialHistBootstrapInlinePayload: z.Bytes(),
		},
	}})
}

// newMessageID returns a message ID in the shape of a phone's.
func newMessageID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "3A" + hex.EncodeToString(b)
}

// encrypt seals plain for the companion to, padded as whatsmeow pads, with
// the peer's Signal session with it. When bundle is a prekey bundle (a <user>
// node as prekeyBundles hands it out, or the keys of a retry receipt) the
// session is built, or rebuilt, from it first; an empty node means the caller
// found a session to reuse (see hasSession). As libsignal does, the peer
// sends prekey messages (pkmsg) until it has decrypted a message of the
// companion's in the session, and plain messages (msg) after.
func (p *peer) encrypt(to types.JID, bundle waBinary.Node, plain []byte) (waBinary.Node, error) {
	var pre *prekey.Bundle
	if bundle.Tag != "" {
		var err error
		if pre, err = readBundle(uint32(to.Device), bundle); err != nil {
			return waBinary.Node{}, fmt.Errorf("bundle of %s: %w", to, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx := context.Background()
	addr := to.SignalAddress()
	builder := session.NewBuilderFromSignal(p, addr, pb)
	if pre != nil {
		if err := builder.ProcessBundle(ctx, pre); err != nil {
			return waBinary.Node{}, fmt.Errorf("session with %s: %w", to, err)
		}
	} else if _, ok := p.sessions[addr.String()]; !ok {
		return waBinary.Node{}, fmt.Errorf("no session with %s and no prekey bundle", to)
	}
	pad := byte(len(plain)%15 + 1)
	msg, err := session.NewCipher(builder, addr).Encrypt(ctx, append(slices.Clip(plain), bytes.Repeat([]byte{pad}, int(pad))...))
	if err != nil {
		return waBinary.Node{}, fmt.Errorf("encrypt for %s: %w", to, err)
	}
	typ := "msg"
	if msg.Type() == protocol.PREKEY_TYPE {
		typ = "pkmsg"
	}
	return waBinary.Node{Tag: "enc", Attrs: waBinary.Attrs{"v": "2", "type": typ}, Content: msg.Serialize()}, nil
}

// hasSession reports whether the peer has a Signal session with the device.
func (p *peer) hasSession(jid types.JID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.sessions[jid.SignalAddress().String()]
	return ok
}

// readBundle reads a <user> node of a prekey bundle answer.
func readBundle(deviceID uint32, node waBinary.Node) (*prekey.Bundle, error) {
	bytesOf := func(n waBinary.Node) []byte { b, _ := n.Content.([]byte); return b }
	id := func(b []byte) uint32 { return binary.BigEndian.Uint32(append(make([]byte, 4-min(len(b), 4)), b...)) }
	reg, ident := bytesOf(node.GetChildByTag("registration")), bytesOf(node.GetChildByTag("identity"))
	skey := node.GetChildByTag("skey")
	spk, sig := bytesOf(skey.GetChildByTag("value")), bytesOf(skey.GetChildByTag("signature"))
	if len(reg) != 4 || len(ident) != 32 || len(spk) != 32 || len(sig) != 64 {
		return nil, errors.New("malformed bundle")
	}
	var otkID *optional.Uint32
	var otk ecc.ECPublicKeyable
	if key, ok := node.GetOptionalChildByTag("key"); ok {
		pub := bytesOf(key.GetChildByTag("value"))
		if len(pub) != 32 {
			return nil, errors.New("malformed one-time prekey")
		}
		otkID = optional.NewOptionalUint32(id(bytesOf(key.GetChildByTag("id"))))
		otk = ecc.NewDjbECPublicKey([32]byte(pub))
	}
	return prekey.NewBundle(binary.BigEndian.Uint32(reg), deviceID, otkID, id(bytesOf(skey.GetChildByTag("id"))),
		otk, ecc.NewDjbECPublicKey([32]byte(spk)), [64]byte(sig), identity.NewKey(ecc.NewDjbECPublicKey([32]byte(ident)))), nil
}
