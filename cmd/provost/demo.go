package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/provost-dev/provost/internal/demo"
)

// keepFlag is --keep: a boolean flag that may name its folder, either as
// --keep=DIR or as the argument after it (provost demo --keep DIR).
type keepFlag struct {
	on  bool
	dir string
}

func (k *keepFlag) String() string   { return k.dir }
func (k *keepFlag) IsBoolFlag() bool { return true }
func (k *keepFlag) Set(v string) error {
	if b, err := strconv.ParseBool(v); err == nil {
		k.on = b
		return nil
	}
	k.on, k.dir = true, v
	return nil
}

const demoUsage = `usage: provost demo [--keep [DIR]] [-v]
Starts Provost on free loopback ports with a deployment made for this run and plays the nine
acceptance scenarios as real HTTP requests. With --keep the world is kept in DIR (a new or empty
folder; without DIR a new temporary one): its configuration, data and private keys (in
DIR/demo-keys, marked demo-only), and the demo ends by printing the commands to try next:
provost serve on it, provost dev token, and curl requests that are allowed and denied.`

// cmdDemo plays the acceptance scenarios against a real server it starts
// on loopback; it exits 1 when any outcome differs from the expected one.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flagSet("provost demo", demoUsage, stderr)
	var keep keepFlag
	fs.Var(&keep, "keep", "keep the world (configuration, data, demo-only keys) in `DIR` and print what to try next")
	verbose := fs.Bool("v", false, "print Provost's own JSON logs to standard error")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 { // provost demo --keep DIR [-v]
		if !keep.on || keep.dir != "" {
			fs.Usage()
			return exitUsage
		}
		keep.dir = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil || fs.NArg() > 0 {
			fs.Usage()
			return exitUsage
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	failed, err := demo.Run(ctx, demo.Options{Out: stdout, Logger: logger, Keep: keep.on, KeepDir: keep.dir})
	if err != nil {
		fmt.Fprintln(stderr, "provost demo:", err)
		return exitFail
	}
	if failed > 0 {
		return exitFail
	}
	return exitOK
}
