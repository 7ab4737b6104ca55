package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// importAccounts adds the accounts of the file at path, with their device
// keys; they log in without pairing. It changes nothing when the file is
// damaged, of a newer format, or holds an account that is here already.
func importAccounts(ctx context.Context, m *core.Manager, d *whatsapp.Dialer, path string) (int, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxExportSize+1))
	fh.Close()
	if err != nil {
		return 0, fmt.Errorf("import %s: %w", path, err)
	}
	if len(data) > maxExportSize {
		return 0, fmt.Errorf("import %s: %w (larger than %d MB)", path, errNotExport, maxExportSize>>20)
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Format != exportFormat {
		if err != nil && head.Format == "" && strings.Contains(string(data[:min(len(data), 64)]), exportFormat) {
			return 0, fmt.Errorf("import %s: the file is damaged or cut short (%v); nothing was imported", path, err)
		}
		return 0, fmt.Errorf("import %s: %w", path, errNotExport)
	}
	if head.Version > exportVersion {
		return 0, fmt.Errorf("import %s: %w (format %d; this one reads up to %d): update Warden first", path, errNewerExport, head.Version, exportVersion)
	}
	var f exportFile
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, fmt.Errorf("import %s: the file is damaged or cut short (%v); nothing was imported", path, err)
	}

	// Refuse before writing anything: duplicates in the file, or here,
	// where an account being deleted still holds its device.
	here := m.Devices()
	seen := make(map[string]bool)
	var dups []string
	var devices []whatsapp.DeviceKeys
	for i, ea := range f.Accounts {
		a := ea.Account
		if _, err := core.ValidateName(a.Name); err != nil {
			return 0, fmt.Errorf("import %s: account %d: %w", path, i+1, err)
		}
		if _, err := core.NormalizeProxy(a.Proxy); err != nil {
			return 0, fmt.Errorf("import %s: account %q: %w", path, a.Name, err)
		}
		if a.JID == "" {
			continue
		}
		jid := normJID(a.JID)
		if seen[jid] {
			return 0, fmt.Errorf("import %s: the file lists the WhatsApp account of %q twice", path, a.Name)
		}
		seen[jid] = true
		if name, ok := here[core.CanonicalDevice(a.JID)]; ok {
			dups = append(dups, fmt.Sprintf("%q (here as %q)", a.Name, name))
		}
		if ea.Device != nil {
			if normJID(ea.Device.JID) != jid {
				return 0, fmt.Errorf("import %s: account %q: its device keys are another account's", path, a.Name)
			}
			devices = append(devices, *ea.Device)
		}
	}
	if len(dups) > 0 {
		return 0, fmt.Errorf("import %s: %w: %s; nothing was imported", path, core.ErrDuplicateAccount, strings.Join(dups, ", "))
	}
	if err := d.ImportDevices(ctx, f.Schema, devices); err != nil {
		return 0, fmt.Errorf("import %s: %w; nothing was imported", path, err)
	}
	n := 0
	for _, ea := range f.Accounts {
		a := ea.Account
		if ea.Device == nil {
			a.JID = "" // no keys: it pairs again
		}
		if _, err := m.AddExisting(ctx, a); err != nil {
			return n, fmt.Errorf("import %s: %d of %d accounts imported; %q failed: %w", path, n, len(f.Accounts), a.Name, err)
		}
		n++
	}
	return n, nil
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
