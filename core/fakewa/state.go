package fakewa

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// The server can keep the phones and paired devices it knows in a file
// (Config.StatePath), so that a demo's accounts stay paired across restarts.
// Nothing else is kept: sockets, faults and counters start afresh, and the
// messages devices had not confirmed (their outboxes, see receive.go) are
// lost, as a queue the server only holds for a test's run.

// stateFile is the JSON layout of Config.StatePath.
type stateFile struct {
	Phones  []phoneState  `json:"phones"`
	Devices []deviceState `json:"devices"`
}

type phoneState struct {
	User       string `json:"user"`
	LID        string `json:"lid"`
	Key        []byte `json:"key"` // the account's private key
	RawID      uint32 `json:"raw_id"`
	NextDevice uint16 `json:"next_device"`
	// Peers are the phone's simulated devices; absent (an older file) means
	// the phone alone.
	Peers *[]peerState `json:"peers,omitempty"`
}

// peerState is what a simulated device keeps: its keys derive from the
// phone's, so only its Signal sessions and prekey counter.
type peerState struct {
	Sessions map[string][]byte `json:"sessions,omitempty"`
	Next     uint32            `json:"next_prekey"`
	Top      uint32            `json:"top_prekey,omitempty"` // absent (an older file): Next-1 plus the pool
	Used     []uint32          `json:"used_prekeys,omitempty"`
}

type deviceState struct {
	JID      string `json:"jid"`
	LID      string `json:"lid"`
	NoiseKey []byte `json:"noise_key"`
	Prekeys  int    `json:"prekeys"`
	// Keys are the Signal keys the device uploaded; absent (an older file,
	// or none uploaded): the server has none, and answers a digest with 404.
	Keys *keysState `json:"keys,omitempty"`
	// HistorySynced: its phone sent it the history sync.
	HistorySynced bool `json:"history_synced,omitempty"`
}

// keysState is uploadedKeys in the state file.
type keysState struct {
	Registration []byte            `json:"registration"`
	Type         []byte            `json:"type"`
	Identity     []byte            `json:"identity"`
	SkeyID       []byte            `json:"skey_id"`
	Skey         []byte            `json:"skey"`
	SkeySig      []byte            `json:"skey_signature"`
	Prekeys      map[uint32][]byte `json:"prekeys,omitempty"`
}

// loadState reads the state file, if there is one. It runs before the server
// serves, so it takes no lock.
func (s *Server) loadState() error {
	data, err := os.ReadFile(s.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("parse state %s: %w", s.statePath, err)
	}
	for _, p := range st.Phones {
		if len(p.Key) != 32 {
			return fmt.Errorf("parse state %s: phone %q: key of %d bytes", s.statePath, p.User, len(p.Key))
		}
		ph := &phone{user: p.User, lid: p.LID, key: keys.NewKeyPairFromPrivateKey([32]byte(p.Key)), rawID: p.RawID, nextDevice: p.NextDevice, preKeys: s.preKeys}
		if p.Peers == nil {
			ph.setDevices(1)
		} else {
			ph.setDevices(len(*p.Peers))
			for i, ps := range *p.Peers {
				pr := ph.peers[i]
				pr.next = max(ps.Next, 1)
				pr.top = ps.Top
				if ps.Top == 0 {
					pr.top = pr.next - 1 + pr.pool
				}
				for addr, raw := range ps.Sessions {
					pr.sessions[addr] = raw
				}
				for _, id := range ps.Used {
					pr.used[id] = true
				}
			}
		}
		s.phones[p.User] = ph
		s.lids[p.LID] = ph
	}
	for _, d := range st.Devices {
		jid, err := types.ParseJID(d.JID)
		if err != nil {
			return fmt.Errorf("parse state %s: device %q: %w", s.statePath, d.JID, err)
		}
		lid, err := types.ParseJID(d.LID)
		if err != nil {
			return fmt.Errorf("parse state %s: lid %q: %w", s.statePath, d.LID, err)
		}
		if len(d.NoiseKey) != 32 {
			return fmt.Errorf("parse state %s: device %q: noise key of %d bytes", s.statePath, d.JID, len(d.NoiseKey))
		}
		dev := &device{jid: jid, lid: lid, noiseKey: [32]byte(d.NoiseKey), prekeys: d.Prekeys, historySynced: d.HistorySynced}
		if k := d.Keys; k != nil {
			dev.keys = &uploadedKeys{registration: k.Registration, keyType: k.Type, identity: k.Identity,
				skeyID: k.SkeyID, skey: k.Skey, skeySig: k.SkeySig, prekeys: k.Prekeys}
			if dev.keys.prekeys == nil {
				dev.keys.prekeys = make(map[uint32][]byte)
			}
		}
		s.devices[jid.String()] = dev
		s.statsLocked(jid.String())
	}
	return nil
}

// saveState writes the phones and devices to the state file, if the server has
// one. Saves are serialised so that the newest snapshot is the last written.
func (s *Server) saveState() {
	if s.statePath == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()

	var st stateFile
	s.mu.Lock()
	for _, p := range s.phones {
		peers := make([]peerState, len(p.peers))
		for i, pr := range p.peers {
			peers[i] = pr.state()
		}
		st.Phones = append(st.Phones, phoneState{User: p.user, LID: p.lid, Key: p.key.Priv[:], RawID: p.rawID, NextDevice: p.nextDevice, Peers: &peers})
	}
	for _, d := range s.devices {
		ds := deviceState{JID: d.jid.String(), LID: d.lid.String(), NoiseKey: d.noiseKey[:], Prekeys: d.prekeys, HistorySynced: d.historySynced}
		if k := d.keys; k != nil {
			ds.Keys = &keysState{Registration: k.registration, Type: k.keyType, Identity: k.identity,
				SkeyID: k.skeyID, Skey: k.skey, SkeySig: k.skeySig, Prekeys: maps.Clone(k.prekeys)}
		}
		st.Devices = append(st.Devices, ds)
	}
	s.mu.Unlock()

	if err := writeFileAtomic(s.statePath, st); err != nil {
		s.log.Error("fakewa: save state", "err", err)
	}
}

func writeFileAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	return nil
}
