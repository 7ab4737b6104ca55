package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"

	"warden/core"
	"warden/core/whatsapp"
)

// File › Export accounts… and Import accounts…: one file with the accounts
// (name, WhatsApp device, proxy, whether they run) and their device keys, so
// that a fleet moves to another desktop without pairing every phone again.
// Timelines and logs stay behind. The file holds secrets (anyone with it can
// be those accounts), so it is written with mode 0600, through a temporary
// file renamed into place: a crash leaves the old file or the new one,
// never half of one. Exported accounts can be disconnected here at once, so
// that the two desktops never run one account together.

const (
	exportFormat  = "warden-accounts"
	exportVersion = 1
	maxExportSize = 256 << 20
)

type exportFile struct {
	Format     string          `json:"format"`
	Version    int             `json:"version"`
	ExportedAt time.Time       `json:"exported_at"`
	Warden     string          `json:"warden_version"`
	Schema     int             `json:"device_schema"` // whatsmeow's tables' version
	Accounts   []exportAccount `json:"accounts"`
}

type exportAccount struct {
	Account core.Account         `json:"account"`
	Device  *whatsapp.DeviceKeys `json:"device,omitempty"`
}

// Errors of importAccounts callers branch on.
var (
	errNotExport   = errors.New("this is not a file of accounts exported by Warden")
	errNewerExport = errors.New("this file was exported by a newer Warden")
)

// disconnecter disconnects an account where it runs: the Manager alone, or
// in a fleet the Console, which routes the command to the account's node as
// the window's Disconnect does.
type disconnecter interface {
	Disconnect(ctx context.Context, id core.AccountID) error
}

