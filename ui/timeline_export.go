package ui

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"warden/core"
)

// export asks where to save the account's whole timeline and writes it.
func (t *timelineTab) export(format string) {
	if len(t.evs) == 0 {
		return
	}
	name := exportFileName(t.account, format, t.now())
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, t.parent())
			return
		}
		if w == nil {
			return // cancelled
		}
		// What the tab holds now, live events included; appends later never
		// touch this slice's elements.
		evs := t.evs[:len(t.evs):len(t.evs)]
		t.async(func() func() {
			write := exportCSV
			if format == "json" {
				write = exportJSON
			}
			err := write(w, evs)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return func() {
				if err != nil {
					dialog.ShowError(fmt.Errorf("export the timeline: %w", err), t.parent())
					return
				}
				setMuted(t.count, fmt.Sprintf("Saved %s to %s.", plural(len(evs), "event"), w.URI().Name()))
			}
		})
	}, t.parent())
	d.SetFileName(name)
	d.Show()
}

// exportFileName is the file name offered for an export:
// "sales-desk-1-timeline-2026-03-03.csv".
func exportFileName(a core.Account, format string, now time.Time) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return '-'
	}, a.Name)
	base = strings.Trim(base, "-")
	for strings.Contains(base, "--") {
		base = strings.ReplaceAll(base, "--", "-")
	}
	if base == "" {
		base = "account"
	}
	return base + "-timeline-" + now.Format("2006-01-02") + "." + format
}

// exportHeader names the columns of the CSV export.
var exportHeader = []string{"seq", "time", "from", "to", "cause", "reason", "attempt", "delay_s", "epoch", "message_id"}

// exportTime writes an instant in UTC with milliseconds.
func exportTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// exportCSV writes evs, oldest first, as CSV with a header row. Times are
// UTC, delays in seconds.
func exportCSV(w io.Writer, evs []core.Event) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader); err != nil {
		return err
	}
	for _, e := range evs {
		rec := []string{
			strconv.FormatUint(e.Seq, 10), exportTime(e.At), e.From.String(), e.To.String(), e.Cause, e.Reason,
			strconv.Itoa(e.Attempt), strconv.FormatFloat(e.Delay.Seconds(), 'f', 3, 64), strconv.FormatUint(e.Epoch, 10),
			e.MessageID,
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// exportEvent is one event of the JSON export.
type exportEvent struct {
	Seq     uint64  `json:"seq"`
	Account string  `json:"account"`
	Time    string  `json:"time"`
	From    string  `json:"from"`
	To      string  `json:"to"`
	Cause   string  `json:"cause"`
	Reason  string  `json:"reason,omitempty"`
	Attempt int     `json:"attempt,omitempty"`
	DelayS  float64 `json:"delay_s,omitempty"`
	Epoch   uint64  `json:"epoch,omitempty"`
	Message string  `json:"message_id,omitempty"`
}

// exportJSON writes evs, oldest first, as a JSON array with one event per
// line. Times are UTC, delays in seconds.
func exportJSON(w io.Writer, evs []core.Event) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("[")
	for i, e := range evs {
		b, err := json.Marshal(exportEvent{
			Seq: e.Seq, Account: string(e.Account), Time: exportTime(e.At), From: e.From.String(), To: e.To.String(),
			Cause: e.Cause, Reason: e.Reason, Attempt: e.Attempt, DelayS: math.Round(e.Delay.Seconds()*1000) / 1000, Epoch: e.Epoch,
			Message: e.MessageID,
		})
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(b)
	}
	bw.WriteString("\n]\n")
	return bw.Flush()
}
