package core

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
