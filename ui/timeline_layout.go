package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// timelineLayout stacks the tab's parts: the picker row, the statistics and
// the legend (both wrapping at the tab's width), the band, a separator, and
// the list in the rest, but never less than listMin: in a short window the
// tab scrolls (its scroll container holds this layout) rather than squeeze
// the list to nothing. Unlike a VBox it knows the width when it decides the
// heights, so wrapped rows get the room they need.
type timelineLayout struct {
	listMin func() float32 // the list's least height
	// width is the width of the last layout: MinSize measures the wrapping
	// rows at it. grew, if set, is told when a layout found that the rows
	// need another height than MinSize said, so that the scroll around
	// asks again.
	width    float32
	reported float32
	grew     func()
}

// heights returns the height of each object at width, the list's least.
func (l *timelineLayout) heights(objs []fyne.CanvasObject, width float32) []float32 {
	hs := make([]float32, len(objs))
	for i, o := range objs {
		h := o.MinSize().Height
		if c, ok := o.(*fyne.Container); ok && width > 0 {
			if f, ok := c.Layout.(*flowLayout); ok {
				h = f.height(c.Objects, width)
			}
		}
		if i == len(objs)-1 && l.listMin != nil {
			h = max(h, l.listMin())
		}
		hs[i] = h
	}
	return hs
}

func stackHeight(hs []float32) float32 {
	var s float32
	for _, h := range hs {
		s += h + theme.Padding()
	}
	return s
}

func (l *timelineLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	pad := theme.Padding()
	hs := l.heights(objs, size.Width)
	l.width = size.Width
	y := float32(0)
	for i, o := range objs {
		h := hs[i]
		if i == len(objs)-1 { // the list: the rest, at least its least
			h = max(size.Height-y, h)
		}
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + pad
	}
	if need := stackHeight(hs); need != l.reported && l.grew != nil {
		l.reported = need // once per change: the scroll asks MinSize again
		l.grew()
	}
}

func (l *timelineLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s.Width = max(s.Width, o.MinSize().Width)
	}
	s.Height = stackHeight(l.heights(objs, l.width))
	l.reported = s.Height
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
