package ui

import (
	"testing"

	"warden/core"
)

func TestEveryStateHasItsOwnColour(t *testing.T) {
	seen := map[[4]uint8]core.State{}
	for _, st := range core.States {
		c, ok := stateColors[st]
		if !ok {
			t.Errorf("%v has no colour", st)
			continue
		}
		key := [4]uint8{c.R, c.G, c.B, c.A}
		if other, dup := seen[key]; dup {
			t.Errorf("%v and %v share the colour %v", st, other, c)
		}
		seen[key] = st
	}
}

func TestBadgeTextIsReadable(t *testing.T) {
	for _, st := range core.States {
		c := stateColor(st)
		if r := contrast(textOn(c), c); r < 4.5 {
			t.Errorf("the %v badge's text has a contrast of %.2f:1, want at least 4.5:1", st, r)
		}
	}
}

func TestContrast(t *testing.T) {
	if r := contrast(lightText, darkText); r < 17 || r > 18 {
		t.Errorf("contrast(white, #1a1a1a) = %.2f, want about 17.4", r)
	}
	if r := contrast(lightText, lightText); r != 1 {
		t.Errorf("contrast of a colour with itself = %.2f, want 1", r)
	}
}
