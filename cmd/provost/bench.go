package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/provost-dev/provost/internal/load"
)

// benchServe is the hidden subcommand of `provost bench` that runs one
// server under test: `provost bench serve --target T [--config F --data-dir D]`.
// `provost bench` re-executes its own binary with it, once per target, so
// that no server shares a process with the load client.
const benchServe = "serve"

// benchOptions are provost bench's flags.
type benchOptions struct {
	rounds, concurrency int
	duration, warmup    time.Duration
	targets, evidence   string
	json                bool
}

func benchFlags() (*flag.FlagSet, *benchOptions) {
	fs := newFlagSet("bench")
	o := &benchOptions{}
	fs.IntVar(&o.rounds, "rounds", 5, fmt.Sprintf("interleaved rounds: each target is driven once per round (1..%d)", load.MaxRounds))
	fs.DurationVar(&o.duration, "duration", 3*time.Second, fmt.Sprintf("how long to drive each target in each round (at most %s)", load.MaxDuration))
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load on each target before the first round, after every credential has been sent once")
	fs.IntVar(&o.concurrency, "concurrency", 64, fmt.Sprintf("concurrent workers of the load client (1..%d)", load.MaxConcurrency))
	fs.StringVar(&o.targets, "targets", strings.Join(load.Targets, ","), "comma-separated targets to measure")
	fs.StringVar(&o.evidence, "evidence", "durable", "evidence mode of the Provost targets: durable (each decision on disk before its answer) or async")
	fs.BoolVar(&o.json, "json", false, "print the report as one JSON document")
	return fs, o
}

// cmdBench is the load tool: it starts Provost's check API, forward-auth
// and ext_authz servers and a bare net/http and a bare grpc-go server, each
// in a process of its own, and drives them with the same load client in
// interleaved rounds. All traffic stays on loopback.
func cmdBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs, o := benchFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "provost bench: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if o.evidence != "durable" && o.evidence != "async" {
		fmt.Fprintf(stderr, "provost bench: --evidence must be durable or async (got %q)\n", o.evidence)
		return exitUsage
	}
	switch {
	case o.rounds < 1:
		fmt.Fprintf(stderr, "provost bench: --rounds must be 1..%d (got %d)\n", load.MaxRounds, o.rounds)
		return exitUsage
	case o.concurrency < 1:
		fmt.Fprintf(stderr, "provost bench: --concurrency must be 1..%d (got %d)\n", load.MaxConcurrency, o.concurrency)
		return exitUsage
	case o.duration <= 0 || o.warmup <= 0:
		fmt.Fprintln(stderr, "provost bench: --duration and --warmup must be above 0")
		return exitUsage
	}
	var names []string
	for _, n := range strings.Split(o.targets, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(stderr, "provost bench: --targets names no target")
		return exitUsage
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "provost bench: cannot find its own binary to start the servers with:", err)
		return exitFail
	}
	lo := load.Options{Targets: names, Rounds: o.rounds, Duration: o.duration, Warmup: o.warmup, Concurrency: o.concurrency,
		AsyncEvidence: o.evidence == "async", Executable: exe, Args: []string{"bench", benchServe}, Progress: stderr}
	if err := lo.Check(); err != nil {
		fmt.Fprintln(stderr, "provost bench:", err)
		return exitUsage
	}
	rep, err := load.Bench(ctx, lo)
	code := exitOK
	if rep != nil {
		if o.json {
			rep.WriteJSON(stdout)
		} else {
			rep.WriteTable(stdout)
		}
		if rep.Failures() > 0 {
			code = exitFail
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "provost bench:", err)
		return exitFail
	}
	return code
}

// cmdBenchServe is `provost bench serve`: one server under test, for
// `provost bench` (see load.Serve). It prints its address on standard
// output, answers control lines on standard input, and serves until
// standard input ends or it is interrupted.
func benchServeFlags() (*flag.FlagSet, *load.ServeOptions) {
	fs := newFlagSet("bench serve")
	o := &load.ServeOptions{}
	fs.StringVar(&o.Target, "target", "", "the server to run: "+strings.Join(load.Targets, ", "))
	fs.StringVar(&o.Config, "config", "", "configuration `file` (Provost targets)")
	fs.StringVar(&o.DataDir, "data-dir", "", "data `directory` (Provost targets)")
	return fs, o
}

func cmdBenchServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o := benchServeFlags()
	if code := parseArgs(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 0 || o.Target == "" {
		fmt.Fprintln(stderr, "provost bench serve: give --target T and no arguments")
		fs.Usage()
		return exitUsage
	}
	if err := load.Serve(ctx, *o, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "provost bench serve:", err)
		return exitFail
	}
	return exitOK
}
