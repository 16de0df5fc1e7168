package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/binding/proposal"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/origin"
)

// ---- propose ----

// bindingsProposeOptions are provost bindings propose's flags.
type bindingsProposeOptions struct {
	binding, config, dataDir string
	since                    time.Duration
}

func bindingsProposeFlags() (*flag.FlagSet, *bindingsProposeOptions) {
	fs := newFlagSet("bindings propose")
	o := &bindingsProposeOptions{}
	fs.StringVar(&o.binding, "binding", "", "the learn-mode binding's `name` (required)")
	fs.DurationVar(&o.since, "since", 720*time.Hour, "consider origins last seen within this `duration`")
	configFlag(fs, &o.config, "")
	dataDirFlag(fs, &o.dataDir)
	return fs, o
}

func cmdBindingsPropose(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := bindingsProposeFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if o.binding == "" || o.since <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "provost bindings propose: give --binding NAME, a --since above 0 and no arguments")
		fs.Usage()
		return exitUsage
	}
	cur, dir, err := proposeInputs(o.config, o.dataDir, o.binding)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitUsage
	}
	from := time.Now().Add(-o.since).UTC()
	seen, err := learned(ctx, app.LayoutOf(dir).Origins, o.binding, from)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitFail
	}
	if len(seen) == 0 {
		fmt.Fprintf(stderr, "provost bindings propose: nothing was learned for binding %s since %s (origin history in %s): is it in learn mode, and has it seen requests?\n",
			o.binding, from.Format(time.RFC3339), dir)
		return exitFail
	}
	out, err := proposal.Render(cur, seen, from)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose: the proposal is not a valid binding:", err)
		return exitFail
	}
	fmt.Fprint(stdout, out)
	return exitOK
}

// proposeInputs loads the current binding named name (its match is copied
// into the proposal) and finds the data directory as the engine does.
func proposeInputs(cfgFile, dataDir, name string) (*binding.Binding, string, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return nil, "", err
	}
	if cfg.Bindings == "" {
		return nil, "", fmt.Errorf("%s names no bindings file, so binding %s has no match to copy", cfg.File, name)
	}
	set, err := binding.LoadLimit(context.Background(), cfg.Resolve(cfg.Bindings), cfg.BindingsMaxBytes)
	if err != nil {
		return nil, "", err
	}
	cur, err := proposal.Binding(set, name)
	if dataDir == "" {
		dataDir = cfg.DataDirPath()
	}
	return cur, dataDir, err
}

// learned reads the origins learned for name since from, without creating
// a history that does not exist.
func learned(ctx context.Context, db, name string, from time.Time) ([]origin.Seen, error) {
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	h, err := origin.OpenSQLite(ctx, db)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.Learned(ctx, name, from)
}