// exportAccounts writes every account and its device keys to path. With a
// disconnecter, the accounts are disconnected through it once the file is
// safely written; nil leaves them running. It returns how many accounts it
// wrote.
func exportAccounts(ctx context.Context, m *core.Manager, d *whatsapp.Dialer, path string, disconnect disconnecter) (int, error) {
	var accts []core.Account
	for _, st := range m.Statuses() {
		accts = append(accts, st.Account)
	}
	slices.SortFunc(accts, func(a, b core.Account) int { return strings.Compare(string(a.ID), string(b.ID)) })
	devices, err := d.ExportDevices(ctx, accts)
	if err != nil {
		return 0, err
	}
	schema, err := d.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	byJID := make(map[string]*whatsapp.DeviceKeys, len(devices))
	for i := range devices {
		byJID[devices[i].JID] = &devices[i]
	}
	f := exportFile{Format: exportFormat, Version: exportVersion, ExportedAt: time.Now().UTC(), Warden: Version, Schema: schema}
	for _, a := range accts {
		ea := exportAccount{Account: a}
		if a.JID != "" {
			ea.Device = byJID[normJID(a.JID)]
		}
		f.Accounts = append(f.Accounts, ea)
	}
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	if err := writeSecretFile(path, data); err != nil {
		return 0, fmt.Errorf("export to %s: %w", path, err)
	}
	if disconnect != nil {
		var errs []error
		for _, a := range accts {
			// Not connected: already disconnected (and kept from starting
			// again). Unknown: deleted meanwhile.
			err := disconnect.Disconnect(ctx, a.ID)
			if err != nil && !errors.Is(err, core.ErrNotConnected) && !errors.Is(err, core.ErrUnknownAccount) {
				errs = append(errs, fmt.Errorf("disconnect %s: %w", a.Name, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return len(accts), fmt.Errorf("exported, but: %w", err)
		}
	}
	return len(accts), nil
}

// normJID is a device JID in canonical form.
func normJID(s string) string {
	if jid, err := types.ParseJID(s); err == nil {
		return jid.String()
	}
	return s
}

// damaged marks an error about a file that is damaged, or was changed after
// Warden wrote it: the operator exports the accounts again. said is set when
// the error says so already.
type damaged struct {
	error
	said bool
}

func (e damaged) Unwrap() error { return e.error }

// refused is an import's error when it wrote nothing, saying what to do.
func refused(path string, err error) error {
	var d damaged
	switch {
	case errors.As(err, &d) && d.said:
		return fmt.Errorf("import %s: %w; nothing was imported: export the accounts again", path, err)
	case errors.As(err, &d):
		return fmt.Errorf("import %s: %w; nothing was imported: the file is damaged or was changed after Warden wrote it, so export the accounts again", path, err)
	}
	return fmt.Errorf("import %s: %w; nothing was imported", path, err)
}

// importAccounts adds the accounts of the file at path, with their device
// keys; they log in without pairing. It imports every account or none: the
// whole file is checked as the stores will check it before anything is
// written, and when adding the accounts still fails, the device keys it
// wrote are removed again. So it changes nothing when the file is damaged,
// of a newer format, or holds an account that is here already.
func importAccounts(ctx context.Context, m *core.Manager, d *whatsapp.Dialer, path string) (int, error) {
	f, err := readExport(path)
	if err != nil {
		return 0, refused(path, err)
	}
	accts, devices, err := checkImport(f, m.Devices())
	if err != nil {
		return 0, refused(path, err)
	}
	undo, err := d.ImportDevices(ctx, f.Schema, devices)
	if err != nil {
		if !errors.Is(err, whatsapp.ErrNewerSchema) && !errors.Is(err, whatsapp.ErrDeviceExists) {
			err = damaged{error: err} // keys that do not fit whatsmeow's tables
		}
		return 0, refused(path, err)
	}
	added, err := m.AddAllExisting(ctx, accts)
	switch {
	case err == nil:
		return len(added), nil
	case len(added) == len(accts):
		return len(added), fmt.Errorf("import %s: the accounts were imported, but: %w", path, err)
	}
	// The keys go again, so that the file imports once the cause is gone.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backupTimeout)
	defer cancel()
	if uerr := undo(uctx); uerr != nil {
		return 0, fmt.Errorf("import %s: %w; no account was imported, but the device keys it wrote stayed (%w): remove them before importing this file again", path, err, uerr)
	}
	return 0, refused(path, err)
}

// readExport reads and decodes an export file, refusing one that is not
// Warden's, is damaged or is of a format version this Warden does not read.
func readExport(path string) (exportFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return exportFile{}, err
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxExportSize+1))
	fh.Close()
	if err != nil {
		return exportFile{}, err
	}
	if len(data) > maxExportSize {
		return exportFile{}, fmt.Errorf("%w (larger than %d MB)", errNotExport, maxExportSize>>20)
	}
	var head struct {
		Format  string          `json:"format"`
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Format != exportFormat {
		if err != nil && head.Format == "" && bytes.Contains(data, []byte(`"`+exportFormat+`"`)) {
			return exportFile{}, damaged{error: fmt.Errorf("the file is damaged or cut short (%.200s)", err), said: true}
		}
		return exportFile{}, errNotExport
	}
	raw := string(head.Version)
	v, err := strconv.Atoi(raw)
	number := raw != "" && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
	switch {
	case raw == "" || raw == "null":
		return exportFile{}, damaged{error: errors.New("the file has no format version")}
	case err != nil && number:
		return exportFile{}, fmt.Errorf("the file's format version %.24s is not one this Warden reads (it reads version %d): the file is damaged, or comes from a newer Warden", raw, exportVersion)
	case err != nil:
		return exportFile{}, damaged{error: fmt.Errorf("the file's format version %.24s is not a number", raw)}
	case v > exportVersion:
		return exportFile{}, fmt.Errorf("%w (format %d; this one reads up to %d): update Warden first", errNewerExport, v, exportVersion)
	case v < 1:
		return exportFile{}, damaged{error: fmt.Errorf("the file's format version %d is not one Warden writes (they start at 1)", v)}
	}
	var f exportFile
	if err := json.Unmarshal(data, &f); err != nil {
		return exportFile{}, damaged{error: fmt.Errorf("the file is damaged or cut short (%.200s)", err), said: true}
	}
	return f, nil
}

// checkImport checks every account of the file as AddAllExisting and the
// stores will, before anything is written: each account is valid
// (core.ValidateAccount), its keys are its own, no WhatsApp device comes
// twice, and none is here already (here: core.Manager.Devices). It returns
// the accounts to add, each paired one under whatsmeow's spelling of its
// device, and the keys to write.
func checkImport(f exportFile, here map[string]string) ([]core.Account, []whatsapp.DeviceKeys, error) {
	seen := make(map[string]bool)
	var dups []string
	accts := make([]core.Account, 0, len(f.Accounts))
	var devices []whatsapp.DeviceKeys
	for i, ea := range f.Accounts {
		a, err := core.ValidateAccount(ea.Account)
		if err != nil {
			return nil, nil, damaged{error: fmt.Errorf("%s: %w", accountLabel(ea.Account, i), err)}
		}
		if a.JID != "" {
			if a.JID, err = whatsapp.DeviceJID(a.JID); err != nil {
				return nil, nil, damaged{error: fmt.Errorf("account %q: %w", a.Name, err)}
			}
			dev := core.CanonicalDevice(a.JID)
			if seen[dev] {
				return nil, nil, damaged{error: fmt.Errorf("the file lists the WhatsApp account of %q twice", a.Name)}
			}
			seen[dev] = true
			if name, ok := here[dev]; ok {
				dups = append(dups, fmt.Sprintf("%q (here as %q)", a.Name, name))
			}
		}
		switch {
		case ea.Device == nil:
			a.JID = "" // no keys: it pairs again
		case a.JID != "":
			keys := *ea.Device
			if keys.JID, err = whatsapp.DeviceJID(keys.JID); err != nil || keys.JID != a.JID {
				return nil, nil, damaged{error: fmt.Errorf("account %q: its device keys are another account's", a.Name)}
			}
			devices = append(devices, keys)
		}
		accts = append(accts, a)
	}
	if len(dups) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", core.ErrDuplicateAccount, strings.Join(dups, ", "))
	}
	return accts, devices, nil
}

// accountLabel names the i-th account of a file in an error: by its name,
// or by its place when it has no valid name.
func accountLabel(a core.Account, i int) string {
	if name, err := core.ValidateName(a.Name); err == nil {
		return fmt.Sprintf("account %q", name)
	}
	return fmt.Sprintf("account %d", i+1)
}

// writeSecretFile writes data to path with mode 0600, atomically.
func writeSecretFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// backupTimeout bounds an export or an import from the window.
const backupTimeout = 2 * time.Minute

// windowBackup is the window's File › Export accounts… and Import accounts….
type windowBackup struct{ svc *services }

func (b windowBackup) Export(path string, disconnect bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backupTimeout)
	defer cancel()
	var off disconnecter
	if disconnect {
		off = b.svc.controller() // in a fleet, the node that runs each account disconnects it
	}
	n, err := exportAccounts(ctx, b.svc.manager, b.svc.dialer, path, off)
	if err == nil {
		b.svc.log.Info("accounts exported", "accounts", n, "file", path, "disconnected", disconnect)
	}
	return n, err
}

func (b windowBackup) Import(path string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backupTimeout)
	defer cancel()
	n, err := importAccounts(ctx, b.svc.manager, b.svc.dialer, path)
	if err != nil {
		b.svc.log.Warn("importing accounts failed", "file", path, "imported", n, "err", err)
		return n, err
	}
	b.svc.log.Info("accounts imported", "accounts", n, "file", path)
	return n, nil
}
