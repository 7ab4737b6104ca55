package core

import "context"

// One WhatsApp device, one client: on one node, the Manager lets an
// account dial only while no other account here holds its device (Account.Device),
// and an account being deleted holds it until its keys are gone. Across a
// fleet, core/cluster owns devices as it owns accounts.

// Devices returns the WhatsApp devices (Account.Device) that accounts here
// hold, each with the holder's name, including an account being deleted,
// which holds its device until its keys are gone. An import must not bring
// in any of them.
func (m *Manager) Devices() map[string]string {
	accts := m.all()
	out := make(map[string]string)
	for _, a := range accts {
		a.mu.Lock()
		dev, name, deleting := a.m.Account.Device(), a.m.Account.Name, a.m.deleted
		a.mu.Unlock()
		if dev == "" {
			continue
		}
		if deleting {
			name += " (being deleted)"
		}
		out[dev] = name
	}
	m.devMu.Lock()
	for dev, id := range m.devices {
		if _, ok := out[dev]; !ok {
			out[dev] = string(id)
		}
	}
	m.devMu.Unlock()
	return out
}

// claimDevice makes id the holder of dev on this node; it returns the holder
// when another account holds it. "" (not paired) is never held.
func (m *Manager) claimDevice(id AccountID, dev string) (holder AccountID, ok bool) {
	if dev == "" {
		return "", true
	}
	m.devMu.Lock()
	defer m.devMu.Unlock()
	if h, held := m.devices[dev]; held && h != id {
		return h, false
	}
	m.devices[dev] = id
	return id, true
}

// releaseDevice lets dev go, if id holds it.
func (m *Manager) releaseDevice(id AccountID, dev string) {
	if dev == "" {
		return
	}
	m.devMu.Lock()
	if m.devices[dev] == id {
		delete(m.devices, dev)
	}
	m.devMu.Unlock()
}

// ReasonKeysMissing is the status reason of a paired account whose device
// keys are not in the device store when Warden starts.
const ReasonKeysMissing = "its device keys are missing from devices.db: pair it again"

// DeviceLister is a Dialer that can list the devices whose keys it holds.
// When the Dialer is one, Start shows a paired account whose keys are gone
// (a lost or replaced devices.db) as LoggedOut with ReasonKeysMissing,
// instead of dialling it, which would show a QR code for a new pairing
// without a word.
type DeviceLister interface {
	// StoredDevices returns the devices with keys, in Account.Device's form.
	StoredDevices(ctx context.Context) ([]string, error)
}

// keysMissing returns the paired accounts among accts whose device keys the
// dialer does not hold, or nil when it cannot tell.
func (m *Manager) keysMissing(ctx context.Context, accts []Account) map[AccountID]bool {
	lister, ok := m.dialer.(DeviceLister)
	if !ok {
		return nil
	}
	stored, err := lister.StoredDevices(ctx)
	if err != nil {
		m.log.Warn("could not check which accounts have their device keys", "err", err)
		return nil
	}
	have := make(map[string]bool, len(stored))
	for _, d := range stored {
		have[d] = true
	}
	missing := make(map[AccountID]bool)
	for _, a := range accts {
		if dev := a.Device(); dev != "" && !have[dev] {
			missing[a.ID] = true
		}
	}
	return missing
}
