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
// server under test: `provost bench serve --target T [--config F --data D]`.
// `provost bench` re-executes its own binary with it, once per target, so
// that no server shares a process with the load client.
const benchServe = "serve"

// cmdBench is the load tool: it starts Provost's check API, forward-auth
// and ext_authz servers and a bare net/http and a bare grpc-go server, each
// in a process of its own, and drives them with the same load client in
// interleaved rounds. All traffic stays on loopback.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == benchServe {
		return cmdBenchServe(ctx, args[1:], os.Stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("provost bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rounds := fs.Int("rounds", 5, fmt.Sprintf("interleaved rounds: each target is driven once per round (1..%d)", load.MaxRounds))
	dur := fs.Duration("duration", 3*time.Second, fmt.Sprintf("how long to drive each target in each round (at most %s)", load.MaxDuration))
	warm := fs.Duration("warmup", time.Second, "unmeasured load on each target before the first round, after every credential has been sent once")
	conc := fs.Int("concurrency", 64, fmt.Sprintf("concurrent workers of the load client (1..%d)", load.MaxConcurrency))
	targets := fs.String("targets", strings.Join(load.Targets, ","), "comma-separated targets to measure")
	evidence := fs.String("evidence", "durable", "evidence mode of the Provost targets: durable (each decision on disk before its answer) or async")
	asJSON := fs.Bool("json", false, "print the report as one JSON document")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost bench [--rounds N] [--duration D] [--warmup D] [--concurrency N] [--targets LIST] [--evidence durable|async] [--json]")
		fmt.Fprintln(stderr, "Starts each target in a server process of its own on loopback (Provost's check-api, forward-auth and ext-authz;")
		fmt.Fprintln(stderr, "the baselines bare-http and bare-grpc), drives them in turn for --duration, --rounds times, and prints per target")
		fmt.Fprintln(stderr, "the medians over the rounds of requests/s, p50/p99/p99.9 latency and the server's CPU per request, and the ratio")
		fmt.Fprintln(stderr, "to its baseline. Progress goes to standard error. See BENCHMARKS.md.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "provost bench: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return exitUsage
	}
	if *evidence != "durable" && *evidence != "async" {
		fmt.Fprintf(stderr, "provost bench: --evidence must be durable or async (got %q)\n", *evidence)
		return exitUsage
	}
	switch {
	case *rounds < 1:
		fmt.Fprintf(stderr, "provost bench: --rounds must be 1..%d (got %d)\n", load.MaxRounds, *rounds)
		return exitUsage
	case *conc < 1:
		fmt.Fprintf(stderr, "provost bench: --concurrency must be 1..%d (got %d)\n", load.MaxConcurrency, *conc)
		return exitUsage
	case *dur <= 0 || *warm <= 0:
		fmt.Fprintln(stderr, "provost bench: --duration and --warmup must be above 0")
		return exitUsage
	}
	var names []string
	for _, n := range strings.Split(*targets, ",") {
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
	o := load.Options{Targets: names, Rounds: *rounds, Duration: *dur, Warmup: *warm, Concurrency: *conc,
		AsyncEvidence: *evidence == "async", Executable: exe, Args: []string{"bench", benchServe}, Progress: stderr}
	if err := o.Check(); err != nil {
		fmt.Fprintln(stderr, "provost bench:", err)
		return exitUsage
	}
	rep, err := load.Bench(ctx, o)
	code := exitOK
	if rep != nil {
		if *asJSON {
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
func cmdBenchServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost bench serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o load.ServeOptions
	fs.StringVar(&o.Target, "target", "", "the server to run: "+strings.Join(load.Targets, ", "))
	fs.StringVar(&o.Config, "config", "", "configuration `file` (Provost targets)")
	fs.StringVar(&o.DataDir, "data", "", "data `directory` (Provost targets)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost bench serve --target T [--config FILE --data DIR]")
		fmt.Fprintln(stderr, "Internal to provost bench: runs one server on 127.0.0.1:0, prints its address, serves until standard input ends.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 || o.Target == "" {
		fs.Usage()
		return exitUsage
	}
	if err := load.Serve(ctx, o, stdin, stdout); err != nil {
		fmt.Fprintln(stderr, "provost bench serve:", err)
		return exitFail
	}
	return exitOK
}
