package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress bar bounds: a bar shows once the work has run for
// progressDelay, and is redrawn at most every progressInterval.
const (
	progressDelay    = 500 * time.Millisecond
	progressInterval = 100 * time.Millisecond
	progressWidth    = 30
)

// progress draws the progress of long work on a terminal: index catch-up,
// trail verify, backtest and export. Elsewhere (a pipe, a file) it draws
// nothing.
type progress struct {
	w     io.Writer
	label string
	on    bool
	delay time.Duration
	now   func() time.Time
	start time.Time
	last  time.Time
	shown bool
	total int64 // the total of the last update
}

// progress starts a bar labelled label on w.
func (e trailEnv) progress(w io.Writer, label string) *progress {
	return &progress{w: w, label: label, on: e.terminal(w), delay: e.progressDelay, now: e.now, start: e.now()}
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update records that done of total records are through.
func (p *progress) update(done, total int64) {
	p.total = total
	if !p.on || total <= 0 {
		return
	}
	t := p.now()
	if !p.shown && t.Sub(p.start) < p.delay {
		return // quick work shows no bar
	}
	if p.shown && t.Sub(p.last) < progressInterval && done < total {
		return
	}
	p.last, p.shown = t, true
	done = min(max(done, 0), total)
	fill := int(int64(progressWidth) * done / total)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3d%% %d/%d records", p.label, strings.Repeat("=", fill), strings.Repeat(" ", progressWidth-fill),
		100*done/total, done, total)
}

// done ends the bar's line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}
