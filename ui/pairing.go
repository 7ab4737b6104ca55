package ui

import (
	"image"
	"math"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	qrcode "github.com/skip2/go-qrcode"

	"warden/core"
)

// qrSize is about the smallest side of the QR code on screen, in Fyne units.
const qrSize = 260

// pairingView is the detail's body while an account pairs: a large QR code,
// "Code k of 6" and a countdown bar; or, on request, a phone number entry and
// the 8-character code to type on the phone.
type pairingView struct {
	onNewCode   func()                                // Connect: new QR codes
	onPairPhone func(phone string, done func(string)) // PairPhone; done gets the code
	relayout    func()                                // lays the enclosing pane out again
	onMode      func()                                // the mode changed: line() may have too

	id      core.AccountID
	code    string    // the QR code shown
	shownAt time.Time // when it arrived, for the countdown bar
	expires time.Time

	// QR mode.
	qr      *canvas.Image
	index   *widget.Label
	bar     *widget.ProgressBar
	left    time.Duration // shown by the bar's text
	qrMode  *fyne.Container
	waiting *fyne.Container // pairing, no code yet
	spinner *widget.ProgressBarInfinite

	// Expired mode.
	expiredMode *fyne.Container

	// Phone mode: the form, then the code.
	phone      *widget.Entry
	phoneError *widget.Label
	getCode    *widget.Button
	phoneMode  *fyne.Container
	phoneCode  *canvas.Text
	codeFor    *widget.Label // "Enter this code on the phone +1 555…"
	codePhone  string        // the digits the shown code is for
	codeMode   *fyne.Container
	phoneState phoneStep

	content *fyne.Container
}

// phoneStep says how far phone-number pairing went.
type phoneStep int

const (
	phoneOff   phoneStep = iota // showing the QR code
	phoneForm                   // typing the number
	phoneShown                  // the code is shown
)

