package ui

import (
	"image"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"warden/core"
)

// decodeQR finds and decodes the QR code in a rendered image.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code could be read on screen: %v", err)
	}
	return res.GetText()
}

func TestQRCodeOnScreenDecodesToTheCode(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "pairing")
	if got := decodeQR(t, w.win.Canvas().Capture()); got != sampleQR {
		t.Errorf("the QR code on screen reads %q, want %q", got, sampleQR)
	}
	if !hasText(w.pairing.content, "Code 2 of 6") {
		t.Error("the pairing view does not say “Code 2 of 6”")
	}

	// The next code arrives.
	s := statusOf(t, "pairing")
	s.QRCode, s.QRIndex, s.QRExpires = "2@next-code,"+strings.Repeat("k", 40)+",xyz=", 3, t0.Add(20*time.Second)
	w.apply([]core.Status{s})
	if got := decodeQR(t, w.win.Canvas().Capture()); got != s.QRCode {
		t.Errorf("after a new code, the screen reads %q, want %q", got, s.QRCode)
	}
	if !hasText(w.pairing.content, "Code 3 of 6") {
		t.Error("the pairing view does not say “Code 3 of 6”")
	}
}

func TestQRCountdownBar(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	now := t0
	w.now = func() time.Time { return now }
	selectRow(t, w, "pairing") // the code arrives now and lasts 17 s
	if v := w.pairing.bar.Value; v != 1 {
		t.Errorf("a fresh code's bar is at %v, want full", v)
	}
	now = t0.Add(8500 * time.Millisecond)
	w.tick()
	if v := w.pairing.bar.Value; v != 0.5 {
		t.Errorf("halfway through, the bar is at %v, want 0.5", v)
	}
	if got := w.pairing.bar.TextFormatter(); got != "Expires in 9 s" {
		t.Errorf("the bar says %q, want “Expires in 9 s”", got)
	}
	now = t0.Add(time.Minute)
	w.tick()
	if v := w.pairing.bar.Value; v != 0 {
		t.Errorf("after expiry the bar is at %v, want empty", v)
	}
}

func TestQRExpiredOffersNewCode(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "expired")
	if !hasText(w.detail.content, "QR code expired") {
		t.Error("an expired pairing does not say “QR code expired”")
	}
	b := findButton(w.pairing.content, "New code")
	if b == nil {
		t.Fatal("no “New code” button")
	}
	test.Tap(b)
	if got := ctl.Calls(); !slices.Equal(got, []string{"Connect expired"}) {
		t.Errorf("“New code” called %v, want Connect", got)
	}
}

func TestPairByPhoneNumber(t *testing.T) {
	w, ctl := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "pairing")
	test.Tap(findButton(w.pairing.content, "Use phone number instead"))
	p := w.pairing
	if !p.phoneMode.Visible() || p.qrMode.Visible() {
		t.Fatal("“Use phone number instead” does not show the phone form")
	}

	test.Type(p.phone, "07700 900123")
	test.Tap(findButton(p.content, "Get code"))
	if !p.phoneError.Visible() || !strings.Contains(p.phoneError.Text, "not 0") {
		t.Errorf("a number without country code shows the error %q (visible: %v)", p.phoneError.Text, p.phoneError.Visible())
	}
	if calls := ctl.Calls(); len(calls) != 0 {
		t.Errorf("an invalid number was sent: %v", calls)
	}

	// A status update while typing must not close the form.
	w.apply([]core.Status{statusOf(t, "pairing")})
	if !p.phoneMode.Visible() {
		t.Fatal("a status update closed the phone form")
	}

	p.phone.SetText("")
	test.Type(p.phone, "+44 7700 900123")
	test.Tap(findButton(p.content, "Get code"))
	if got := ctl.Calls(); !slices.Equal(got, []string{"PairPhone pairing 447700900123"}) {
		t.Errorf("Get code called %v", got)
	}
	if p.phoneError.Visible() {
		t.Error("the error is still shown for a valid number")
	}
	if !p.codeMode.Visible() || p.phoneCode.Text != "ABCD-2345" {
		t.Errorf("the code shown is %q (visible: %v), want ABCD-2345", p.phoneCode.Text, p.codeMode.Visible())
	}
	// While the code shows, the window says what to do with it and where,
	// not "Scan the QR code", and the QR code is not shown.
	if p.qrMode.Visible() {
		t.Error("the QR code is still on screen beside the phone code")
	}
	if got, want := w.detail.line.Text, "Type the code below on the phone +447700900123 (Linked devices › Link with phone number)"; got != want {
		t.Errorf("the status line says %q, want %q", got, want)
	}
	if !strings.Contains(p.codeFor.Text, "+447700900123") {
		t.Errorf("the code's heading %q does not name the phone", p.codeFor.Text)
	}
	w.apply([]core.Status{statusOf(t, "pairing")}) // a new QR code arrives meanwhile
	if strings.Contains(w.detail.line.Text, "Scan the QR code") || p.qrMode.Visible() {
		t.Errorf("after a QR update the detail says %q (QR shown: %v)", w.detail.line.Text, p.qrMode.Visible())
	}

	test.Tap(findButton(p.content, "Back to QR code"))
	if !p.qrMode.Visible() || !strings.HasPrefix(w.detail.line.Text, "Scan the QR code") {
		t.Errorf("“Back to QR code” shows the QR code %v with the line %q", p.qrMode.Visible(), w.detail.line.Text)
	}
}

func TestPairingEndsWhenConnected(t *testing.T) {
	w, _ := newTestWindow(t, sampleStatuses()...)
	selectRow(t, w, "pairing")
	s := statusOf(t, "pairing")
	s.State, s.Account.JID, s.QRCode = core.Connected, "15557654321.0:1@s.whatsapp.net", ""
	w.apply([]core.Status{s})
	if w.pairing.content.Visible() {
		t.Error("the QR code is still shown after pairing succeeded")
	}
	if !hasText(w.detail.content, "+15557654321") {
		t.Error("the detail does not show the new phone number")
	}
}
