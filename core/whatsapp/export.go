package whatsapp

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"warden/core"
)

// Export and import of device keys, so that accounts move to another desktop
// without pairing again. A device's keys are its rows in whatsmeow's tables:
// the device itself, and what hangs off it (prekeys, Signal sessions and
// identities, sender keys, app state keys and versions, contacts, chat
// settings, message secrets, privacy tokens). The rows are copied column by
// column, so the copy is whatsmeow's own data, whatever its schema holds;
// the schema version travels with them, and keys from a newer whatsmeow are
// refused. whatsmeow's event buffer (undecrypted messages in flight) stays
// behind.

// ErrDeviceExists is wrapped by ImportDevices when the store already has one
// of the devices.
var ErrDeviceExists = errors.New("the device is already in this device store")

// ErrNewerSchema is wrapped by ImportDevices for keys written by a newer
// whatsmeow than this Warden's.
var ErrNewerSchema = errors.New("the device keys come from a newer version of Warden")

// deviceTables are the tables of a device's rows, parents first, and the
// column naming the device.
var deviceTables = []struct{ name, owner string }{
	{"whatsmeow_device", "jid"},
	{"whatsmeow_identity_keys", "our_jid"},
	{"whatsmeow_pre_keys", "jid"},
	{"whatsmeow_sessions", "our_jid"},
	{"whatsmeow_sender_keys", "our_jid"},
	{"whatsmeow_app_state_sync_keys", "jid"},
	{"whatsmeow_app_state_version", "jid"},
	{"whatsmeow_app_state_mutation_macs", "jid"},
	{"whatsmeow_contacts", "our_jid"},
	{"whatsmeow_chat_settings", "our_jid"},
	{"whatsmeow_message_secrets", "our_jid"},
	{"whatsmeow_privacy_tokens", "our_jid"},
}

// DeviceKeys are one device's rows, table by table.
type DeviceKeys struct {
	JID    string                 `json:"jid"`
	Tables map[string][]DeviceRow `json:"tables"`
}

// DeviceRow is one row: column → value.
type DeviceRow map[string]Value

// Value is a column's value, typed so that bytes stay bytes: exactly one
// field is set, or none for NULL.
type Value struct {
	Bytes  *string  `json:"b,omitempty"` // base64
	Int    *int64   `json:"i,omitempty"`
	Text   *string  `json:"s,omitempty"`
	Bool   *bool    `json:"t,omitempty"`
	Double *float64 `json:"f,omitempty"`
}

func toValue(v any) (Value, error) {
	switch x := v.(type) {
	case nil:
		return Value{}, nil
	case []byte:
		s := base64.StdEncoding.EncodeToString(x)
		return Value{Bytes: &s}, nil
	case int64:
		return Value{Int: &x}, nil
	case int32:
		n := int64(x)
		return Value{Int: &n}, nil
	case int16:
		n := int64(x)
		return Value{Int: &n}, nil
	case string:
		return Value{Text: &x}, nil
	case bool:
		return Value{Bool: &x}, nil
	case float64:
		return Value{Double: &x}, nil
	}
	return Value{}, fmt.Errorf("a value of type %T", v)
}

func (v Value) sql() (any, error) {
	switch {
	case v.Bytes != nil:
		return base64.StdEncoding.DecodeString(*v.Bytes)
	case v.Int != nil:
		return *v.Int, nil
	case v.Text != nil:
		return *v.Text, nil
	case v.Bool != nil:
		return *v.Bool, nil
	case v.Double != nil:
		return *v.Double, nil
	}
	return nil, nil
}

// SchemaVersion returns the version of whatsmeow's tables in the store.
func (d *Dialer) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := d.db.QueryRowContext(ctx, "SELECT version FROM whatsmeow_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the device store's version: %w", err)
	}
	return v, nil
}

