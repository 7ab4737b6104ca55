package ui

import (
	"image/color"
	"math"

	"warden/core"
)

// The colour of each state, used by the list's dot, the detail's badge and the
// summary bar. They are mid tones, readable on the light and the dark theme,
// and never stand alone: the badge and the summary also carry the word.
var stateColors = map[core.State]color.NRGBA{
	core.Idle:       {R: 0x8e, G: 0x8e, B: 0x93, A: 0xff}, // grey: stopped
	core.Pairing:    {R: 0x1a, G: 0x73, B: 0xe8, A: 0xff}, // blue: the operator scans a code
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

// The two colours badge text can take.
var (
	darkText  = color.NRGBA{R: 0x1a, G: 0x1a, B: 0x1a, A: 0xff}
	lightText = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
)

// statusColor returns the colour of a status: its state's, except that an
// account that could not reach WhatsApp is not the grey of one the
// operator stopped.
func statusColor(s core.Status) color.NRGBA {
	if unreachable(s) {
		return stateColor(core.Replaced)
	}
	if s.Stuck() {
		return needsActionColor
	}
	return stateColor(s.State)
}

// textOn returns dark or white text, whichever contrasts more with c.
func textOn(c color.NRGBA) color.NRGBA {
	if contrast(darkText, c) >= contrast(lightText, c) {
		return darkText
	}
	return lightText
}

// contrast is the WCAG 2 contrast ratio of two colours, from 1 to 21.
func contrast(a, b color.NRGBA) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is the WCAG 2 relative luminance of an opaque colour.
func luminance(c color.NRGBA) float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}
