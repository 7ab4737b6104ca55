package fakewa

import (
	"slices"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"google.golang.org/protobuf/proto"
)

// advKeyIndexListPrefix starts what an account signs in its key index list,
// as advAccountSignaturePrefix ([6, 0]) does for a device identity and [6, 1]
// for the device's own signature (whatsmeow's pair.go; [6, 2] is the key
// index list's in WhatsApp Web).
var advKeyIndexListPrefix = []byte{6, 2}

// deviceListLocked is the <devices> node of a usync answer for the account of
// phone p, as the real server builds it: every device of the account (the
// phone, its simulated devices, its paired companions), each but the phone
// with its key index, and the key index list that the account signed, which
// a client checks the companions against. s.mu must be held.
func (s *Server) deviceListLocked(p *phone, now time.Time) waBinary.Node {
	ids := make([]uint16, 0, len(p.peers)+1)
	for _, pr := range p.peers {
		ids = append(ids, pr.jid.Device)
	}
	for _, d := range s.devices {
		if d.jid.User == p.user {
			ids = append(ids, d.jid.Device)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list := make([]waBinary.Node, 0, len(ids))
	var valid []uint32
	for _, id := range ids {
		attrs := waBinary.Attrs{"id": strconv.Itoa(int(id))}
		if id != 0 {
			attrs["key-index"] = strconv.Itoa(int(id)) // the key index of a companion is its device ID, as pairing set it
			valid = append(valid, uint32(id))
		}
		list = append(list, waBinary.Node{Tag: "device", Attrs: attrs})
	}
	content := []waBinary.Node{{Tag: "device-list", Content: list}}
	if len(ids) > 0 {
		content = append(content, p.keyIndexList(valid, now))
	}
	return waBinary.Node{Tag: "devices", Content: content}
}

// keyIndexList is the <key-index-list> of the phone's account: the key
// indexes of its companions, signed with the account's identity key.
func (p *phone) keyIndexList(valid []uint32, now time.Time) waBinary.Node {
	current := uint32(0)
	if len(valid) > 0 {
		current = valid[len(valid)-1]
	}
	ts := uint64(now.Unix())
	details, err := proto.Marshal(&waAdv.ADVKeyIndexList{
		RawID:        proto.Uint32(p.rawID),
		Timestamp:    proto.Uint64(ts),
		CurrentIndex: proto.Uint32(current),
		ValidIndexes: valid,
		AccountType:  waAdv.ADVEncryptionType_E2EE.Enum(),
	})
	if err != nil {
		panic("fakewa: marshal key index list: " + err.Error()) // a message of scalars always marshals
	}
	signed, err := proto.Marshal(&waAdv.ADVSignedKeyIndexList{
		Details:             details,
		AccountSignature:    sign(p.key, concat(advKeyIndexListPrefix, details)),
		AccountSignatureKey: p.key.Pub[:],
	})
	if err != nil {
		panic("fakewa: marshal signed key index list: " + err.Error())
	}
	return waBinary.Node{Tag: "key-index-list", Attrs: waBinary.Attrs{"ts": strconv.FormatUint(ts, 10)}, Content: signed}
}
