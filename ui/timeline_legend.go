package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// newTimelineLegend explains the band's marks.
func newTimelineLegend() *fyne.Container {
	swatch := func(o fyne.CanvasObject, text string) fyne.CanvasObject {
		l := newMuted(theme.SizeNameCaptionText)
		setMuted(l, text)
		return container.NewHBox(container.NewCenter(container.New(fixedSize{12, 10}, o)), l)
	}
	// It wraps in a narrow window rather than widen the pane.
	return container.New(&flowLayout{hpad: theme.Padding()},
		swatch(newLegendMark(markDisconnect), "disconnect"),
		swatch(newLegendMark(markAttempt), "reconnect attempt"),
		swatch(canvas.NewRasterWithPixels(gapPixel), "not running / no record"),
	)
}

// legendMark draws a marker of the band for the legend, in the theme's
// colours of the moment.
type legendMark struct {
	widget.BaseWidget
	kind markKind
}

func newLegendMark(kind markKind) *legendMark {
	m := &legendMark{kind: kind}
	m.ExtendBaseWidget(m)
	return m
}

func (m *legendMark) CreateRenderer() fyne.WidgetRenderer {
	tri := &canvas.RegularPolygon{Sides: 3, Angle: 180}
	tick := &canvas.Rectangle{}
	r := &legendMarkRenderer{m: m, tri: tri, tick: tick}
	r.Refresh()
	return r
}

type legendMarkRenderer struct {
	m    *legendMark
	tri  *canvas.RegularPolygon
	tick *canvas.Rectangle
}

func (r *legendMarkRenderer) Layout(size fyne.Size) {
	r.tri.Resize(fyne.NewSize(10, markRow))
	r.tri.Move(fyne.NewPos((size.Width-10)/2, (size.Height-markRow)/2))
	r.tick.Resize(fyne.NewSize(1, attemptRow))
	r.tick.Move(fyne.NewPos(size.Width/2, (size.Height-attemptRow)/2))
}

func (r *legendMarkRenderer) MinSize() fyne.Size { return fyne.NewSize(10, markRow) }

func (r *legendMarkRenderer) Refresh() {
	r.tri.FillColor = theme.ColorForWidget(theme.ColorNameError, r.m)
	r.tick.FillColor = theme.ColorForWidget(theme.ColorNameForeground, r.m)
	r.tri.Refresh()
	r.tick.Refresh()
}

func (r *legendMarkRenderer) Objects() []fyne.CanvasObject {
	if r.m.kind == markDisconnect {
		return []fyne.CanvasObject{r.tri}
	}
	return []fyne.CanvasObject{r.tick}
}

func (r *legendMarkRenderer) Destroy() {}
