package fakewa

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/proto/waWa6"
	"go.mau.fi/whatsmeow/types"
)

// qrRefCount is how many pair-device refs a registering client gets, as from the
// real server.
const qrRefCount = 6

// qrRefLifetime returns how long after the refs were sent the i-th (0-based)
// stays valid: whatsmeow shows the first for 60 s and each other for 20 s, and a
// phone can scan a code only while it is shown.
func qrRefLifetime(i int) time.Duration {
	return 60*time.Second + time.Duration(i)*20*time.Second
}

// qrRef is a ref handed to a registering socket.
type qrRef struct {
	sock    *sock
	expires time.Time
}

// login answers the login payload of a paired device: <success>, or <failure>
// for an unknown device, a wrong key, or a failure injected for this login. A
// second login of a device replaces the first, as on the real server. After
// <success> the device gets its offline queue (see deliverQueue).
func (s *Server) login(c *sock, p *waWa6.ClientPayload) {
	jid := types.JID{User: strconv.FormatUint(p.GetUsername(), 10), Device: uint16(p.GetDevice()), Server: types.DefaultUserServer}
	key := jid.String()

	s.mu.Lock()
	dev := s.devices[key]
	fail, injected := s.failNext[key]
	forget := false
	switch {
	case injected:
		delete(s.failNext, key)
		forget = fail.Kind == FaultFail401 && dev != nil
		if forget {
			delete(s.devices, key)
		}
	case dev == nil, dev.noiseKey != c.clientStatic:
		fail = Fault{Kind: FaultFail401}
	}
	if fail.Kind != 0 {
		s.mu.Unlock()
		c.log.Debug("fakewa: login refused", "jid", key, "fault", fail.Kind, "injected", injected)
		if forget {
			s.saveState()
		}
		_ = c.sendNode(failureNode(fail))
		s.closeSoon(c)
		return
	}
	c.jid = key
	c.loggedIn = true
	st := s.statsLocked(key)
	_, st.version = s.outdatedLocked(p)
	st.open++
	st.logins++
	st.maxOpen = max(st.maxOpen, st.open)
	var older []*sock
	for o := range s.socks {
		if o != c && o.loggedIn && o.jid == key {
			older = append(older, o)
		}
	}
	live := s.liveNext[key]
	delete(s.liveNext, key)
	lid := dev.lid
	s.mu.Unlock()

	c.log.Debug("fakewa: login", "jid", key, "replacing", len(older))
	_ = c.sendNode(waBinary.Node{Tag: "success", Attrs: waBinary.Attrs{
		"t":        strconv.FormatInt(time.Now().Unix(), 10),
		"lid":      lid,
		"location": "fakewa",
		"creation": strconv.FormatInt(time.Now().Unix(), 10),
	}})
	s.deliverQueue(c, dev)
	for _, o := range older {
		s.apply(o, Fault{Kind: FaultReplaced})
	}
	for _, f := range live {
		s.apply(c, f)
	}
}

// register answers a registration payload (a client that is not paired yet) with
// six QR refs for the simulated phone to scan.
func (s *Server) register(c *sock) {
	refs := make([]waBinary.Node, qrRefCount)
	now := s.now()
	s.mu.Lock()
	for i := range refs {
		ref := newRef()
		s.refs[ref] = qrRef{sock: c, expires: now.Add(qrRefLifetime(i))}
		c.refs = append(c.refs, ref)
		refs[i] = waBinary.Node{Tag: "ref", Content: []byte(ref)}
	}
	id := s.newIDLocked()
	s.mu.Unlock()
	_ = c.sendNode(waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "set", "id": id, "xmlns": "md"},
		Content: []waBinary.Node{{Tag: "pair-device", Content: refs}},
	})
}

// newRef returns a pairing ref in the shape of the real server's ("2@…").
func newRef() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "2@" + base64.StdEncoding.EncodeToString(b)
}

// handleNode answers one node from a client.
func (s *Server) handleNode(c *sock, node *waBinary.Node) {
	switch node.Tag {
	case "message":
		s.handleMessage(c, node)
		return
	case "receipt":
		s.handleReceipt(c, node)
		return
	case "iq":
	default:
		return // acks, presences: nothing to answer
	}
	id, _ := node.Attrs["id"].(string)
	typ, _ := node.Attrs["type"].(string)
	if typ == "result" || typ == "error" {
		c.deliver(node)
		return
	}
	xmlns, _ := node.Attrs["xmlns"].(string)
	var child waBinary.Node
	if children := node.GetChildren(); len(children) > 0 {
		child = children[0]
	}
	switch {
	case xmlns == "w:p":
		if c.stalled.Load() {
			return
		}
		_ = c.sendNode(resultNode(id))
	case xmlns == "encrypt" && typ == "get" && child.Tag == "count":
		_ = c.sendNode(resultNode(id, waBinary.Node{Tag: "count", Attrs: waBinary.Attrs{"value": strconv.Itoa(s.prekeys(c, nil))}}))
	case xmlns == "encrypt" && typ == "set" && child.Tag == "registration":
		s.prekeys(c, node)
		s.saveState()
		_ = c.sendNode(resultNode(id))
		s.sendHistorySync(c)
		s.pushTo(c.jidNow())
	case xmlns == "encrypt" && typ == "get" && child.Tag == "digest":
		_ = c.sendNode(s.digest(c, id))
	case xmlns == "passive" && typ == "set" && (child.Tag == "active" || child.Tag == "passive"):
		_ = c.sendNode(resultNode(id))
	case xmlns == "abt" && typ == "get" && child.Tag == "props":
		_ = c.sendNode(resultNode(id, propsNode(child)))
	case xmlns == "w" && typ == "get" && child.Tag == "props":
		_ = c.sendNode(resultNode(id, propsNode(child)))
	case xmlns == "blocklist" && typ == "get":
		_ = c.sendNode(resultNode(id, waBinary.Node{Tag: "list", Attrs: waBinary.Attrs{"dhash": "none"}}))
	case xmlns == "privacy" && typ == "get" && child.Tag == "privacy":
		_ = c.sendNode(resultNode(id, privacyNode()))
	case xmlns == "usync" && child.Tag == "usync":
		_ = c.sendNode(s.usync(id, child))
	case xmlns == "encrypt" && typ == "get" && child.Tag == "key":
		_ = c.sendNode(s.prekeyBundles(id, child))
	case xmlns == "md" && child.Tag == "remove-companion-device":
		s.unlink(c)
		s.saveState()
		_ = c.sendNode(resultNode(id))
	case xmlns == "md" && child.Tag == "link_code_companion_reg":
		_ = c.sendNode(s.linkCodeStage(c, id, child))
	default:
		s.unknownIQ(c, id, xmlns, typ, child.Tag)
	}
}

