package ui

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"

	"warden/core"
)

// copyLine puts line i on the clipboard, as export writes it.
func (p *logsPane) copyLine(i int) {
	if i < 0 || i >= len(p.lines) {
		return
	}
	fyne.CurrentApp().Clipboard().SetContent(formatLogLine(p.lines[i]))
	setMuted(p.status, "Copied the line to the clipboard.")
}

// matching returns every line that passes the filter: shown and held.
func (p *logsPane) matching() []LogLine {
	return append(slices.Clip(p.lines), p.held...)
}

// exportName is the file name the export dialog suggests.
func (p *logsPane) exportName() string {
	what := "all"
	if !p.filter.all {
		what = p.names(p.filter.account)
		if what == "" {
			what = string(p.filter.account)
		}
	}
	clean := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, what)
	return "warden-" + strings.Trim(clean, "-") + "-" + p.now().Format("20060102-1504") + ".log"
}

// exportHeader is the comment an export starts with: what the lines are,
// when they were exported, and the names of the accounts they name by ID.
func (p *logsPane) exportHeader(lines []LogLine) string {
	var b strings.Builder
	b.WriteString("# Warden logs of ")
	if p.filter.all {
		b.WriteString("every account and Warden itself")
	} else {
		b.WriteString(p.names(p.filter.account) + " (" + string(p.filter.account) + ")")
	}
	b.WriteString(", " + strings.ToLower(strings.TrimSpace(levelWord(p.filter.level))) + " and above")
	if p.filter.query != "" {
		b.WriteString(", matching " + strconv.Quote(p.filter.query))
	}
	fmt.Fprintf(&b, "; %d lines, exported %s\n", len(lines), p.now().UTC().Format("2006-01-02T15:04:05Z07:00"))
	if p.filter.all {
		seen := map[core.AccountID]bool{"": true}
		for _, l := range lines {
			if !seen[l.Account] {
				seen[l.Account] = true
				fmt.Fprintf(&b, "# [%s] is %s\n", l.Account, p.names(l.Account))
			}
		}
	}
	return b.String()
}

// showExport asks where to save the lines that pass the filter.
func (p *logsPane) showExport() {
	lines := p.matching()
	header := p.exportHeader(lines)
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			dialog.ShowError(err, p.win)
			return
		}
		if w == nil { // cancelled
			return
		}
		_, err = io.WriteString(w, header)
		if err == nil {
			err = writeLogs(w, lines)
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			dialog.ShowError(fmt.Errorf("export the logs: %w", err), p.win)
			return
		}
		setMuted(p.status, fmt.Sprintf("Saved %s lines to %s.", thousands(len(lines)), w.URI().Name()))
	}, p.win)
	d.SetFileName(p.exportName())
	d.Show()
	d.Resize(fyne.NewSize(760, 520)) // only once shown: before, the dialog has no content yet
}

// thousands writes n with thin separators: 20000 → "20,000".
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
