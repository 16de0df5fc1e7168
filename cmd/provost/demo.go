package main

import (
	"context"
	"flag"
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

// demoOptions are provost demo's flags.
type demoOptions struct {
	keep    keepFlag
	verbose bool
}

func demoFlags() (*flag.FlagSet, *demoOptions) {
	fs := newFlagSet("demo")
	o := &demoOptions{}
	fs.Var(&o.keep, "keep", "keep the world (configuration, data, demo-only keys) in `DIR` and print what to try next")
	fs.BoolVar(&o.verbose, "v", false, "print Provost's own JSON logs to standard error")
	return fs, o
}

// cmdDemo plays the acceptance scenarios against a real server it starts
// on loopback; it exits 1 when any outcome differs from the expected one.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, o := demoFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	keep := &o.keep
	if fs.NArg() > 0 { // provost demo --keep DIR [-v]
		if !keep.on || keep.dir != "" {
			fs.Usage()
			return exitUsage
		}
		keep.dir = fs.Arg(0)
		if code := parseArgs(fs, fs.Args()[1:], stdout, stderr); code >= 0 {
			return code
		}
		if fs.NArg() > 0 {
			fs.Usage()
			return exitUsage
		}
	}
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
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
