package fakewa

import (
	"crypto/sha1"
	"encoding/binary"
	"maps"
	"slices"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// uploadedKeys are the Signal keys a companion uploaded (<iq xmlns="encrypt"
// type="set"><registration>…): what the server hands out of it, and what it
// sums up in the digest a client asks for at login to check that the server
// still has its keys (<iq xmlns="encrypt" type="get"><digest/>).
type uploadedKeys struct {
	registration []byte
	keyType      []byte
	identity     []byte
	skeyID       []byte
	skey         []byte
	skeySig      []byte
	prekeys      map[uint32][]byte // one-time prekey ID → public key
}

// readUpload adds the keys of a registration upload to k.
func (k *uploadedKeys) readUpload(iq *waBinary.Node) {
	bytesOf := func(n waBinary.Node) []byte { b, _ := n.Content.([]byte); return b }
	for _, child := range iq.GetChildren() {
		switch child.Tag {
		case "registration":
			k.registration = bytesOf(child)
		case "type":
			k.keyType = bytesOf(child)
		case "identity":
			k.identity = bytesOf(child)
		case "skey":
			k.skeyID = bytesOf(child.GetChildByTag("id"))
			k.skey = bytesOf(child.GetChildByTag("value"))
			k.skeySig = bytesOf(child.GetChildByTag("signature"))
		}
	}
	if k.prekeys == nil {
		k.prekeys = make(map[uint32][]byte)
	}
	list := iq.GetChildByTag("list")
	for _, key := range list.GetChildren() {
		id, value := bytesOf(key.GetChildByTag("id")), bytesOf(key.GetChildByTag("value"))
		if key.Tag != "key" || len(id) != 3 || len(value) != 32 {
			continue
		}
		k.prekeys[binary.BigEndian.Uint32(append([]byte{0}, id...))] = value
	}
}

// digestNode is the server's answer to a digest query: the registration ID,
// the identity and signed prekey, the IDs of the one-time prekeys it holds,
// and a SHA-1 over the identity, the signed prekey and its signature, and the
// one-time prekeys' public keys in ID order, which the client compares with
// its own keys to decide whether to upload them again.
func (k *uploadedKeys) digestNode() waBinary.Node {
	ids := make([]uint32, 0, len(k.prekeys))
	for id := range k.prekeys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha1.New()
	h.Write(k.identity)
	h.Write(k.skey)
	h.Write(k.skeySig)
	list := make([]waBinary.Node, len(ids))
	for i, id := range ids {
		h.Write(k.prekeys[id])
		list[i] = waBinary.Node{Tag: "id", Content: keyID(id)}
	}
	return waBinary.Node{Tag: "digest", Content: append(k.keyNodes(),
		waBinary.Node{Tag: "list", Content: list},
		waBinary.Node{Tag: "hash", Content: h.Sum(nil)},
	)}
}

// keyNodes are the companion's registration, identity and signed prekey, as
// both a digest and a bundle carry them.
func (k *uploadedKeys) keyNodes() []waBinary.Node {
	return []waBinary.Node{
		{Tag: "registration", Content: k.registration},
		{Tag: "type", Content: k.keyType},
		{Tag: "identity", Content: k.identity},
		{Tag: "skey", Content: []waBinary.Node{
			{Tag: "id", Content: k.skeyID},
			{Tag: "value", Content: k.skey},
			{Tag: "signature", Content: k.skeySig},
		}},
	}
}

// bundleNode hands out a prekey bundle of the companion's uploaded keys, with
// its lowest one-time prekey, which the server then forgets (each goes into
// one bundle), or the signed prekey alone when none is left.
func (k *uploadedKeys) bundleNode(jid types.JID) waBinary.Node {
	content := k.keyNodes()
	if len(k.prekeys) > 0 {
		id := slices.Min(slices.Collect(maps.Keys(k.prekeys)))
		content = append(content, waBinary.Node{Tag: "key", Content: []waBinary.Node{
			{Tag: "id", Content: keyID(id)},
			{Tag: "value", Content: k.prekeys[id]},
		}})
		delete(k.prekeys, id)
	}
	return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid}, Content: content}
}
