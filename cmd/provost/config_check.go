package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/configcheck"
)

// configCheckOptions are provost config check's flags.
type configCheckOptions struct {
	config     string
	warningsOK bool
}

func configCheckFlags() (*flag.FlagSet, *configCheckOptions) {
	fs := newFlagSet("config check")
	o := &configCheckOptions{}
	configFlag(fs, &o.config, "")
	fs.BoolVar(&o.warningsOK, "warnings-ok", false, "exit 0 even when the bindings lint has warnings")
	return fs, o
}

func cmdConfigCheck(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := configCheckFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "provost config check: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	rep := configcheck.Check(ctx, o.config)
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stdout, w)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(stdout, "%s: %s, %s\n", o.config, plural(len(rep.Problems), "problem"), plural(len(rep.Warnings), "warning"))
		return exitFail
	}
	if len(rep.Warnings) > 0 && !o.warningsOK {
		fmt.Fprintf(stdout, "%s: no problems, %s (--warnings-ok accepts them)\n", o.config, plural(len(rep.Warnings), "warning"))
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: OK\n", o.config)
	for _, s := range rep.Summary {
		fmt.Fprintln(stdout, "  "+s)
	}
	return exitOK
}
