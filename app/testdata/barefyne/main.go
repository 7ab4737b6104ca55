// Command barefyne is the yardstick of `make soak-window`: a bare Fyne app,
// one window with one label, built with the same Fyne and the same tags as
// Warden, so that what Warden's window costs beyond it is Warden's own.
package main

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("warden.soak.barefyne")
	w := a.NewWindow("Bare Fyne")
	w.SetContent(widget.NewLabel("A bare Fyne app"))
	w.Resize(fyne.NewSize(1120, 720)) // Warden's default size
	w.ShowAndRun()
}
