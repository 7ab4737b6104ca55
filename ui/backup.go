package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"
)

// Backup writes and reads the file of File › Export accounts… and Import
// accounts…. Its methods run off Fyne's thread.
type Backup interface {
	// Export writes every account and its device keys to path; with
	// disconnect, the accounts are disconnected here afterwards. It returns
	// how many accounts it wrote.
	Export(path string, disconnect bool) (int, error)
	// Import adds the accounts of the file at path and returns how many; on
	// an error it changed nothing (or says how far it got).
	Import(path string) (int, error)
}

// exportWarning is what the operator reads before choosing where to save.
const exportWarning = "The file holds every account's device keys: whoever has it can use these WhatsApp accounts. " +
	"Keep it like a password, and delete it once it is imported.\n\n" +
	"An account must run on one desktop only: two clients on one account kick each other off."

// confirmExport asks before exporting, then asks where; it returns the first
// dialog for tests.
func (w *Window) confirmExport() dialog.Dialog {
	if w.opts.Backup == nil {
		return nil
	}
	disconnect := widget.NewCheck("Disconnect the exported accounts here once the file is written", nil)
	disconnect.SetChecked(true)
	body := container.NewVBox(&widget.Label{Text: exportWarning, Wrapping: fyne.TextWrapWord}, disconnect)
	d := dialog.NewCustomConfirm("Export accounts", "Choose a file…", "Cancel", body, func(ok bool) {
		if !ok {
			return
		}
		save := dialog.NewFileSave(func(uc fyne.URIWriteCloser, err error) {
			if err != nil || uc == nil {
				return
			}
			path := uc.URI().Path()
			_ = uc.Close() // the app writes the file itself, atomically and 0600
			w.exportTo(path, disconnect.Checked)
		}, w.win)
		save.SetFileName("warden-accounts.json")
		save.SetFilter(storage.NewExtensionFileFilter([]string{".json"}))
		save.Show()
	}, w.win)
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
	return d
}

func (w *Window) exportTo(path string, disconnect bool) {
	w.async(func() func() {
		n, err := w.opts.Backup.Export(path, disconnect)
		return func() {
			if err != nil {
				w.showMessage("Could not export the accounts", err.Error())
				return
			}
			msg := fmt.Sprintf("%s written to %s. It holds their keys: keep it safe.", plural(n, "account"), path)
			if disconnect {
				msg += " They are disconnected here."
			}
			w.showMessage("Accounts exported", msg)
		}
	})
}

// chooseImport asks for a file to import.
func (w *Window) chooseImport() {
	if w.opts.Backup == nil {
		return
	}
	open := dialog.NewFileOpen(func(uc fyne.URIReadCloser, err error) {
		if err != nil || uc == nil {
			return
		}
		path := uc.URI().Path()
		_ = uc.Close()
		w.importFrom(path)
	}, w.win)
	open.SetFilter(storage.NewExtensionFileFilter([]string{".json"}))
	open.Show()
}

func (w *Window) importFrom(path string) {
	w.async(func() func() {
		n, err := w.opts.Backup.Import(path)
		return func() {
			if err != nil {
				w.showMessage("Could not import the accounts", err.Error())
				return
			}
			w.apply(w.ctl.Statuses())
			w.showMessage("Accounts imported", fmt.Sprintf("%s imported. Those that were running connect now, without pairing.", plural(n, "account")))
		}
	})
}
