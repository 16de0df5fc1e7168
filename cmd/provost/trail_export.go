package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/trail"
)

// ocsfClasses reads --ocsf-classes: 3002, 6003 or both, comma-separated.
func ocsfClasses(s string) (evidence.OCSFClasses, error) {
	var c evidence.OCSFClasses
	for v := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(v) {
		case "3002":
			c.Authentication = true
		case "6003":
			c.APIActivity = true
		default:
			return c, fmt.Errorf("--ocsf-classes %q: want 3002 (Authentication), 6003 (API Activity) or 3002,6003", s)
		}
	}
	return c, nil
}

// recordWriter writes records in the export format o chose.
func recordWriter(o *trailOpts) func(w io.Writer, records iter.Seq[evidence.Record]) error {
	if o.format == "ocsf" {
		classes, _ := ocsfClasses(o.ocsfClasses) // checked by resolve
		return func(w io.Writer, records iter.Seq[evidence.Record]) error {
			return evidence.WriteOCSF(w, records, classes)
		}
	}
	return evidence.WriteJSONLines
}

// export writes the records o's filter selects, from the index.
func (e trailEnv) export(ctx context.Context, x *trail.Index, o *trailOpts, w, stderr io.Writer) error {
	size, err := x.Next(ctx)
	if err != nil {
		return err
	}
	bar := e.progress(stderr, "exporting")
	defer bar.done()
	var scanErr error
	records := func(yield func(evidence.Record) bool) {
		for en, err := range x.Scan(ctx, o.filter) {
			if err != nil {
				scanErr = err
				return
			}
			bar.update(en.Index+1, size)
			if !yield(en.Record) {
				return
			}
		}
		bar.update(size, size)
	}
	bw := bufio.NewWriter(w)
	err = recordWriter(o)(bw, records)
	return errors.Join(err, scanErr, bw.Flush())
}

// follow is export --follow: it streams the log's records, those o's
// filter selects, from the saved position on, until ctx ends.
func (e trailEnv) follow(ctx context.Context, dir string, o *trailOpts, stdout, stderr io.Writer) int {
	const prefix = "provost trail export:"
	logDir := app.LayoutOf(dir).Evidence
	if _, err := os.Stat(filepath.Join(logDir, "evidence.db")); err != nil {
		fmt.Fprintf(stderr, "%s no evidence log in %s\n", prefix, logDir)
		return exitFail
	}
	pos := trail.Position{}
	if o.position != "" {
		var err error
		if pos, err = trail.ReadPosition(o.position); err != nil {
			fmt.Fprintln(stderr, prefix, err)
			return exitFail
		}
	}
	m, err := trail.NewMatcher(o.filter)
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitUsage
	}
	bw := bufio.NewWriter(stdout)
	write := recordWriter(o)
	bar := e.progress(stderr, "exporting")
	f := &trail.Follow{
		Open: func(ctx context.Context) (trail.FollowSource, error) {
			return evidencelog.Open(ctx, logDir, evidencelog.Options{ReadOnly: true})
		},
		Match: m,
		Poll:  o.poll,
		Emit: func(b trail.Batch) error {
			for _, i := range b.Skipped {
				fmt.Fprintf(stderr, "%s warning: log entry %d is not an evidence record this Provost reads; not exported\n", prefix, i)
			}
			if err := writeBatch(bw, write, o.format, b); err != nil {
				return err
			}
			return bw.Flush()
		},
		CaughtUp: func(trail.Position) { bar.done(); bar.on = false }, // the backlog only
		Progress: bar.update,
	}
	if o.position != "" {
		f.Save = func(p trail.Position) error { return trail.WritePosition(o.position, p) }
	}
	err = f.Run(ctx, pos)
	bar.done()
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitFail
	}
	return exitOK
}

// writeBatch writes a batch: JSON lines are the records' bytes as logged.
func writeBatch(w io.Writer, write func(io.Writer, iter.Seq[evidence.Record]) error, format string, b trail.Batch) error {
	if format == "jsonl" {
		for _, raw := range b.Raw {
			if _, err := w.Write(append(raw[:len(raw):len(raw)], '\n')); err != nil {
				return err
			}
		}
		return nil
	}
	return write(w, func(yield func(evidence.Record) bool) {
		for _, en := range b.Entries {
			if !yield(en.Record) {
				return
			}
		}
	})
}
