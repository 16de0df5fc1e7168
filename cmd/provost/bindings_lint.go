package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/binding/lint"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/configcheck"
	"github.com/provost-dev/provost/internal/smallfile"
)

// ---- lint ----

// bindingsLintOptions are provost bindings lint's flags.
type bindingsLintOptions struct {
	config     string
	warningsOK bool
}

func bindingsLintFlags() (*flag.FlagSet, *bindingsLintOptions) {
	fs := newFlagSet("bindings lint")
	o := &bindingsLintOptions{}
	configFlag(fs, &o.config, " naming the bindings file")
	fs.BoolVar(&o.warningsOK, "warnings-ok", false, "exit 0 even when there are warnings")
	return fs, o
}

func cmdBindingsLint(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := bindingsLintFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && flagGiven(fs, "config") {
		fmt.Fprintln(stderr, "provost bindings lint: give --config FILE or one BINDINGS.yaml")
		fs.Usage()
		return exitUsage
	}
	path := fs.Arg(0)
	var limit int64 // the loader's default, unless the configuration says
	if path == "" {
		cfg, err := config.Load(o.config)
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
	if len(warnings) > 0 && !o.warningsOK {
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
