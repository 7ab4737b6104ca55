package core

import (
	"context"
	"time"
)

// The periodic self-check: with Policy.SelfCheckEvery set, every account that
// has been Connected for that long sends a message to its own number, and
// again each time the interval passes. Its outcome is Status.LastCheck; a
// failure is also a timeline event (CauseSelfCheckFailed). It never reconnects
// by itself: a connection that cannot deliver but stays up is the operator's
// to judge, and the zombie check still watches its keepalives.

const (
	// selfCheckTick is how often the Manager looks for accounts due a check.
	selfCheckTick = 30 * time.Second
	// selfCheckParallel bounds the checks in flight at once.
	selfCheckParallel = 8
	// selfCheckTimeout bounds one check.
	selfCheckTimeout = time.Minute
)

// selfCheckText is the message a self-check sends; the phone shows it in the
// account's chat with itself.
func selfCheckText(at time.Time) string {
	return "Warden self-check " + at.Local().Format("15:04") + ": this account can send. You can ignore this message."
}

// selfChecks runs until the Manager closes.
func (m *Manager) selfChecks() {
	defer m.bg.Done()
	slots := make(chan struct{}, selfCheckParallel)
	t := time.NewTicker(selfCheckTick)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		every := m.Policy().SelfCheckEvery
		if every <= 0 {
			continue
		}
		for _, a := range m.dueChecks(m.now(), every) {
			select {
			case slots <- struct{}{}:
			case <-m.ctx.Done():
				return
			}
			m.bg.Add(1)
			go func() {
				defer m.bg.Done()
				defer func() { <-slots }()
				m.selfCheck(a)
			}()
		}
	}
}

// dueChecks returns the accounts due a self-check and marks them as checking.
func (m *Manager) dueChecks(now time.Time, every time.Duration) []*account {
	accts := m.all()
	var due []*account
	for _, a := range accts {
		a.mu.Lock()
		last := a.m.Since
		if a.m.LastCheck.At.After(last) {
			last = a.m.LastCheck.At
		}
		if a.m.State == Connected && !a.m.deleted && !a.closed && !a.checking &&
			a.m.Account.Phone() != "" && now.Sub(last) >= every {
			a.checking = true
			due = append(due, a)
		}
		a.mu.Unlock()
	}
	return due
}

func (m *Manager) selfCheck(a *account) {
	defer func() {
		a.mu.Lock()
		a.checking = false
		a.mu.Unlock()
	}()
	a.mu.Lock()
	own := a.m.Account.Phone()
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(m.ctx, selfCheckTimeout)
	defer cancel()
	res, err := m.send(ctx, a.id, own, selfCheckText(m.now()), true)
	if err != nil {
		a.log.Warn("self-check failed", "err", err)
		return
	}
	a.log.Info("self-check passed", "latency", res.Latency.Round(time.Millisecond).String())
}
