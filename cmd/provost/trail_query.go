package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/trail"
)

// query runs show, timeline, origins, blast-radius, export and report.
func (e trailEnv) query(ctx context.Context, sub string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o trailOpts
	fs := trailFlagSet(sub, &o)
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	prefix := "provost trail " + sub + ":"
	dir, err := trailDataDir(o.cfgFile, o.dataDir)
	if err == nil {
		err = o.resolve(sub, dir, stdin, e.now())
	}
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitUsage
	}
	if sub == "export" && o.follow {
		return e.follow(ctx, dir, &o, stdout, stderr)
	}
	x, code := e.trailIndex(ctx, dir, prefix, stderr)
	if x == nil {
		return code
	}
	defer x.Close()
	if o.prefix {
		if code := resolvePrefix(ctx, x, &o, prefix, stderr); code >= 0 {
			return code
		}
	}
	n, err := e.runQuery(ctx, sub, x, &o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitFail
	}
	if n == 0 && sub != "report" && sub != "export" && !o.json {
		noRows(ctx, x, &o, prefix, stderr)
	}
	return exitOK
}

// resolvePrefix replaces a fingerprint prefix by the one fingerprint it
// names; it returns -1 to go on, else the exit code.
func resolvePrefix(ctx context.Context, x *trail.Index, o *trailOpts, prefix string, stderr io.Writer) int {
	fp, err := x.Resolve(ctx, o.fingerprint)
	var amb *trail.AmbiguousError
	switch {
	case errors.As(err, &amb):
		which := trail.Plural(int64(len(amb.Candidates)), "fingerprint", "fingerprints")
		if amb.More {
			which = "more than " + which
		}
		fmt.Fprintf(stderr, "%s --fingerprint %s is ambiguous: it starts %s:\n  %s\ngive more of it, or the whole fingerprint\n",
			prefix, amb.Prefix, which, strings.Join(amb.Candidates, "\n  "))
		return exitUsage
	case errors.Is(err, trail.ErrNoFingerprint):
		fmt.Fprintf(stderr, "%s --fingerprint %s: no record names a credential whose fingerprint starts with it\n", prefix, o.fingerprint)
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, prefix, err)
		return exitFail
	}
	o.fingerprint, o.filter.Fingerprint = fp, fp
	return -1
}

// noRows says on stderr that a table is empty, and why when the credential
// asked about was never seen.
func noRows(ctx context.Context, x *trail.Index, o *trailOpts, prefix string, stderr io.Writer) {
	if o.fingerprint != "" {
		if known, err := x.Known(ctx, o.fingerprint); err == nil && !known {
			fmt.Fprintf(stderr, "%s no record names the credential %s: it was never presented to a Provost writing this log\n", prefix, o.fingerprint)
			return
		}
	}
	fmt.Fprintln(stderr, prefix, "no records match")
}

// trailIndex opens the log read-only and the index, and syncs the index.
// It returns nil and the exit code on failure.
func (e trailEnv) trailIndex(ctx context.Context, dir, prefix string, stderr io.Writer) (*trail.Index, int) {
	logDir := app.LayoutOf(dir).Evidence
	if _, err := os.Stat(filepath.Join(logDir, "evidence.db")); err != nil {
		fmt.Fprintf(stderr, "%s no evidence log in %s\n", prefix, logDir)
		return nil, exitFail
	}
	l, err := evidencelog.Open(ctx, logDir, evidencelog.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return nil, exitFail
	}
	defer l.Close()
	x, err := trail.Open(ctx, filepath.Join(dir, trail.File))
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return nil, exitFail
	}
	bar := e.progress(stderr, "indexing")
	res, err := trail.SyncProgress(ctx, l, x, bar.update)
	bar.done()
	if err != nil {
		x.Close()
		fmt.Fprintln(stderr, prefix, err)
		if errors.Is(err, trail.ErrStale) {
			fmt.Fprintf(stderr, "%s check the log with 'provost trail verify'; delete %s to rebuild the index\n", prefix, filepath.Join(dir, trail.File))
		}
		return nil, exitFail
	}
	if res.Skipped > 0 {
		fmt.Fprintf(stderr, "%s warning: %s this Provost does not read as evidence records; not indexed\n", prefix,
			trail.Plural(res.Skipped, "log entry", "log entries"))
	}
	return x, exitOK
}

// runQuery runs sub and prints its result; it returns the rows printed.
func (e trailEnv) runQuery(ctx context.Context, sub string, x *trail.Index, o *trailOpts, w, stderr io.Writer) (int, error) {
	switch sub {
	case "show":
		es, err := x.Show(ctx, o.filter)
		if err != nil {
			return 0, err
		}
		return len(es), printShow(ctx, w, x, o.json, es)
	case "timeline":
		uses, err := x.Timeline(ctx, o.filter)
		if err != nil {
			return 0, err
		}
		return len(uses), printTable(w, o.json, uses, timelineHeader, timelineRow)
	case "origins":
		origins, err := x.Origins(ctx, o.filter)
		if err != nil {
			return 0, err
		}
		return len(origins), printOrigins(ctx, w, x, o.json, origins)
	case "blast-radius":
		targets, err := x.BlastRadius(ctx, o.filter)
		if err != nil {
			return 0, err
		}
		return len(targets), printTable(w, o.json, targets, targetHeader, targetRow)
	case "export":
		return 0, e.export(ctx, x, o, w, stderr)
	}
	format := o.format
	if o.json {
		format = "json"
	}
	return 0, x.Report(ctx, w, format, o.filter.From, o.filter.To)
}
