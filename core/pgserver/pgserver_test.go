package pgserver_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"warden/core/pgserver"
)

func TestStartServesQueries(t *testing.T) {
	db, err := sql.Open("pgx", pgserver.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(context.Background(), "SHOW server_version").Scan(&v); err != nil || v == "" {
		t.Fatalf("server_version = %q, %v", v, err)
	}
	t.Logf("PostgreSQL %s", v)
}
