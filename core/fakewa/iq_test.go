package fakewa_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.mau.fi/whatsmeow"
	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"warden/core/fakewa"
)

func sendIQ(t *testing.T, c *client, xmlns, typ string, content ...waBinary.Node) (*waBinary.Node, error) {
	t.Helper()
	q := whatsmeow.DangerousInfoQuery{Namespace: xmlns, Type: whatsmeow.DangerousInfoQueryType(typ), To: types.ServerJID}
	if len(content) > 0 {
		q.Content = content
	}
	return c.DangerousInternals().SendIQ(context.Background(), q)
}

// The digest of a device's keys on the server matches the keys the client
// keeps: its registration ID, identity, signed prekey, and the one-time
// prekeys it uploaded, with a SHA-1 over them, so that a client that checks
// it at login does not upload its keys again.
func TestPreKeyDigestMatchesTheClientsKeys(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 50})
	c, _, _ := pairByQR(t, s, 1)
	waitUntil(t, "the prekeys are uploaded", func() bool {
		resp, err := sendIQ(t, c, "encrypt", "get", waBinary.Node{Tag: "count"})
		if err != nil {
			return false
		}
		count := resp.GetChildByTag("count")
		return count.AttrGetter().Int("value") > 0
	})
	resp, err := sendIQ(t, c, "encrypt", "get", waBinary.Node{Tag: "digest"})
	if err != nil {
		t.Fatalf("digest query: %v", err)
	}
	digest, ok := resp.GetOptionalChildByTag("digest")
	if !ok {
		t.Fatalf("digest answer %s has no <digest>", resp.XMLString())
	}
	content := func(path ...string) []byte {
		b, _ := digest.GetChildByTag(path...).Content.([]byte)
		return b
	}
	st := c.Store
	if got := content("registration"); len(got) != 4 || binary.BigEndian.Uint32(got) != st.RegistrationID {
		t.Errorf("registration %x, want %d", got, st.RegistrationID)
	}
	if !bytes.Equal(content("identity"), st.IdentityKey.Pub[:]) || !bytes.Equal(content("skey", "value"), st.SignedPreKey.Pub[:]) ||
		!bytes.Equal(content("skey", "signature"), st.SignedPreKey.Signature[:]) {
		t.Error("the digest's identity or signed prekey differ from the client's")
	}
	h := sha1.New()
	h.Write(st.IdentityKey.Pub[:])
	h.Write(st.SignedPreKey.Pub[:])
	h.Write(st.SignedPreKey.Signature[:])
	list := digest.GetChildByTag("list")
	ids := list.GetChildren()
	if len(ids) == 0 {
		t.Fatal("the digest lists no one-time prekeys")
	}
	for _, n := range ids {
		raw, _ := n.Content.([]byte)
		id := binary.BigEndian.Uint32(append([]byte{0}, raw...))
		key, err := st.PreKeys.GetPreKey(context.Background(), id)
		if err != nil || key == nil {
			t.Fatalf("the digest lists prekey %d, which the client does not have: %v", id, err)
		}
		h.Write(key.Pub[:])
	}
	if !bytes.Equal(content("hash"), h.Sum(nil)) {
		t.Error("the digest's hash is not the SHA-1 of the client's keys")
	}
}

// The IQs a client sends at login get real answers: an empty blocklist, the
// privacy settings, sets of properties.
func TestLoginIQsGetAnswers(t *testing.T) {
	s := newServer(t, fakewa.Config{Seed: 51})
	c, _, _ := pairByQR(t, s, 1)
	ctx := context.Background()
	if bl, err := c.GetBlocklist(ctx); err != nil || len(bl.JIDs) != 0 {
		t.Errorf("GetBlocklist = %+v, %v; want an empty list", bl, err)
	}
	if ps, err := c.TryFetchPrivacySettings(ctx, true); err != nil || ps.LastSeen != types.PrivacySettingAll || ps.Status != types.PrivacySettingContacts {
		t.Errorf("TryFetchPrivacySettings = %+v, %v; want WhatsApp's defaults", ps, err)
	}
	for _, xmlns := range []string{"abt", "w"} {
		resp, err := sendIQ(t, c, xmlns, "get", waBinary.Node{Tag: "props", Attrs: waBinary.Attrs{"protocol": "1"}})
		if err != nil {
			t.Errorf("%s props: %v", xmlns, err)
			continue
		}
		if props, ok := resp.GetOptionalChildByTag("props"); !ok || props.AttrGetter().String("hash") == "" {
			t.Errorf("%s props answer %s, want <props hash=…>", xmlns, resp.XMLString())
		}
	}
}

// An IQ the server does not implement gets error 501, and the server says
// so: in its log, in UnknownIQs, and to Config.OnUnknownIQ.
func TestUnknownIQIsRefusedAndReported(t *testing.T) {
	var mu sync.Mutex
	var hooked []string
	s := newServer(t, fakewa.Config{Seed: 52, OnUnknownIQ: func(iq string) {
		mu.Lock()
		defer mu.Unlock()
		hooked = append(hooked, iq)
	}})
	c, _, _ := pairByQR(t, s, 1)
	_, err := sendIQ(t, c, "w:nothing", "get", waBinary.Node{Tag: "thing"})
	var iqErr *whatsmeow.IQError
	if !errors.As(err, &iqErr) || iqErr.Code != 501 {
		t.Errorf("unknown IQ: err %v, want an IQ error 501", err)
	}
	want := []string{`xmlns="w:nothing" type="get" <thing>`}
	if got := s.UnknownIQs(); !slices.Equal(got, want) {
		t.Errorf("UnknownIQs() = %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(hooked, want) {
		t.Errorf("OnUnknownIQ got %q, want %q", hooked, want)
	}
}

// A restarted server (Config.StatePath) still has the keys its devices
// uploaded: the digest is the same, so that the client does not upload again.
func TestPreKeyDigestSurvivesARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fakewa.json")
	first := newServer(t, fakewa.Config{Seed: 58, StatePath: path})
	c, container, _ := pairByQR(t, first, 1)
	digest := func(c *client) []byte {
		t.Helper()
		var hash []byte
		waitUntil(t, "the server has the client's keys", func() bool {
			resp, err := sendIQ(t, c, "encrypt", "get", waBinary.Node{Tag: "digest"})
			if err != nil {
				return false
			}
			hash, _ = resp.GetChildByTag("digest", "hash").Content.([]byte)
			return len(hash) > 0
		})
		return hash
	}
	before := digest(c)
	c.Disconnect()
	first.Close()

	second := newServer(t, fakewa.Config{Seed: 58, StatePath: path})
	dev, err := container.GetFirstDevice(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	again := newClient(t, second, dev)
	if err := again.Connect(); err != nil {
		t.Fatal(err)
	}
	waitEvent[*events.Connected](t, again)
	resp, err := sendIQ(t, again, "encrypt", "get", waBinary.Node{Tag: "digest"})
	if err != nil {
		t.Fatalf("digest after a restart: %v", err)
	}
	if after, _ := resp.GetChildByTag("digest", "hash").Content.([]byte); !bytes.Equal(after, before) {
		t.Errorf("digest hash after a restart %x, before %x", after, before)
	}
}
