package main

import (
	"context"
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/configcheck"
)

const configUsage = `usage: provost config check [--config FILE] [--warnings-ok]

Commands:
  check    check the whole configuration: it loads strictly; every file it names exists and
           parses (JWKS, SPIFFE bundles, CA files, TLS certificates and keys, hop, evidence and
           SSF keys, the bindings file); listeners are host:port and do not clash; the bindings
           lint clean. Exit 0 with a summary; 1 listing every problem (file:line: field: what).

Run 'provost config check -h' for its flags.
`

func cmdConfig(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return cmdConfigCheck(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost config: unknown command %q\n\n%s", args[0], configUsage)
	return exitUsage
}

func cmdConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost config check", "usage: provost config check [--config FILE] [--warnings-ok]\n"+
		"Checks the configuration and every file it names. Exit 0: it is good; 1: problems (or bindings lint warnings), each listed.", stderr)
	cfgFile := fs.String("config", defaultConfigFile, "configuration `file`")
	warningsOK := fs.Bool("warnings-ok", false, "exit 0 even when the bindings lint has warnings")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	rep := configcheck.Check(ctx, *cfgFile)
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintln(stdout, w)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(stdout, "%s: %s, %s\n", *cfgFile, plural(len(rep.Problems), "problem"), plural(len(rep.Warnings), "warning"))
		return exitFail
	}
	if len(rep.Warnings) > 0 && !*warningsOK {
		fmt.Fprintf(stdout, "%s: no problems, %s (--warnings-ok accepts them)\n", *cfgFile, plural(len(rep.Warnings), "warning"))
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: OK\n", *cfgFile)
	for _, s := range rep.Summary {
		fmt.Fprintln(stdout, "  "+s)
	}
	return exitOK
}
