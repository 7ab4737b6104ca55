package whatsapp

import (
	"context"

	"warden/core"
)

// ApplyVersion lets tests set whatsmeow's announced version back.
var ApplyVersion = applyVersion

// LIDMigrationTime returns the LID migration time stored with acct's device
// (whatsmeow addresses messages by LID once it is set), read from the devices
// file.
func LIDMigrationTime(ctx context.Context, d *Dialer, acct core.Account) (int64, error) {
	dev, err := d.device(ctx, acct)
	if err != nil || dev == nil {
		return 0, err
	}
	return dev.LIDMigrationTimestamp, nil
}
