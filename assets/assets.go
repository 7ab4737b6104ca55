// Package assets holds Warden's embedded resources.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:embed icon.png
var iconPNG []byte

// Icon is Warden's application icon.
var Icon = fyne.NewStaticResource("warden.png", iconPNG)