func newPairingView(onNewCode func(), onPairPhone func(string, func(string))) *pairingView {
	p := &pairingView{onNewCode: onNewCode, onPairPhone: onPairPhone}

	p.qr = &canvas.Image{ScaleMode: canvas.ImageScalePixels, FillMode: canvas.ImageFillContain}
	p.qr.SetMinSize(fyne.NewSquareSize(qrSize))
	p.index = &widget.Label{Alignment: fyne.TextAlignCenter, TextStyle: fyne.TextStyle{Bold: true}}
	p.bar = &widget.ProgressBar{Max: 1}
	p.bar.TextFormatter = func() string {
		if p.left <= 0 {
			return "Waiting for the next code…"
		}
		return "Expires in " + formatDuration((p.left + time.Second - 1).Truncate(time.Second))
	}
	usePhone := &widget.Button{Text: "Use phone number instead", Icon: theme.AccountIcon(), Importance: widget.LowImportance, OnTapped: p.openPhoneForm}
	steps := &widget.Label{
		Text:     "On the phone, open WhatsApp › Settings › Linked devices › Link a device, and point the camera at this code.",
		Wrapping: fyne.TextWrapWord,
	}
	// The code on the left, what to do with it on the right, so that all of it
	// fits in the detail pane without scrolling.
	p.index.Alignment = fyne.TextAlignLeading
	p.qrMode = container.NewBorder(nil, nil,
		container.NewVBox(container.NewStack(&canvas.Rectangle{FillColor: whiteQR, CornerRadius: 8}, container.NewPadded(p.qr))),
		nil,
		container.NewVBox(
			p.index,
			p.bar,
			steps,
			container.NewHBox(usePhone),
		),
	)
	p.spinner = widget.NewProgressBarInfinite()
	p.waiting = container.NewVBox(
		p.spinner,
		&widget.Label{Text: "Asking WhatsApp for a QR code…", Alignment: fyne.TextAlignCenter},
		container.NewCenter(&widget.Button{Text: "Use phone number instead", Icon: theme.AccountIcon(), Importance: widget.LowImportance, OnTapped: p.openPhoneForm}),
	)

	p.expiredMode = container.NewVBox(
		&widget.Label{Text: "QR code expired", Alignment: fyne.TextAlignCenter, TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText},
		&widget.Label{Text: "Nobody scanned the codes in time. Ask for a new one when the phone is at hand.", Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord},
		container.NewCenter(&widget.Button{Text: "New code", Icon: theme.ViewRefreshIcon(), Importance: widget.HighImportance, OnTapped: func() { p.onNewCode() }}),
	)

	p.phone = &widget.Entry{PlaceHolder: "+1 555 123 4567"}
	p.phone.OnSubmitted = func(string) { p.requestCode() }
	p.phoneError = &widget.Label{Importance: widget.DangerImportance, Wrapping: fyne.TextWrapWord}
	p.phoneError.Hide()
	p.getCode = &widget.Button{Text: "Get code", Importance: widget.HighImportance, OnTapped: p.requestCode}
	p.phoneMode = container.NewVBox(
		&widget.Label{Text: "Link with a phone number", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText},
		&widget.Label{Text: "Type the account's phone number, country code first. WhatsApp then gives an 8-character code to enter on that phone.", Wrapping: fyne.TextWrapWord},
		p.phone,
		p.phoneError,
		container.NewHBox(p.getCode, &widget.Button{Text: "Back to QR code", OnTapped: p.closePhone}),
	)

	p.codeFor = &widget.Label{Text: "Enter this code on the phone", TextStyle: fyne.TextStyle{Bold: true}, SizeName: theme.SizeNameSubHeadingText,
		Alignment: fyne.TextAlignCenter, Wrapping: fyne.TextWrapWord}
	p.phoneCode = &canvas.Text{TextSize: 44, TextStyle: fyne.TextStyle{Monospace: true}, Alignment: fyne.TextAlignCenter}
	p.codeMode = container.NewVBox(
		p.codeFor,
		container.NewPadded(p.phoneCode),
		&widget.Label{
			Text:      "On the phone, open WhatsApp › Settings › Linked devices › Link a device › Link with phone number instead, and type the code above.",
			Wrapping:  fyne.TextWrapWord,
			Alignment: fyne.TextAlignCenter,
		},
		container.NewCenter(&widget.Button{Text: "Back to QR code", OnTapped: p.closePhone}),
	)

	p.content = container.NewStack(p.qrMode, p.waiting, p.expiredMode, p.phoneMode, p.codeMode)
	for _, o := range p.content.Objects {
		o.Hide() // show picks one
	}
	p.spin(false)
	return p
}

// spin runs the waiting mode's animation only while it is on screen: Fyne
// keeps an infinite progress bar animating, a redraw a frame, even while
// a container around it is hidden.
func (p *pairingView) spin(on bool) {
	if on {
		p.spinner.Start()
		return
	}
	// Start first, so that the bar's renderer exists (making it starts the
	// animation) and Stop then reaches it.
	p.spinner.Start()
	p.spinner.Stop()
}

// whiteQR is the QR code's backdrop: white in both themes, as scanners expect
// dark modules on a light ground.
var whiteQR = image.White.C

// show updates the view for s.
func (p *pairingView) show(s core.Status, now time.Time) {
	if s.Account.ID != p.id || s.State != core.Pairing {
		p.phoneState = phoneOff
	}
	p.id = s.Account.ID
	switch {
	case s.State != core.Pairing:
		if qrExpired(s) {
			p.mode(p.expiredMode)
		}
		return
	case p.phoneState == phoneForm:
		p.mode(p.phoneMode)
		return
	case p.phoneState == phoneShown:
		p.mode(p.codeMode)
		return
	case s.QRCode == "":
		p.mode(p.waiting)
		return
	}
	if s.QRCode != p.code {
		p.setCode(s.QRCode, now)
	}
	p.expires = s.QRExpires
	if s.QRTotal > 0 {
		setText(p.index, "Code "+strconv.Itoa(s.QRIndex)+" of "+strconv.Itoa(s.QRTotal))
	} else {
		setText(p.index, "Code "+strconv.Itoa(s.QRIndex))
	}
	p.tick(now)
	p.mode(p.qrMode)
}

