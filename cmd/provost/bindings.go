package main

import (
	"context"
	"fmt"
	"io"
)

// cmdBindings is being written; see bindings subcommands.
func cmdBindings(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	_ = ctx
	_ = stdin
	_ = stdout
	fmt.Fprintln(stderr, "usage: provost bindings lint|test|propose ...")
	return exitUsage
}
