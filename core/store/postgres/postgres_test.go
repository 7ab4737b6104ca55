package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"warden/core"
	"warden/core/pgserver"
	"warden/core/store"
	"warden/core/store/postgres"
	"warden/core/storesuite"
)

func TestStoreSuite(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n atomic.Int32
	storesuite.Run(t, func(t *testing.T) core.Store {
		return openDatabase(t, admin, dsn, fmt.Sprintf("suite_%d", n.Add(1)))
	}, store.ErrSequence)
}

// dsnOf returns the DSN of the database name on the server of dsn.
func dsnOf(dsn, name string) string { return strings.Replace(dsn, "/postgres?", "/"+name+"?", 1) }

// openDatabase creates the database name on the server of dsn, where admin
// is connected, and opens the store there until the test ends.
func openDatabase(t *testing.T, admin *sql.DB, dsn, name string, opts ...postgres.Option) *postgres.DB {
	t.Helper()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), dsnOf(dsn, name), nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// A second Open of the same database (another node) finds the tables; a
// newer schema is refused; an unreachable server is a clear error without
// the password.
func TestOpen(t *testing.T) {
	dsn := pgserver.Start(t)
	ctx := context.Background()
	first, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.PutAccount(ctx, core.Account{ID: "a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	second, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := second.Accounts(ctx); err != nil || len(got) != 1 {
		t.Errorf("the second node sees %v, %v", got, err)
	}
	_ = first.Close()
	_ = second.Close()

	admin, _ := sql.Open("pgx", dsn)
	defer admin.Close()
	if _, err := admin.Exec("UPDATE warden_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, dsn, nil); !errors.Is(err, postgres.ErrNewerSchema) {
		t.Errorf("Open of a newer schema = %v", err)
	}
	_, err = postgres.Open(ctx, "postgres://warden:hunter2@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of nothing = %v; want an error without the password", err)
	}
	// pgx quotes a DSN it cannot read, hiding only the passwords it knows.
	_, err = postgres.Open(ctx, "postgres://warden@127.0.0.1:1/x?sslmode=bogus&password=hunter2&auth_token=s3cr3t-t0ken", nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t-t0ken") || !strings.Contains(err.Error(), "sslmode") {
		t.Errorf("Open of an unreadable DSN = %v; want an error about sslmode without the secrets", err)
	}
}

func TestInboxSuite(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n atomic.Int32
	storesuite.RunInbox(t, func(t *testing.T, maxMessages int) storesuite.InboxStore {
		return openDatabase(t, admin, dsn, fmt.Sprintf("inbox_%d", n.Add(1)), postgres.WithMessageRetention(maxMessages, 0))
	})
}

func TestAPIKeySuite(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	storesuite.RunAPIKeys(t, func(t *testing.T) storesuite.APIKeyStore {
		return openDatabase(t, admin, dsn, "apikeys")
	})
}

func TestIdempotencySuite(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	storesuite.RunIdempotency(t, func(t *testing.T) storesuite.IdempotencyStore {
		return openDatabase(t, admin, dsn, "idempotency")
	})
}

func TestOutboxSuite(t *testing.T) {
	dsn := pgserver.Start(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var n atomic.Int32
	storesuite.RunOutbox(t, func(t *testing.T) storesuite.OutboxStore {
		return openDatabase(t, admin, dsn, fmt.Sprintf("outbox_%d", n.Add(1)))
	})
}