// setCode draws a new QR code.
func (p *pairingView) setCode(code string, now time.Time) {
	p.code, p.shownAt = code, now
	q, err := qrcode.New(code, qrcode.Medium)
	if err != nil {
		p.qr.Image = nil
	} else {
		img := q.Image(-1) // one pixel per module; the canvas scales it up sharp
		p.qr.Image = img
		// A whole number of units per module keeps the modules even.
		n := img.Bounds().Dx()
		size := fyne.NewSquareSize(float32(n) * float32(math.Ceil(qrSize/float64(n))))
		if size != p.qr.MinSize() {
			p.qr.SetMinSize(size)
			if p.relayout != nil && p.qrMode.Visible() {
				p.relayout()
			}
		}
	}
	p.qr.Refresh()
}

// tick moves the countdown bar.
func (p *pairingView) tick(now time.Time) {
	p.left = p.expires.Sub(now)
	total := p.expires.Sub(p.shownAt)
	v := 0.0
	if total > 0 && p.left > 0 {
		v = float64(p.left) / float64(total)
	}
	p.bar.SetValue(v)
}

// mode shows one of the view's modes and, when that changes the view's
// size, has the pane laid out again.
func (p *pairingView) mode(m *fyne.Container) {
	if m.Visible() {
		return
	}
	for _, o := range p.content.Objects {
		if o == m {
			o.Show()
		} else {
			o.Hide()
		}
	}
	if p.onMode != nil {
		p.onMode() // first: the header's line may take another height
	}
	p.spin(m == p.waiting && p.content.Visible())
	if p.relayout != nil {
		p.relayout()
	}
}

func (p *pairingView) openPhoneForm() {
	p.phoneState = phoneForm
	p.phoneError.Hide()
	p.mode(p.phoneMode)
	if c := fyne.CurrentApp().Driver().CanvasForObject(p.phone); c != nil {
		c.Focus(p.phone)
	}
}

func (p *pairingView) closePhone() {
	p.phoneState = phoneOff
	if p.code != "" {
		p.mode(p.qrMode)
	} else {
		p.mode(p.waiting)
	}
}

// requestCode validates the number and asks for a phone code.
func (p *pairingView) requestCode() {
	digits, err := normalizePhone(p.phone.Text)
	if err != nil {
		p.phoneError.SetText(capitalize(err.Error()) + ".")
		p.phoneError.Show()
		p.phoneMode.Refresh()
		return
	}
	p.phoneError.Hide()
	p.phoneMode.Refresh()
	p.getCode.Disable()
	id := p.id
	p.onPairPhone(digits, func(code string) {
		p.getCode.Enable()
		if code == "" || p.id != id || p.phoneState != phoneForm {
			return
		}
		p.phoneState = phoneShown
		p.codePhone = digits
		setText(p.codeFor, "Enter this code on the phone "+displayPhone(digits))
		p.phoneCode.Text = formatPhoneCode(code)
		p.phoneCode.Color = theme.Color(theme.ColorNameForeground)
		p.phoneCode.Refresh()
		p.mode(p.codeMode)
	})
}

// formatPhoneCode writes an 8-character pairing code as "ABCD-EFGH".
func formatPhoneCode(code string) string {
	code = strings.ToUpper(strings.ReplaceAll(code, "-", ""))
	if len(code) == 8 {
		return code[:4] + "-" + code[4:]
	}
	return code
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// line is the detail's status line while the view pairs by phone number,
// in place of "Scan the QR code", which it no longer shows; "" in QR mode.
func (p *pairingView) line() string {
	switch p.phoneState {
	case phoneForm:
		return "Pairing by phone number: type the account's number"
	case phoneShown:
		return "Type the code below on the phone " + displayPhone(p.codePhone) + " (Linked devices › Link with phone number)"
	}
	return ""
}
