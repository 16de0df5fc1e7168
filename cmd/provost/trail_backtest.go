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

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/backtest"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
)

// trailBacktest is `provost trail backtest`: it replays the evidence log
// against a candidate bindings file and prints the past requests it would
// decide differently. Exit 0 when none differ, 1 when some do, 2 on bad input.
func trailBacktest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost trail backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindingsFile := fs.String("bindings", "", "candidate bindings `file` to replay the evidence against (required)")
	cfgFile := fs.String("config", "provost.yaml", "configuration `file` naming the data directory")
	dataDir := fs.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost trail backtest --bindings NEW.yaml [--config FILE] [--data-dir DIR] [--json]")
		fmt.Fprintln(stderr, "Replays every recorded decision against NEW.yaml; exits 1 when some would be decided differently.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 || *bindingsFile == "" {
		fs.Usage()
		return exitUsage
	}
	candidate, err := binding.Load(*bindingsFile)
	if err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	dir := *dataDir
	if dir == "" {
		cfg, err := config.Load(*cfgFile)
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
	res, err := backtest.Run(ctx, backtestRecords(ctx, lg, &readErr), candidate)
	if err = errors.Join(readErr, err); err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	if err := printBacktest(stdout, res, *asJSON); err != nil {
		fmt.Fprintf(stderr, "provost trail backtest: %v\n", err)
		return exitUsage
	}
	if res.Changed > 0 {
		return exitFail
	}
	return exitOK
}

// backtestRecords yields every record of the log, read in batches of
// evidencelog.MaxEntries; the first error ends it and is left in *errp.
func backtestRecords(ctx context.Context, lg *evidencelog.Log, errp *error) iter.Seq2[int64, evidence.Record] {
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
		fmt.Fprintf(w, "binding %q is not replayable: %s (%d requests left out)\n", s.Binding, s.Why, s.Requests)
	}
	_, err := fmt.Fprintf(w, "%d of %d past requests would be decided differently\n", res.Changed, res.Total)
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
