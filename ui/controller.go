// Package ui is Warden's window: the account list on the left, the selected
// account on the right and a summary bar on top. It talks to the engine only
// through Controller, which core.Manager satisfies, and applies every status
// update in one place (Window.apply) on Fyne's thread.
package ui

import (
	"context"

	"warden/core"
)

// Controller is what the window needs from the engine. core.Manager implements
// it; tests use a fake.
type Controller interface {
	// Add creates an account and starts pairing it; the options (a proxy)
	// apply from its first dial.
	Add(ctx context.Context, name string, opts ...core.AccountOption) (core.Account, error)
	// Connect starts the account, or retries now, takes over, pairs again or
	// asks for a new QR code, depending on its state.
	Connect(ctx context.Context, id core.AccountID) error
	Disconnect(ctx context.Context, id core.AccountID) error
	Logout(ctx context.Context, id core.AccountID) error
	// Delete may return an error wrapping core.ErrStillLinked after a
	// successful delete: the device must then be unlinked on the phone.
	Delete(ctx context.Context, id core.AccountID) error
	PairPhone(ctx context.Context, id core.AccountID, phone string) (string, error)
	Rename(ctx context.Context, id core.AccountID, name string) error
	// SetProxy changes the account's proxy for its next connection.
	SetProxy(ctx context.Context, id core.AccountID, proxy string) error
	// SendText sends a message and returns once WhatsApp acknowledged it. It
	// is refused (core.ErrNotConnected) unless the account is Connected.
	SendText(ctx context.Context, id core.AccountID, to, text string) (core.SendResult, error)
	Statuses() []core.Status
	// Subscribe returns coalesced updates, newest per account. A Status with
	// Removed set means the account was deleted.
	Subscribe() (updates <-chan core.Status, cancel func())
	// Events returns the account's newest timeline events, at most limit,
	// oldest first.
	Events(ctx context.Context, id core.AccountID, limit int) ([]core.Event, error)
	// SubscribeEvents returns every account's timeline events as they
	// happen. It never blocks the engine; cancel ends it.
	SubscribeEvents() (events <-chan core.Event, cancel func())
}
