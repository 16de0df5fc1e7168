package main

import (
	"context"
	"errors"
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

func cmdBindingsPropose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost bindings propose", "usage: provost bindings propose --binding NAME [--since 720h] [--config FILE] [--data-dir DIR]\n"+
		"Prints, as YAML to paste under bindings:, the tightest binding covering the origins the learn-mode binding NAME saw.", stderr)
	name := fs.String("binding", "", "the learn-mode binding's `name`")
	since := fs.Duration("since", 720*time.Hour, "consider origins last seen within this `duration`")
	cfgFile := fs.String("config", "provost.yaml", "configuration `file`")
	dataDir := fs.String("data-dir", "", "data `directory` (overrides data_dir in the configuration)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *name == "" || *since <= 0 || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cur, dir, err := proposeInputs(*cfgFile, *dataDir, *name)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitUsage
	}
	from := time.Now().Add(-*since).UTC()
	seen, err := learned(ctx, app.LayoutOf(dir).Origins, *name, from)
	if err != nil {
		fmt.Fprintln(stderr, "provost bindings propose:", err)
		return exitFail
	}
	if len(seen) == 0 {
		fmt.Fprintf(stderr, "provost bindings propose: nothing was learned for binding %s since %s (origin history in %s): is it in learn mode, and has it seen requests?\n",
			*name, from.Format(time.RFC3339), dir)
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
