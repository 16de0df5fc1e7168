package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/provost-dev/provost/internal/demo"
)

// cmdDemo plays the acceptance scenarios against a real server it starts
// on loopback; it exits 1 when any outcome differs from the expected one.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keep := fs.Bool("keep", false, "keep the generated deployment (keys, configuration, data) and print where")
	verbose := fs.Bool("v", false, "print Provost's own JSON logs to standard error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost demo [--keep] [-v]")
		fmt.Fprintln(stderr, "Starts Provost on free loopback ports with a deployment made for this run and plays the nine acceptance scenarios as real HTTP requests.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	failed, err := demo.Run(ctx, demo.Options{Out: stdout, Logger: logger, Keep: *keep})
	if err != nil {
		fmt.Fprintln(stderr, "provost demo:", err)
		return exitFail
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}
