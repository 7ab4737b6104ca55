package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// wheelChain lies over a list that sits in a scrolling page (the Timeline
// tab in a short window) and shares the mouse wheel between the two, as a
// browser does with a scrolling box in a scrolling page: down first brings
// the whole list into view, then scrolls it; up first scrolls the list back
// to its top, then the page. Without it the list would take every turn of
// the wheel, and a page whose list fills the view could not be scrolled back
// up. It takes no taps, so clicks reach the rows underneath.
type wheelChain struct {
	widget.BaseWidget
	list *widget.List
	page *container.Scroll
}

func newWheelChain(list *widget.List, page *container.Scroll) *wheelChain {
	c := &wheelChain{list: list, page: page}
	c.ExtendBaseWidget(c)
	return c
}

func (c *wheelChain) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewWithoutLayout())
}

// Scrolled implements fyne.Scrollable.
func (c *wheelChain) Scrolled(ev *fyne.ScrollEvent) {
	dy := ev.Scrolled.DY
	pageEnd := max(c.page.Content.Size().Height-c.page.Size().Height, 0)
	switch {
	case dy < 0 && c.page.Offset.Y < pageEnd: // down, the page first
		c.page.Scrolled(ev)
	case dy > 0 && c.list.GetScrollOffset() <= 0: // up, the list is at its top
		c.page.Scrolled(ev)
	default:
		c.list.ScrollToOffset(c.list.GetScrollOffset() - dy)
	}
}
