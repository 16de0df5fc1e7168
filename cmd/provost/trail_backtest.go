package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/backtest"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/trail"
)

// trailBacktestOptions are provost trail backtest's flags.
type trailBacktestOptions struct {
	bindings, config, dataDir, since, until string
	json                                    bool
}

func trailBacktestFlags() (*flag.FlagSet, *trailBacktestOptions) {
	fs := newFlagSet("trail backtest")
	o := &trailBacktestOptions{}
	fs.StringVar(&o.bindings, "bindings", "", "candidate bindings `file` to replay the evidence against (required)")
	configFlag(fs, &o.config, " naming the data directory")
	dataDirFlag(fs, &o.dataDir)
	fs.StringVar(&o.since, "since", "", "replay the records from `T`, included (RFC 3339, or a duration before now: 90m, 24h, 7d)")
	fs.StringVar(&o.until, "until", "", "replay the records until `T`, excluded (RFC 3339, or a duration before now)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return fs, o
}

// trailBacktest is ` + "`provost trail backtest`" + `: it replays the evidence log
// against a candidate bindings file and prints the past requests it would
// decide differently. Exit 0 when none differ, 1 when some do, 2 on bad input.
func trailBacktest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return defaultTrailEnv().backtest(ctx, args, stdout, stderr)
}

func (e trailEnv) backtest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := trailBacktestFlags()
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	const prefix = "provost trail backtest:"
	if o.bindings == "" {
		fmt.Fprintln(stderr, prefix, "--bindings NEW.yaml is required")
		return exitUsage
	}
	from, to, err := window(o.since, o.until, e.now())
	if err != nil {
		fmt.Fprintln(stderr, prefix, err)
		return exitUsage
	}
	return e.runBacktest(ctx, o.bindings, o.config, o.dataDir, from, to, o.json, stdout, stderr)
}

func (e trailEnv) runBacktest(ctx context.Context, bindingsFile, cfgFile, dataDir string, from, to time.Time, asJSON bool, stdout, stderr io.Writer) int {
	candidate, err := binding.Load(bindingsFile)
	if err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	dir := dataDir
	if dir == "" {
		cfg, err := config.Load(cfgFile)
		if err != nil {
			fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
			return exitUsage
		}
		if err := sharedEvidence(cfg); err != nil {
			fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
			return exitUsage
		}
		dir = cfg.DataDirPath()
	}
	lg, err := evidencelog.Open(ctx, app.LayoutOf(dir).Evidence, evidencelog.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	defer lg.Close()
	var readErr error
	bar := e.progress(stderr, "replaying")
	records := inWindow(backtestRecords(ctx, lg, &readErr, bar.update), from, to)
	res, err := backtest.Run(ctx, records, candidate)
	bar.done()
	if err = errors.Join(readErr, err); err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	if err := printBacktest(stdout, res, asJSON); err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	if res.Changed > 0 {
		return exitFail
	}
	return exitOK
}

// inWindow yields the records of seq made in [from, to); a zero bound is
// open.
func inWindow(seq iter.Seq2[int64, evidence.Record], from, to time.Time) iter.Seq2[int64, evidence.Record] {
	if from.IsZero() && to.IsZero() {
		return seq
	}
	return func(yield func(int64, evidence.Record) bool) {
		for i, r := range seq {
			if !from.IsZero() && r.Time.Before(from) || !to.IsZero() && !r.Time.Before(to) {
				continue
			}
			if !yield(i, r) {
				return
			}
		}
	}
}

// backtestRecords yields every record of the log, read in batches of
// evidencelog.MaxEntries, calling progress after each; the first error
// ends it and is left in *errp.
func backtestRecords(ctx context.Context, lg *evidencelog.Log, errp *error, progress func(done, total int64)) iter.Seq2[int64, evidence.Record] {
	return func(yield func(int64, evidence.Record) bool) {
		size := lg.Size()
		for start := int64(0); start < size; {
			batch, err := lg.Entries(ctx, start, min(start+evidencelog.MaxEntries, size))
			if err == nil && len(batch) == 0 {
				err = fmt.Errorf("the log returned no record at index %d", start)
			}
			if err != nil {
				*errp = err
				return
			}
			for i, data := range batch {
				rec, err := evidence.Unmarshal(data)
				if err != nil {
					*errp = fmt.Errorf("record %d: %w", start+int64(i), err)
					return
				}
				if !yield(start+int64(i), rec) {
					return
				}
			}
			start += int64(len(batch))
			progress(start, size)
		}
	}
}

func printBacktest(w io.Writer, res backtest.Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		if res.Changes == nil {
			res.Changes = []backtest.Change{}
		}
		return enc.Encode(res)
	}
	for _, c := range res.Changes {
		fmt.Fprintf(w, "#%d %s %s sub=%q: %s -> %s\n", c.Index, c.Time.UTC().Format("2006-01-02T15:04:05Z"),
			c.Fingerprint, c.Subject, backtestOutcome(c.Before), backtestOutcome(c.After))
	}
	for _, s := range res.NotReplayable {
		fmt.Fprintf(w, "binding %q is not replayable: %s (%s left out)\n", s.Binding, s.Why, trail.Plural(int64(s.Requests), "request", "requests"))
	}
	_, err := fmt.Fprintf(w, "%d of %s would be decided differently\n", res.Changed, trail.Plural(res.Total, "past request", "past requests"))
	return err
}

func backtestOutcome(o backtest.Outcome) string {
	codes := make([]string, len(o.Reasons))
	for i, c := range o.Reasons {
		codes[i] = string(c)
	}
	b := o.Binding
	if b == "" {
		b = "(none)"
	}
	return fmt.Sprintf("%s/%s binding=%s [%s]", o.Decision, o.Provenance, b, strings.Join(codes, ","))
}
