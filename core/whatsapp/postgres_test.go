package whatsapp_test

import (
	"context"
	"strings"
	"testing"

	"warden/core"
	"warden/core/fakewa"
	"warden/core/pgserver"
	"warden/core/whatsapp"
)

func pgDialer(t *testing.T, srv *fakewa.Server, dsn string) *whatsapp.Dialer {
	t.Helper()
	d, err := whatsapp.NewDialer(whatsapp.Config{DevicesURL: dsn, Logger: testLogger(t), HTTPClient: srv.HTTPClient(), NoVersionFetch: true})
	if err != nil {
		t.Fatalf("NewDialer on PostgreSQL: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// With the device keys in PostgreSQL, an account paired through one node's
// Dialer logs in from another's, with no QR code: a fleet shares its keys.
func TestDevicesOnPostgreSQL(t *testing.T) {
	srv := newServer(t, 350)
	dsn := pgserver.Start(t)
	a := pgDialer(t, srv, dsn)
	s, _, acct := pair(t, srv, a, "a1")
	s.Close()

	b := pgDialer(t, srv, dsn)
	if ok, err := b.HasDevice(context.Background(), acct); !ok || err != nil {
		t.Fatalf("the other node's Dialer has no keys for %s: %v", acct.JID, err)
	}
	_, rec := connect(t, b, acct)
	rec.next(core.SessionConnected, core.SessionQR)
	if srv.Logins(acct.JID) != 2 || srv.MaxConcurrentLogins(acct.JID) != 1 {
		t.Errorf("Logins %d, at once %d; want 2 and 1", srv.Logins(acct.JID), srv.MaxConcurrentLogins(acct.JID))
	}

	// A desktop's SQLite keys move into the fleet's PostgreSQL (and back).
	local, _ := newDialer(t, srv)
	ls, _, lacct := pair(t, srv, local, "a2")
	ls.Close()
	ctx := context.Background()
	schema, err := local.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	devs, err := local.ExportDevices(ctx, []core.Account{lacct})
	if err != nil || len(devs) != 1 {
		t.Fatalf("ExportDevices from SQLite = %d, %v", len(devs), err)
	}
	// An import undone leaves nothing behind, so the keys import again.
	undo, err := b.ImportDevices(ctx, schema, devs)
	if err != nil {
		t.Fatalf("ImportDevices into PostgreSQL: %v", err)
	}
	if err := undo(ctx); err != nil {
		t.Fatalf("undo the import in PostgreSQL: %v", err)
	}
	if back, err := b.ExportDevices(ctx, []core.Account{lacct}); err != nil || len(back) != 0 {
		t.Fatalf("after undo, ExportDevices from PostgreSQL = %d, %v; want none", len(back), err)
	}
	if _, err := b.ImportDevices(ctx, schema, devs); err != nil {
		t.Fatalf("ImportDevices into PostgreSQL again: %v", err)
	}
	back, err := b.ExportDevices(ctx, []core.Account{lacct})
	if err != nil || len(back) != 1 {
		t.Fatalf("ExportDevices from PostgreSQL = %d, %v", len(back), err)
	}
	for table, rows := range devs[0].Tables {
		if len(back[0].Tables[table]) != len(rows) {
			t.Errorf("%s: %d rows in SQLite, %d in PostgreSQL", table, len(rows), len(back[0].Tables[table]))
		}
	}
	_, rec2 := connect(t, b, lacct)
	rec2.next(core.SessionConnected, core.SessionQR)
}

func TestDevicesOnPostgreSQLUnreachable(t *testing.T) {
	_, err := whatsapp.NewDialer(whatsapp.Config{DevicesURL: "postgres://warden:hunter2@127.0.0.1:1/devices?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("a device store nobody serves opened")
	}
	if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q: want the address, never the password", err)
	}
	// pgx quotes a DSN it cannot read, hiding only the passwords it knows.
	_, err = whatsapp.NewDialer(whatsapp.Config{DevicesURL: "postgres://warden@127.0.0.1:1/devices?sslmode=bogus&password=hunter2&auth_token=s3cr3t-t0ken"})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t-t0ken") || !strings.Contains(err.Error(), "sslmode") {
		t.Errorf("a device store with an unreadable DSN: %v; want an error about sslmode without the secrets", err)
	}
}
