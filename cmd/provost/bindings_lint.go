package main

import (
	"context"
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/binding/lint"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/configcheck"
	"github.com/provost-dev/provost/internal/smallfile"
)

// ---- lint ----

func cmdBindingsLint(args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost bindings lint", "usage: provost bindings lint [--config FILE | BINDINGS.yaml] [--warnings-ok]\n"+
		"Checks the bindings file (the one the configuration names, or BINDINGS.yaml). Exit 2: it does not load; 1: warnings.", stderr)
	cfgFile := fs.String("config", "provost.yaml", "configuration `file` naming the bindings file")
	warningsOK := fs.Bool("warnings-ok", false, "exit 0 even when there are warnings")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && flagGiven(fs, "config") {
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	var limit int64 // the loader's default, unless the configuration says
	if path == "" {
		cfg, err := config.Load(*cfgFile)
		if err != nil {
			fmt.Fprintln(stderr, "provost bindings lint:", err)
			return exitUsage
		}
		if cfg.Bindings == "" {
			fmt.Fprintf(stderr, "provost bindings lint: %s names no bindings file (bindings:)\n", cfg.File)
			return exitUsage
		}
		path, limit = cfg.Resolve(cfg.Bindings), cfg.BindingsMaxBytes
		// The configuration's other files must load too, or the bindings
		// would pass a lint that `provost serve` then refuses.
		if problems := configcheck.PolicyFiles(cfg); len(problems) > 0 {
			for _, p := range problems {
				fmt.Fprintln(stderr, p)
			}
			return exitUsage
		}
	}
	set, err := binding.LoadLimit(context.Background(), path, limit)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: %s, %s, mode %s\n", set.File, plural(len(set.Bindings), "binding"), plural(len(set.Networks()), "network"), set.Mode)
	for _, b := range set.Bindings {
		fmt.Fprintln(stdout, "  "+lint.Describe(b))
	}
	src, _ := smallfile.Read(set.File, binding.MaxFileBytes) // for the findings' lines only
	warnings := lint.Findings(set, src)
	for _, w := range warnings {
		fmt.Fprintln(stdout, w)
	}
	fmt.Fprintln(stdout, plural(len(warnings), "warning"))
	if len(warnings) > 0 && !*warningsOK {
		return exitFail
	}
	return exitOK
}

// plural writes "1 warning", "2 warnings".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
