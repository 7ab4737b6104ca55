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

	"warden/core"
	"warden/core/outbox"
	"warden/core/store"
)

// The webhook command manages the webhooks in the data directory, without
// starting Warden:
//
//	warden webhook add URL [--accounts ID,…] [--events TYPE,…]
//	warden webhook list
//	warden webhook remove ID
//	warden webhook test ID
//
// Like api-key, it opens warden.db as Warden does, so it refuses while a
// Warden runs on the same data directory (bbolt locks the file for one
// process): the operator quits Warden, runs the command and starts Warden
// again, or, while it runs, uses the API (POST /v1/webhooks). The outbox is
// opened without delivering: the command changes the webhooks, and the
// next Warden delivers. A fleet has no outbox yet, so there is no
// --devices-db.

// webhookCommand is the first argument that selects the command.
const webhookCommand = "webhook"

const webhookUsage = `usage:
  warden webhook add URL [--accounts ID,...] [--events TYPE,...] [--data-dir DIR]
  warden webhook list [--data-dir DIR]
  warden webhook remove ID [--data-dir DIR]
  warden webhook test ID [--data-dir DIR]`

// runWebhook runs the webhook command and returns the exit status.
func runWebhook(args []string, stdout, stderr io.Writer) int {
	if err := webhook(args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "warden webhook:", err)
		if errors.Is(err, errTestFailed) {
			return 1
		}
		return 2
	}
	return 0
}

// errTestFailed is returned when the receiver did not take the test event.
var errTestFailed = errors.New("the receiver did not take the test event")

// webhook parses the command's verb and flags and runs it on the outbox.
func webhook(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("say what to do: add, list, remove or test\n" + webhookUsage)
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("warden webhook "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "directory for Warden's data (default: the user's data directory)")
	accounts := fs.String("accounts", "", "add: only these accounts' events, comma-separated ids (default: every account)")
	events := fs.String("events", "", "add: only these event types, comma-separated (default: all): "+strings.Join(outbox.Types, ", "))
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case verb == "add" && len(pos) == 1:
	case verb == "list" && len(pos) == 0:
	case (verb == "remove" || verb == "test") && len(pos) == 1:
	default:
		return errors.New("unexpected arguments\n" + webhookUsage)
	}
	ctx := context.Background()
	db, o, err := openOutbox(ctx, *dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	defer o.Close(ctx)
	switch verb {
	case "add":
		return addWebhook(ctx, db, o, stdout, pos[0], splitIDs(*accounts), splitList(*events))
	case "list":
		return listWebhooks(ctx, o, stdout)
	case "remove":
		if err := o.Delete(ctx, pos[0]); err != nil {
			return explainWebhook(err, pos[0])
		}
		fmt.Fprintf(stdout, "Webhook %s removed, with its pending and failed deliveries.\n", pos[0])
		return nil
	}
	return testWebhook(ctx, o, stdout, pos[0])
}

// openOutbox opens the data directory's store and its outbox, without
// deliveries.
func openOutbox(ctx context.Context, dir string) (*store.DB, *outbox.Outbox, error) {
	if dir == "" {
		var err error
		if dir, err = store.DefaultDataDir(); err != nil {
			return nil, nil, err
		}
	}
	dbPath, _ := store.Paths(dir)
	db, err := store.Open(dbPath, store.WithLogger(slog.New(slog.DiscardHandler)), store.WithLockTimeout(lockWait))
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("Warden is running with the data directory %s: %w\n"+
			"Quit it, run this command again, then start Warden again; or, while it runs, use its API: POST /v1/webhooks.", dir, err)
	}
	if err != nil {
		return nil, nil, explainOpen(err, dir)
	}
	o, err := outbox.Open(ctx, outbox.Config{Store: db, NoDelivery: true})
	if err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("open the outbox: %w", err)
	}
	return db, o, nil
}

// splitList reads a comma-separated list.
func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// addWebhook registers a webhook and prints its secret, the only time it
// is shown.
func addWebhook(ctx context.Context, db *store.DB, o *outbox.Outbox, out io.Writer, url string, accounts []core.AccountID, events []string) error {
	if err := checkAccounts(ctx, db, accounts); err != nil {
		return err
	}
	w, err := o.Create(ctx, outbox.Webhook{URL: url, Accounts: accounts, Types: events})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Webhook %s created: %s, %s.\n", w.ID, w.URL, hookScope(w))
	if warn := outbox.URLWarning(w.URL); warn != "" {
		fmt.Fprintln(out, "Warning:", warn)
	}
	fmt.Fprintln(out, "It gets the events from the next start of Warden on.")
	fmt.Fprintln(out, "Its secret signs every delivery (header Warden-Signature). Keep it now: Warden shows it only this once.")
	fmt.Fprintln(out)
	fmt.Fprintln(out, w.Secret)
	return nil
}

// hookScope says which events a webhook takes.
func hookScope(w outbox.Webhook) string {
	accts, types := "every account", "every event type"
	if len(w.Accounts) > 0 {
		ids := make([]string, len(w.Accounts))
		for i, id := range w.Accounts {
			ids[i] = string(id)
		}
		accts = "accounts " + strings.Join(ids, ",")
	}
	if len(w.Types) > 0 {
		types = strings.Join(w.Types, ",")
	}
	return accts + ", " + types
}

// listWebhooks prints every webhook, never a secret.
func listWebhooks(ctx context.Context, o *outbox.Outbox, out io.Writer) error {
	hooks, err := o.Webhooks(ctx)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		fmt.Fprintln(out, "No webhooks. Add one with: warden webhook add URL")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tEVENTS\tCREATED\tLAST DELIVERY\tRETRYING\tFAILED")
	for _, h := range hooks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", h.ID, h.URL, hookScope(h.Webhook), stamp(h.Created), lastDelivery(h.Last), h.Retrying, h.Failed)
	}
	return tw.Flush()
}

// lastDelivery says how a delivery attempt went.
func lastDelivery(r outbox.Result) string {
	switch {
	case r.At.IsZero():
		return "-"
	case r.OK():
		return stamp(r.At) + " ok"
	case r.Status != 0:
		return fmt.Sprintf("%s failed (%d)", stamp(r.At), r.Status)
	}
	return stamp(r.At) + " failed (no answer)"
}

// testWebhook posts a test event and says how the receiver answered.
func testWebhook(ctx context.Context, o *outbox.Outbox, out io.Writer, id string) error {
	res, err := o.Test(ctx, id)
	if err != nil {
		return explainWebhook(err, id)
	}
	if !res.OK() {
		return fmt.Errorf("%w: %s", errTestFailed, res.Error)
	}
	fmt.Fprintf(out, "The receiver took the test event %s (HTTP %d).\n", res.EventID, res.Status)
	return nil
}

// explainWebhook words an unknown webhook.
func explainWebhook(err error, id string) error {
	if errors.Is(err, outbox.ErrUnknownWebhook) {
		return fmt.Errorf("no webhook %s (warden webhook list shows them)", id)
	}
	return err
}
