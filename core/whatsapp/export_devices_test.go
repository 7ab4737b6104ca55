package whatsapp_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/types"

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
	if _, err := d.ImportDevices(ctx, schema, devs); !errors.Is(err, whatsapp.ErrDeviceExists) {
		t.Errorf("importing a device that is here = %v, want ErrDeviceExists", err)
	}

	other, _ := newDialer(t, srv)
	if _, err := other.ImportDevices(ctx, schema+1, devs); !errors.Is(err, whatsapp.ErrNewerSchema) {
		t.Errorf("keys of a newer schema = %v, want ErrNewerSchema", err)
	}
	forged := devs[0]
	forged.JID = "19990000000:1@s.whatsapp.net"
	if _, err := other.ImportDevices(ctx, schema, []whatsapp.DeviceKeys{forged}); err == nil {
		t.Error("rows of another device were imported under a new JID")
	}
	if ok, _ := other.HasDevice(ctx, core.Account{JID: forged.JID}); ok {
		t.Error("a refused import left a device behind")
	}
	if _, err := other.ImportDevices(ctx, schema, devs); err != nil {
		t.Fatalf("ImportDevices: %v", err)
	}
	// The imported device logs in with no pairing.
	_, rec := connect(t, other, acct)
	rec.next(core.SessionConnected, core.SessionQR)
}

// respelt is a device's keys with its JID written as jid, in every row.
func respelt(dev whatsapp.DeviceKeys, jid string) whatsapp.DeviceKeys {
	out := whatsapp.DeviceKeys{JID: jid, Tables: map[string][]whatsapp.DeviceRow{}}
	for table, rows := range dev.Tables {
		for _, row := range rows {
			r := make(whatsapp.DeviceRow, len(row))
			for c, v := range row {
				if v.Text != nil && *v.Text == dev.JID {
					v.Text = &jid
				}
				r[c] = v
			}
			out.Tables[table] = append(out.Tables[table], r)
		}
	}
	return out
}

// rowsUnder counts the rows of every device table that name jid, spelt so.
func rowsUnder(t *testing.T, path, jid string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	total := 0
	for table, owner := range map[string]string{"whatsmeow_device": "jid", "whatsmeow_identity_keys": "our_jid", "whatsmeow_pre_keys": "jid",
		"whatsmeow_sessions": "our_jid", "whatsmeow_app_state_sync_keys": "jid", "whatsmeow_privacy_tokens": "our_jid"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM "+table+" WHERE "+owner+" = ?", jid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// Keys are stored under whatsmeow's spelling of their JID, where a session
// finds them; a device number that whatsmeow would wrap around is refused;
// undo takes every row back out; and the privacy tokens whatsmeow left when
// it deleted the device give way to the imported ones.
func TestImportDevicesSpellingAndUndo(t *testing.T) {
	srv := newServer(t, 341)
	d, _ := newDialer(t, srv)
	s, _, acct := pair(t, srv, d, "a1")
	s.Close()
	ctx := context.Background()
	devs, err := d.ExportDevices(ctx, []core.Account{acct})
	if err != nil || len(devs) != 1 {
		t.Fatalf("ExportDevices = %d, %v", len(devs), err)
	}
	schema, err := d.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j, err := types.ParseJID(acct.JID)
	if err != nil {
		t.Fatal(err)
	}
	other, path := newDialer(t, srv)

	wrapped := fmt.Sprintf("%s:%d@%s", j.User, int(j.Device)+65536, j.Server)
	if _, err := other.ImportDevices(ctx, schema, []whatsapp.DeviceKeys{respelt(devs[0], wrapped)}); !errors.Is(err, core.ErrInvalidAccount) || !strings.Contains(err.Error(), "go up to 65535") {
		t.Errorf("keys of device %s = %v, want ErrInvalidAccount saying device numbers go up to 65535", wrapped, err)
	}
	if n := rowsUnder(t, path, wrapped) + rowsUnder(t, path, acct.JID); n != 0 {
		t.Errorf("a refused import left %d rows", n)
	}

	// A privacy token whatsmeow left behind, and the file's token for the
	// same contact.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO whatsmeow_privacy_tokens (our_jid, their_jid, token, timestamp) VALUES (?, 'c@s.whatsapp.net', x'01', 1)", acct.JID); err != nil {
		t.Fatal(err)
	}
	token, at, their := "Ag==", int64(2), "c@s.whatsapp.net"
	owner := acct.JID
	devs[0].Tables["whatsmeow_privacy_tokens"] = []whatsapp.DeviceRow{{"our_jid": {Text: &owner}, "their_jid": {Text: &their}, "token": {Bytes: &token}, "timestamp": {Int: &at}}}
	want := rowsUnder(t, path, acct.JID) - 1 + len(devs[0].Tables["whatsmeow_device"]) + len(devs[0].Tables["whatsmeow_identity_keys"]) +
		len(devs[0].Tables["whatsmeow_pre_keys"]) + len(devs[0].Tables["whatsmeow_sessions"]) + len(devs[0].Tables["whatsmeow_app_state_sync_keys"]) + 1

	raw := fmt.Sprintf("%s.0:%d@%s", j.User, j.Device, j.Server)
	undo, err := other.ImportDevices(ctx, schema, []whatsapp.DeviceKeys{respelt(devs[0], raw)})
	if err != nil {
		t.Fatalf("ImportDevices under %s: %v", raw, err)
	}
	if n := rowsUnder(t, path, raw); n != 0 {
		t.Errorf("%d rows stored under %s", n, raw)
	}
	if n := rowsUnder(t, path, acct.JID); n != want {
		t.Errorf("%d rows under %s, want %d", n, acct.JID, want)
	}
	if ok, err := other.HasDevice(ctx, acct); !ok || err != nil {
		t.Errorf("HasDevice after the import = %v, %v", ok, err)
	}
	if err := undo(ctx); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if n := rowsUnder(t, path, acct.JID); n != 0 {
		t.Errorf("undo left %d rows", n)
	}
	if _, err := other.ImportDevices(ctx, schema, devs); err != nil {
		t.Fatalf("importing again after undo: %v", err)
	}
	_, rec := connect(t, other, acct)
	rec.next(core.SessionConnected, core.SessionQR)
}
