package whatsapp_test

import (
	"context"
	"errors"
	"testing"

	"warden/core"
	"warden/core/whatsapp"
)

func TestExportImportDevices(t *testing.T) {
	srv := newServer(t, 340)
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	ctx := context.Background()
	devs, err := d.ExportDevices(ctx, []core.Account{acct, {ID: "unpaired"}})
	if err != nil || len(devs) != 1 || devs[0].JID != acct.JID {
		t.Fatalf("ExportDevices = %+v, %v; want the one paired device", devs, err)
	}
	if n := len(devs[0].Tables["whatsmeow_pre_keys"]); n == 0 {
		t.Errorf("no prekeys exported")
	}
	schema, err := d.SchemaVersion(ctx)
	if err != nil || schema < 1 {
		t.Fatalf("SchemaVersion = %d, %v", schema, err)
	}
	if err := d.ImportDevices(ctx, schema, devs); !errors.Is(err, whatsapp.ErrDeviceExists) {
		t.Errorf("importing a device that is here = %v, want ErrDeviceExists", err)
	}

	other, _ := newDialer(t, srv)
	if err := other.ImportDevices(ctx, schema+1, devs); !errors.Is(err, whatsapp.ErrNewerSchema) {
		t.Errorf("keys of a newer schema = %v, want ErrNewerSchema", err)
	}
	forged := devs[0]
	forged.JID = "19990000000:1@s.whatsapp.net"
	if err := other.ImportDevices(ctx, schema, []whatsapp.DeviceKeys{forged}); err == nil {
		t.Error("rows of another device were imported under a new JID")
	}
	if ok, _ := other.HasDevice(ctx, core.Account{JID: forged.JID}); ok {
		t.Error("a refused import left a device behind")
	}
	if err := other.ImportDevices(ctx, schema, devs); err != nil {
		t.Fatalf("ImportDevices: %v", err)
	}
	// The imported device logs in with no pairing.
	_, rec := connect(t, other, acct)
	rec.next(core.SessionConnected, core.SessionQR)
}