// ExportDevices returns the keys of the accounts' devices, in one read
// transaction. An account that was never paired, or whose keys are gone,
// has none: it is missing from the result.
func (d *Dialer) ExportDevices(ctx context.Context, accts []core.Account) ([]DeviceKeys, error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("export device keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var out []DeviceKeys
	for _, a := range accts {
		if a.JID == "" {
			continue
		}
		jid, err := types.ParseJID(a.JID)
		if err != nil {
			return nil, fmt.Errorf("export device keys of %s: %w", a.ID, err)
		}
		keys := DeviceKeys{JID: jid.String(), Tables: map[string][]DeviceRow{}}
		for _, t := range deviceTables {
			rows, err := readRows(ctx, tx, d.dialect, t.name, t.owner, keys.JID)
			if err != nil {
				return nil, fmt.Errorf("export device keys of %s: %w", a.ID, err)
			}
			if len(rows) > 0 {
				keys.Tables[t.name] = rows
			}
		}
		if len(keys.Tables["whatsmeow_device"]) == 0 {
			continue // logged out: no keys
		}
		out = append(out, keys)
	}
	return out, nil
}

// placeholder is the dialect's n-th (1-based) query parameter.
func placeholder(dialect string, n int) string {
	if dialect == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

func readRows(ctx context.Context, tx *sql.Tx, dialect, table, owner, jid string) ([]DeviceRow, error) {
	rows, err := tx.QueryContext(ctx, "SELECT * FROM "+table+" WHERE "+owner+" = "+placeholder(dialect, 1), jid)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []DeviceRow
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		row := make(DeviceRow, len(cols))
		for i, c := range cols {
			v, err := toValue(vals[i])
			if err != nil {
				return nil, fmt.Errorf("read %s.%s: %w", table, c, err)
			}
			row[c] = v
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// DeviceJID returns a device JID in whatsmeow's spelling (types.JID.String),
// under which its keys are stored and found: "U.0:4@s.whatsapp.net" is
// "U:4@s.whatsapp.net". A JID that core.ValidateJID refuses is refused: its
// agent or device number does not fit, and whatsmeow's parser would wrap it
// around to another device.
func DeviceJID(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: no WhatsApp device", core.ErrInvalidAccount)
	}
	if err := core.ValidateJID(s); err != nil {
		return "", err
	}
	jid, err := types.ParseJID(s)
	if err != nil {
		return "", fmt.Errorf("%w: its WhatsApp device %.80q: %w", core.ErrInvalidAccount, s, err)
	}
	return jid.String(), nil
}

// ImportDevices writes the devices' keys in one transaction: all of them, or
// none, each under whatsmeow's spelling of its JID (DeviceJID), which every
// row of it must name. It refuses keys of a newer schema than the store's,
// and devices the store already has; the rows whatsmeow leaves behind when it
// deletes a device (its privacy tokens have no foreign key to the device)
// give way to the imported ones. undo deletes every row of the imported
// devices again, for an import that fails after its keys went in.
func (d *Dialer) ImportDevices(ctx context.Context, schema int, devices []DeviceKeys) (undo func(context.Context) error, err error) {
	current, err := d.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if schema > current {
		return nil, fmt.Errorf("import device keys: %w (device store version %d, this Warden has %d): update Warden first", ErrNewerSchema, schema, current)
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("import device keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	bools, err := d.boolColumns(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("import device keys: %w", err)
	}
	known := make(map[string]bool, len(deviceTables))
	for _, t := range deviceTables {
		known[t.name] = true
	}
	jids := make([]string, 0, len(devices))
	for _, dev := range devices {
		jid, err := DeviceJID(dev.JID)
		if err != nil {
			return nil, fmt.Errorf("import device keys: %w", err)
		}
		if slices.Contains(jids, jid) {
			return nil, fmt.Errorf("import device keys: %s: the keys of this device come twice", jid)
		}
		jids = append(jids, jid)
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM whatsmeow_device WHERE jid = "+placeholder(d.dialect, 1), jid).Scan(&n); err != nil {
			return nil, fmt.Errorf("import device keys: %w", err)
		}
		if n > 0 {
			return nil, fmt.Errorf("import device keys: %s: %w", jid, ErrDeviceExists)
		}
		if len(dev.Tables["whatsmeow_device"]) != 1 {
			return nil, fmt.Errorf("import device keys: %s: the file has %d device rows, want 1", jid, len(dev.Tables["whatsmeow_device"]))
		}
		for name := range dev.Tables {
			if !known[name] {
				return nil, fmt.Errorf("import device keys: %s: unknown table %.64q", jid, name)
			}
		}
		if err := deleteRows(ctx, tx, d.dialect, jid); err != nil {
			return nil, fmt.Errorf("import device keys: %s: %w", jid, err)
		}
		for _, t := range deviceTables {
			for _, row := range dev.Tables[t.name] {
				if err := insertRow(ctx, tx, d.dialect, bools[t.name], t.name, t.owner, jid, row); err != nil {
					return nil, fmt.Errorf("import device keys: %s: %w", jid, err)
				}
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("import device keys: %w", err)
	}
	undo = func(ctx context.Context) error {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("remove the imported device keys: %w", err)
		}
		defer func() { _ = tx.Rollback() }()
		for _, jid := range jids {
			if err := deleteRows(ctx, tx, d.dialect, jid); err != nil {
				return fmt.Errorf("remove the imported device keys: %s: %w", jid, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("remove the imported device keys: %w", err)
		}
		return nil
	}
	return undo, nil
}

// deleteRows deletes every row of the device jid, children first.
func deleteRows(ctx context.Context, tx *sql.Tx, dialect, jid string) error {
	for _, t := range slices.Backward(deviceTables) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t.name+" WHERE "+t.owner+" = "+placeholder(dialect, 1), jid); err != nil {
			return fmt.Errorf("delete from %s: %w", t.name, err)
		}
	}
	return nil
}

// boolColumns returns PostgreSQL's boolean columns of whatsmeow's tables,
// table by table: SQLite keeps booleans as integers, and keys exported from
// it carry 0 and 1 there.
func (d *Dialer) boolColumns(ctx context.Context, tx *sql.Tx) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	if d.dialect != "postgres" {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'boolean' AND table_name LIKE 'whatsmeow_%'")
	if err != nil {
		return nil, fmt.Errorf("read the column types: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			return nil, err
		}
		if out[table] == nil {
			out[table] = map[string]bool{}
		}
		out[table][col] = true
	}
	return out, rows.Err()
}

func insertRow(ctx context.Context, tx *sql.Tx, dialect string, bools map[string]bool, table, owner, jid string, row DeviceRow) error {
	cols := make([]string, 0, len(row))
	for c := range row {
		if !validColumn(c) {
			return fmt.Errorf("%s: bad column name %.64q", table, c)
		}
		cols = append(cols, c)
	}
	slices.Sort(cols)
	args := make([]any, len(cols))
	for i, c := range cols {
		v, err := row[c].sql()
		if err != nil {
			return fmt.Errorf("%s.%s: %w", table, c, err)
		}
		if n, isInt := v.(int64); isInt && bools[c] {
			v = n != 0
		}
		args[i] = v
	}
	i := slices.Index(cols, owner)
	if i < 0 {
		return fmt.Errorf("%s: a row without its device", table)
	}
	if owned, ok := args[i].(string); !ok {
		return fmt.Errorf("%s: a row of another device", table)
	} else if spelt, err := DeviceJID(owned); err != nil || spelt != jid {
		return fmt.Errorf("%s: a row of another device", table)
	}
	args[i] = jid // whatsmeow's spelling
	marks := make([]string, len(cols))
	for i := range marks {
		marks[i] = placeholder(dialect, i+1)
	}
	q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("write %s: %w", table, err)
	}
	return nil
}

// validColumn accepts the column names of whatsmeow's schema (lower case,
// digits, underscores), which are spliced into the INSERT.
func validColumn(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}
