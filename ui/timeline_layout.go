package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// timelineLayout stacks the tab's parts: the picker row, the statistics and
// the legend (both wrapping at the tab's width), the band, a separator, and
// the list in the rest. Unlike a VBox it knows the width when it decides the
// heights, so wrapped rows get the room they need at once.
type timelineLayout struct{}

func (timelineLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	y := float32(0)
	for i, o := range objs {
		h := o.MinSize().Height
		if c, ok := o.(*fyne.Container); ok {
			if f, ok := c.Layout.(*flowLayout); ok {
				h = f.height(c.Objects, size.Width)
			}
		}
		if i == len(objs)-1 { // the list: the rest
			h = max(size.Height-y, 0)
		}
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + pad
	}
}

func (timelineLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		m := o.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height + theme.Padding()
	}
	return s
}

// flowLayout places its objects left to right at their minimum sizes and
// wraps them into rows. Its MinSize is one row as wide as its widest object;
// the layout that holds it asks height for the rows a width needs.
type flowLayout struct{ hpad float32 }

// place positions objs in rows at width (when move is set) and returns the
// height they take.
func (f *flowLayout) place(objs []fyne.CanvasObject, width float32, move bool) float32 {
	x, y, rowH := float32(0), float32(0), float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		if x > 0 && x+m.Width > width {
			x, y, rowH = 0, y+rowH, 0
		}
		if move {
			o.Move(fyne.NewPos(x, y))
			o.Resize(m)
		}
		x += m.Width + f.hpad
		rowH = max(rowH, m.Height)
	}
	return y + rowH
}

func (f *flowLayout) height(objs []fyne.CanvasObject, width float32) float32 {
	return f.place(objs, width, false)
}

func (f *flowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	f.place(objs, size.Width, true)
}

func (f *flowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Visible() {
			m := o.MinSize()
			s = s.Max(m)
		}
	}
	return s
}

// fixedSize lays its objects out at one fixed size.
type fixedSize struct{ w, h float32 }

func (f fixedSize) Layout(objs []fyne.CanvasObject, _ fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(fyne.NewSize(f.w, f.h))
	}
}

func (f fixedSize) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(f.w, f.h) }
