package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"warden/core"
	"warden/core/api"
	"warden/core/cluster"
	"warden/core/store"
	"warden/core/store/postgres"
)

// The api-key command manages the HTTP API's keys in the data directory,
// without starting Warden:
//
//	warden api-key create --name NAME [--read-only] [--accounts ID,…]
//	warden api-key list
//	warden api-key revoke ID
//
// It opens warden.db as Warden does, so it refuses while a Warden runs on
// the same data directory (bbolt locks the file for one process): the
// operator quits Warden, runs the command, and starts Warden again. With
// --devices-db it manages a fleet's keys in its PostgreSQL instead, while
// the nodes run: they read a key on every request, so a new key works and
// a revoked one is refused at once.

// apiKeyCommand is the first argument that selects the command.
const apiKeyCommand = "api-key"

const apiKeyUsage = `usage:
  warden api-key create --name NAME [--read-only] [--accounts ID,...] [--data-dir DIR | --devices-db URL]
  warden api-key list [--data-dir DIR | --devices-db URL]
  warden api-key revoke ID [--data-dir DIR | --devices-db URL]`

// runAPIKey runs the api-key command and returns the exit status.
func runAPIKey(args []string, stdout, stderr io.Writer) int {
	if err := apiKey(args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "warden api-key:", err)
		return 2
	}
	return 0
}

// apiKey parses the command's verb and flags and runs it on the store.
func apiKey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("say what to do: create, list or revoke\n" + apiKeyUsage)
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("warden api-key "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "directory for Warden's data (default: the user's data directory)")
	devicesDB := fs.String("devices-db", "", "a fleet's PostgreSQL (postgres://…): manage the fleet's keys there")
	name := fs.String("name", "", "create: the key's name, saying who uses it (the log names it on every request)")
	readOnly := fs.Bool("read-only", false, "create: a key that can read but neither change anything nor send")
	accounts := fs.String("accounts", "", "create: the account ids the key may use, comma-separated (default: every account)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case verb == "create" && len(pos) == 0:
	case verb == "list" && len(pos) == 0:
	case verb == "revoke" && len(pos) == 1:
	default:
		return errors.New("unexpected arguments\n" + apiKeyUsage)
	}
	ctx := context.Background()
	db, err := openKeys(ctx, *dataDir, *devicesDB)
	if err != nil {
		return err
	}
	defer db.Close()
	switch verb {
	case "create":
		return createKey(ctx, db, stdout, *name, *readOnly, splitIDs(*accounts))
	case "list":
		return listKeys(ctx, db, stdout)
	}
	return revokeKey(ctx, db, stdout, pos[0])
}

// parseInterspersed parses flags before and after the positional
// arguments (revoke ID --data-dir DIR) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// keyStore is a store of keys and accounts the command opens.
type keyStore interface {
	api.KeyStore
	Accounts(ctx context.Context) ([]core.Account, error)
	Close() error
}

// openKeys opens the store of the keys for the command: the fleet's
// PostgreSQL, or the data directory's.
func openKeys(ctx context.Context, dir, devicesDB string) (keyStore, error) {
	if devicesDB != "" {
		if dir != "" {
			return nil, errors.New("--data-dir and --devices-db contradict each other: a fleet's keys are in its database")
		}
		if err := core.CheckDatabaseURL(devicesDB); err != nil {
			return nil, fmt.Errorf("--devices-db: %w", err)
		}
		return postgres.Open(ctx, devicesDB, nil)
	}
	if dir == "" {
		var err error
		if dir, err = store.DefaultDataDir(); err != nil {
			return nil, err
		}
	}
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)), store.WithLockTimeout(lockWait))
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("Warden is running with the data directory %s: %w\n"+
			"Quit it, run this command again, then start Warden again.", dir, err)
	}
	if err != nil {
		return nil, explainOpen(err, dir)
	}
	return db, nil
}

// splitIDs reads a comma-separated list of account ids.
func splitIDs(s string) []core.AccountID {
	var out []core.AccountID
	for id := range strings.SplitSeq(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, core.AccountID(id))
		}
	}
	return out
}

// createKey makes a key and prints its token, the only time it is shown.
func createKey(ctx context.Context, db keyStore, out io.Writer, name string, readOnly bool, accounts []core.AccountID) error {
	if err := checkAccounts(ctx, db, accounts); err != nil {
		return err
	}
	k, token, err := api.NewKey(name, readOnly, accounts, time.Now())
	if err != nil {
		return err
	}
	if err := db.PutAPIKey(ctx, k); err != nil {
		return err
	}
	fmt.Fprintf(out, "API key %s (%s) created, %s.\n", k.ID, k.Name, keyScope(k))
	fmt.Fprintln(out, "Keep it now: Warden keeps only its hash and cannot show it again.")
	fmt.Fprintln(out)
	fmt.Fprintln(out, token)
	return nil
}

// checkAccounts refuses a key for accounts this data directory lacks: a
// mistyped id would make a key that can use nothing.
func checkAccounts(ctx context.Context, db keyStore, ids []core.AccountID) error {
	accts, err := db.Accounts(ctx)
	if err != nil {
		return err
	}
	known := make(map[core.AccountID]bool, len(accts))
	for _, a := range accts {
		known[a.ID] = true
	}
	for _, id := range ids {
		if !known[id] {
			return fmt.Errorf("--accounts: no account %s here (see the account's id in its details)", id)
		}
	}
	return nil
}

// keyScope says what a key may do, and on which accounts.
func keyScope(k core.APIKey) string {
	access := "may operate"
	if k.ReadOnly {
		access = "read-only"
	}
	if len(k.Accounts) == 0 {
		return access + ", every account"
	}
	ids := make([]string, len(k.Accounts))
	for i, id := range k.Accounts {
		ids[i] = string(id)
	}
	return access + ", accounts " + strings.Join(ids, ",")
}

// listKeys prints every key, never a token: Warden has none to print.
func listKeys(ctx context.Context, db keyStore, out io.Writer) error {
	keys, err := db.APIKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(out, "No API keys. Create one with: warden api-key create --name NAME")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACCESS\tCREATED\tLAST USED\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, keyScope(k), stamp(k.Created), stamp(k.LastUsed), stamp(k.Revoked))
	}
	return tw.Flush()
}

// stamp writes a time of the list, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// revokeKey revokes a key: its requests are refused from then on.
func revokeKey(ctx context.Context, db keyStore, out io.Writer, id string) error {
	if err := db.RevokeAPIKey(ctx, id, time.Now()); err != nil {
		if errors.Is(err, core.ErrUnknownAPIKey) {
			return fmt.Errorf("no API key %s (warden api-key list shows them)", id)
		}
		return err
	}
	fmt.Fprintf(out, "API key %s revoked: requests with it are refused.\n", id)
	return nil
}

// The API drives accounts through what the window uses: the Manager alone,
// or in a fleet the Console, which routes each command to the node that
// runs the account.
var (
	_ api.Controller       = (*core.Manager)(nil)
	_ api.Controller       = (*cluster.Console)(nil)
	_ api.KeyStore         = (*store.DB)(nil)
	_ api.KeyStore         = (*postgres.DB)(nil)
	_ api.IdempotencyStore = (*store.DB)(nil)
	_ api.IdempotencyStore = (*postgres.DB)(nil)
)
