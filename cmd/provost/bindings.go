package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

const bindingsUsage = `usage: provost bindings COMMAND ...

Commands:
  lint     [--config FILE | BINDINGS.yaml] [--warnings-ok]
           check a bindings file, summarize each binding, and warn about likely mistakes
  test     [--config FILE] [--data-dir DIR] TESTS.yaml...
           run policy tests: requests and the decisions they must get
  propose  --binding NAME [--since 720h] [--config FILE] [--data-dir DIR]
           print the tightest binding covering the origins a learn-mode binding saw

Run 'provost bindings COMMAND -h' for a command's flags.
`

func cmdBindings(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, bindingsUsage)
		return exitUsage
	}
	switch args[0] {
	case "lint":
		return cmdBindingsLint(args[1:], stdout, stderr)
	case "test":
		return cmdBindingsTest(ctx, args[1:], stdout, stderr)
	case "propose":
		return cmdBindingsPropose(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, bindingsUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "provost bindings: unknown command %q\n\n%s", args[0], bindingsUsage)
	return exitUsage
}

// flagSet returns a flag set in the style of the other commands.
func flagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
