package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
)

// Bounds of a Bench run.
const (
	MaxRounds      = 50
	MaxDuration    = 5 * time.Minute
	MaxConcurrency = 1024
	// MaxPlanned bounds the time a run drives load, warm-ups included.
	MaxPlanned = time.Hour
	// startTimeout bounds a child's start (opening its data directory).
	startTimeout = 30 * time.Second
	// stopTimeout bounds a child's graceful shutdown before it is killed.
	stopTimeout = 10 * time.Second
)

// Options shape a Bench run; zero fields take the defaults named.
type Options struct {
	// Targets are measured in this order in the first round, rotated by
	// one place each round after (default: every target).
	Targets []string
	// Rounds is how many times each target is driven (default 5).
	Rounds int
	// Duration is how long each target is driven in each round (default 3s).
	Duration time.Duration
	// Warmup is how long each target is driven, unmeasured, before the
	// first round, after one priming pass that sends every prepared
	// request once (default 1s). Each round is also preceded by a short
	// warm-up of its own: a tenth of Duration, at most 500ms.
	Warmup time.Duration
	// Concurrency is the number of workers of the load client (default 64).
	Concurrency int
	// Credentials and Origins shape the workload (default 1,000 and 100).
	Credentials, Origins int
	// AsyncEvidence runs the Provost targets with evidence.mode async
	// (default durable).
	AsyncEvidence bool
	// MaxRequests caps the requests of one measured round (default 5,000,000).
	MaxRequests int
	// Executable and Args start a server child: Args is followed by
	// --target and the target's flags (for provost: os.Executable() and
	// "bench", "serve").
	Executable string
	Args       []string
	// Progress receives a line as each server starts and each round ends
	// (nil: none).
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if len(o.Targets) == 0 {
		o.Targets = slices.Clone(Targets)
	}
	if o.Rounds == 0 {
		o.Rounds = 5
	}
	if o.Duration == 0 {
		o.Duration = 3 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 64
	}
	if o.Credentials == 0 {
		o.Credentials = 1000
	}
	if o.Origins == 0 {
		o.Origins = 100
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = 5_000_000
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// roundWarmup is the warm-up before each measured round.
func (o Options) roundWarmup() time.Duration { return min(o.Duration/10, 500*time.Millisecond) }

// Planned is how long o drives load: the warm-ups and every round.
func (o Options) Planned() time.Duration {
	o = o.withDefaults()
	n := time.Duration(len(o.Targets))
	return n*o.Warmup + time.Duration(o.Rounds)*n*(o.Duration+o.roundWarmup())
}

// Check validates o (after defaults): the errors are usage errors.
func (o Options) Check() error {
	o = o.withDefaults()
	seen := map[string]bool{}
	for _, t := range o.Targets {
		if !known(t) {
			return fmt.Errorf("unknown target %q (the targets are %s)", t, strings.Join(Targets, ", "))
		}
		if seen[t] {
			return fmt.Errorf("target %q is named twice", t)
		}
		seen[t] = true
	}
	switch {
	case o.Rounds < 1 || o.Rounds > MaxRounds:
		return fmt.Errorf("rounds must be 1..%d (got %d)", MaxRounds, o.Rounds)
	case o.Duration < 0 || o.Duration > MaxDuration:
		return fmt.Errorf("duration must be above 0 and at most %s (got %s)", MaxDuration, o.Duration)
	case o.Warmup < 0 || o.Warmup > MaxDuration:
		return fmt.Errorf("warm-up must be above 0 and at most %s (got %s)", MaxDuration, o.Warmup)
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency must be 1..%d (got %d)", MaxConcurrency, o.Concurrency)
	case o.Credentials < 1 || o.Credentials > 100_000:
		return fmt.Errorf("credentials must be 1..100000 (got %d)", o.Credentials)
	case o.Origins < 1 || o.Origins > 256:
		return fmt.Errorf("origins must be 1..256 (got %d)", o.Origins)
	case o.Planned() > MaxPlanned:
		return fmt.Errorf("the run would drive load for %s (targets × (warm-up + rounds × duration)); at most %s", o.Planned().Round(time.Second), MaxPlanned)
	}
	return nil
}

// target is one server under test, as the load client sees it.
type target struct {
	name  string
	proc  *Proc
	op    Op
	close func()
	// prime are the requests of the priming pass (one per credential).
	prime int
}

// Bench starts one server child per target, drives them in interleaved
// rounds with the same load client, stops the children, and reports.
// The Report is returned with an error too when some rounds completed
// before the error; a run whose requests failed is not an error (the
// report counts them).
func Bench(ctx context.Context, o Options) (*Report, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if o.Executable == "" {
		return nil, errors.New("load: no executable to start the servers with")
	}
	// Bound the whole run: the planned load, and the servers' starts and
	// stops.
	ctx, cancel := context.WithTimeout(ctx, o.Planned()+time.Duration(len(o.Targets))*(startTimeout+stopTimeout)+time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "provost-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wl, err := NewWorkload(dir, o.Credentials, o.Origins, o.Planned()+time.Hour, o.AsyncEvidence)
	if err != nil {
		return nil, err
	}

	var targets []*target
	stopAll := func() error {
		var errs []error
		for _, t := range targets {
			t.close()
			errs = append(errs, t.proc.Stop(stopTimeout))
		}
		targets = nil
		return errors.Join(errs...)
	}
	defer stopAll()
	for _, name := range o.Targets {
		t, err := startTarget(ctx, o, wl, name)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
		fmt.Fprintf(o.Progress, "%-13s server pid %d on %s\n", name, t.proc.Pid(), t.proc.Addr)
	}

	rep := newReport(o)
	cfg := Config{Concurrency: o.Concurrency, Duration: o.Duration, Warmup: o.Warmup, MaxRequests: o.MaxRequests}
	for _, t := range targets {
		fail, first := Each(ctx, o.Concurrency, t.prime, t.op)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if fail > 0 {
			return nil, fmt.Errorf("load: %s: %d of %d requests of the priming pass failed; the first: %v", t.name, fail, t.prime, first)
		}
		Warm(ctx, cfg, t.op)
	}
	cfg.Warmup = o.roundWarmup()
	for r := range o.Rounds {
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			if cfg.Warmup > 0 {
				Warm(ctx, cfg, t.op)
			}
			before, err := t.proc.CPU()
			if err != nil {
				return rep.finish(), err
			}
			res, merr := Measure(ctx, t.name, cfg, t.op)
			if err := ctx.Err(); err != nil {
				return rep.finish(), err
			}
			after, err := t.proc.CPU()
			if err != nil {
				return rep.finish(), err
			}
			if merr != nil && res.Requests == 0 {
				return rep.finish(), merr
			}
			rep.add(t.name, Round{Round: r + 1, Position: i + 1, Result: res, CPU: after - before})
			fmt.Fprintf(o.Progress, "round %d/%d  %s\n", r+1, o.Rounds, rep.last(t.name))
		}
	}
	if err := stopAll(); err != nil {
		return rep.finish(), err
	}
	return rep.finish(), nil
}

func startTarget(ctx context.Context, o Options, wl *Workload, name string) (*target, error) {
	args := append(slices.Clone(o.Args), "--target", name)
	if provostTarget(name) {
		args = append(args, "--config", wl.Config, "--data-dir", wl.DataDir(name))
	}
	p, err := Start(ctx, name, o.Executable, args, startTimeout)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, proc: p, prime: wl.Credentials}
	switch name {
	case TargetCheckAPI, TargetForwardAuth, TargetBareHTTP:
		client := NewHTTPClient(o.Concurrency)
		t.close = client.CloseIdleConnections
		base := "http://" + p.Addr
		switch name {
		case TargetCheckAPI:
			t.op = HTTP(client, wl.CheckRequests(base+"/v1/check"), http.StatusOK, []byte(`"decision":"allow"`))
		case TargetForwardAuth:
			t.op = HTTP(client, wl.ForwardAuthRequests(base+"/v1/forward-auth"), http.StatusOK, []byte("allow"))
		default:
			// The baseline of both HTTP targets gets the check API's requests.
			t.op = HTTP(client, wl.CheckRequests(base+"/v1/check"), http.StatusOK, []byte(`"decision":"allow"`))
		}
	default:
		conn, err := DialLoopback(p.Addr)
		if err != nil {
			p.Stop(stopTimeout)
			return nil, err
		}
		t.close = func() { conn.Close() }
		t.op = ExtAuthz(conn, wl.CheckRequestsGRPC(), code.Code_OK)
	}
	return t, nil
}
