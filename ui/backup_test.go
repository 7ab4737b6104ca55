package ui

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

type fakeBackup struct {
	mu      sync.Mutex
	calls   []string
	n       int
	err     error
	checked bool
}

func (f *fakeBackup) Export(path string, disconnect bool) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Export "+path)
	f.checked = disconnect
	return f.n, f.err
}

func (f *fakeBackup) Import(path string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "Import "+path)
	return f.n, f.err
}

func newBackupWindow(t *testing.T, b *fakeBackup) *Window {
	w, _ := newTestWindow(t, sampleStatuses()...)
	w.opts.Backup = b
	w.installShortcuts()
	return w
}

func menuLabels(menu *fyne.Menu) []string {
	var out []string
	for _, it := range menu.Items {
		out = append(out, it.Label)
	}
	return out
}

func TestFileMenuHasExportAndImport(t *testing.T) {
	w := newBackupWindow(t, &fakeBackup{})
	file := w.win.MainMenu().Items[0]
	got := strings.Join(menuLabels(file), "|")
	if got != "New connection…||Export accounts…|Import accounts…||Quit" {
		t.Errorf("File menu = %q", got)
	}
	plain, _ := newTestWindow(t, sampleStatuses()...)
	if strings.Contains(strings.Join(menuLabels(plain.win.MainMenu().Items[0]), "|"), "Export") {
		t.Error("Export without a Backup")
	}
}

func TestExportWarnsAndReports(t *testing.T) {
	b := &fakeBackup{n: 3}
	w := newBackupWindow(t, b)
	w.confirmExport()
	d := topDialog(t, w)
	if !hasText(d, exportWarning) {
		t.Error("the export dialog does not warn about the keys")
	}
	var check *widget.Check
	for _, o := range visible(d) {
		if c, ok := o.(*widget.Check); ok {
			check = c
		}
	}
	if check == nil || !check.Checked {
		t.Fatal("disconnecting the exported accounts is not offered, checked")
	}
	w.exportTo("/backup/fleet.json", true)
	if len(b.calls) != 1 || b.calls[0] != "Export /backup/fleet.json" || !b.checked {
		t.Errorf("export called %v (disconnect %v)", b.calls, b.checked)
	}
	if !hasText(topDialog(t, w), "3 accounts written to /backup/fleet.json. It holds their keys: keep it safe. They are disconnected here.") {
		t.Error("no report of the export")
	}
	b.err = errors.New("export to /backup/fleet.json: permission denied")
	w.exportTo("/backup/fleet.json", false)
	if !hasText(topDialog(t, w), "export to /backup/fleet.json: permission denied") {
		t.Error("the export's error is not shown")
	}
}

func TestImportReports(t *testing.T) {
	b := &fakeBackup{n: 2}
	w := newBackupWindow(t, b)
	w.importFrom("/backup/fleet.json")
	if !hasText(topDialog(t, w), "2 accounts imported. Those that were running connect now, without pairing.") {
		t.Error("no report of the import")
	}
	b.err = errors.New("import /backup/fleet.json: this WhatsApp account is already in Warden: \"Alice\"; nothing was imported")
	w.importFrom("/backup/fleet.json")
	if !hasText(topDialog(t, w), b.err.Error()) {
		t.Error("the import's error is not shown")
	}
}
