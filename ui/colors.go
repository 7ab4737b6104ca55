package ui

import (
	"image/color"

	"warden/core"
)

// The colour of each state, used by the list's dot, the detail's badge and the
// summary bar. They are mid tones, readable on the light and the dark theme,
// and never stand alone: the badge and the summary also carry the word.
var stateColors = map[core.State]color.NRGBA{
	core.Idle:       {R: 0x8e, G: 0x8e, B: 0x93, A: 0xff}, // grey: stopped
	core.Pairing:    {R: 0x2f, G: 0x80, B: 0xed, A: 0xff}, // blue: the operator scans a code
	core.Connecting: {R: 0xe6, G: 0xa7, B: 0x00, A: 0xff}, // amber
	core.Connected:  {R: 0x2b, G: 0xa8, B: 0x4a, A: 0xff}, // green
	core.Waiting:    {R: 0xf0, G: 0x8c, B: 0x00, A: 0xff}, // deeper amber: between attempts
	core.Replaced:   {R: 0xe8, G: 0x59, B: 0x0c, A: 0xff}, // orange-red
	core.LoggedOut:  {R: 0xe0, G: 0x31, B: 0x31, A: 0xff}, // red
	core.Banned:     {R: 0xc2, G: 0x25, B: 0x5c, A: 0xff}, // raspberry
	core.Outdated:   {R: 0xae, G: 0x3e, B: 0xc9, A: 0xff}, // purple-red
	core.Failed:     {R: 0xc9, G: 0x2a, B: 0x2a, A: 0xff}, // dark red
}

// needsActionColor marks the "needs action" count in the summary bar.
var needsActionColor = color.NRGBA{R: 0xe0, G: 0x31, B: 0x31, A: 0xff}

// stateColor returns the colour of a state; unknown states are grey.
func stateColor(s core.State) color.NRGBA {
	if c, ok := stateColors[s]; ok {
		return c
	}
	return stateColors[core.Idle]
}

// textOn returns black or white, whichever reads better on background c.
func textOn(c color.NRGBA) color.Color {
	// Relative luminance, roughly (sRGB weights without linearisation).
	l := 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
	if l > 150 {
		return color.NRGBA{R: 0x1a, G: 0x1a, B: 0x1a, A: 0xff}
	}
	return color.White
}
