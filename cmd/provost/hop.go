package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/provost-dev/provost/internal/hop/hopcli"
)

func hopSignFlags() (*flag.FlagSet, *hopcli.Flags) {
	fs := newFlagSet("hop sign")
	f := &hopcli.Flags{}
	f.Register(fs)
	return fs, f
}

// cmdHopSign is provost hop sign. Nothing it was given is repeated in its
// errors: an argument may be a mistyped credential.
func cmdHopSign(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, f := hopSignFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "provost hop sign: unexpected arguments (not repeated here, in case one is a credential); the credential is read from standard input with --credential-stdin")
		fs.Usage()
		return exitUsage
	}
	if err := hopcli.Sign(*f, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "provost hop sign:", err)
		return exitUsage
	}
	return exitOK
}