// unknownIQ answers an IQ the server does not implement with the real
// server's error for a feature it lacks, logs it, and reports it to
// Config.OnUnknownIQ and UnknownIQs, so that a test sees a client ask for
// something fakewa only pretends to answer.
func (s *Server) unknownIQ(c *sock, id, xmlns, typ, tag string) {
	what := fmt.Sprintf("xmlns=%q type=%q <%s>", xmlns, typ, tag)
	s.mu.Lock()
	if len(s.unknownIQs) < maxUnknownIQs {
		s.unknownIQs = append(s.unknownIQs, what)
	}
	s.mu.Unlock()
	c.log.Warn("fakewa: an IQ the server does not implement, answered 501", "iq", what, "jid", c.jid)
	if s.onUnknownIQ != nil {
		s.onUnknownIQ(what)
	}
	_ = c.sendNode(errorNode(id, 501, "feature-not-implemented"))
}

// maxUnknownIQs bounds what UnknownIQs keeps.
const maxUnknownIQs = 1000

// UnknownIQs returns the IQs clients sent that the server does not implement
// (answered with error 501), oldest first (the first 1,000), as
// `xmlns="…" type="…" <tag>`.
func (s *Server) UnknownIQs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unknownIQs)
}

// digest answers a digest query of the logged-in device: a summary of the
// keys it uploaded, or 404 if the server holds none (the client uploads them
// again).
func (s *Server) digest(c *sock, id string) waBinary.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	dev := s.devices[c.jid]
	if !c.loggedIn || dev == nil || dev.keys == nil {
		return errorNode(id, 404, "item-not-found")
	}
	return resultNode(id, dev.keys.digestNode())
}

// propsNode answers a props query (abt: A/B test properties, w: server
// properties) with an empty set of properties that does not change: the hash
// the client sent back when it has it, so that it keeps its cached set.
func propsNode(query waBinary.Node) waBinary.Node {
	const hash = "fakewa-1"
	attrs := waBinary.Attrs{"protocol": query.Attrs["protocol"], "hash": hash, "refresh": "86400"}
	if attrs["protocol"] == nil {
		delete(attrs, "protocol")
	}
	if h, _ := query.Attrs["hash"].(string); h == hash {
		attrs["delta_update"] = "true"
	}
	return waBinary.Node{Tag: "props", Attrs: attrs}
}

// privacyNode is the account's privacy settings: WhatsApp's defaults.
func privacyNode() waBinary.Node {
	categories := []struct{ name, value string }{
		{"last", "all"}, {"online", "all"}, {"profile", "all"}, {"status", "contacts"},
		{"groupadd", "all"}, {"readreceipts", "all"}, {"calladd", "all"},
	}
	out := make([]waBinary.Node, len(categories))
	for i, cat := range categories {
		out[i] = waBinary.Node{Tag: "category", Attrs: waBinary.Attrs{"name": cat.name, "value": cat.value}}
	}
	return waBinary.Node{Tag: "privacy", Content: out}
}

// prekeys adds the keys of an upload (nil: none) to the logged-in device's
// and returns how many one-time prekeys it has on the server.
func (s *Server) prekeys(c *sock, upload *waBinary.Node) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	dev := s.devices[c.jid]
	if !c.loggedIn || dev == nil {
		return 0
	}
	if upload != nil {
		if dev.keys == nil {
			dev.keys = &uploadedKeys{}
		}
		dev.keys.readUpload(upload)
		dev.prekeys = len(dev.keys.prekeys)
	}
	return dev.prekeys
}

// unlink forgets the logged-in device of c: it asked to be removed.
func (s *Server) unlink(c *sock) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !c.loggedIn {
		return
	}
	delete(s.devices, c.jid)
	delete(s.failNext, c.jid)
	delete(s.liveNext, c.jid)
	s.statsLocked(c.jid).unlinked = true
	c.log.Debug("fakewa: device unlinked itself", "jid", c.jid)
}

func resultNode(id string, content ...waBinary.Node) waBinary.Node {
	n := waBinary.Node{Tag: "iq", Attrs: waBinary.Attrs{"from": types.ServerJID, "type": "result", "id": id}}
	if len(content) > 0 {
		n.Content = content
	}
	return n
}

func errorNode(id string, code int, text string) waBinary.Node {
	return waBinary.Node{
		Tag:     "iq",
		Attrs:   waBinary.Attrs{"from": types.ServerJID, "type": "error", "id": id},
		Content: []waBinary.Node{{Tag: "error", Attrs: waBinary.Attrs{"code": strconv.Itoa(code), "text": text}}},
	}
}
