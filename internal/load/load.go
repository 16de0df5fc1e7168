// Package load is Provost's load tool (`provost bench`). It drives a
// server at a fixed concurrency for a bounded time and reports throughput,
// latency percentiles and the server's CPU time per request.
//
// The servers under test run in processes of their own, apart from the
// load client: Bench starts one child process per target (the provost
// binary re-executed as `provost bench serve`, see Serve and Start), each
// serving exactly one of Provost's check API, forward-auth and ext_authz,
// or a bare net/http or grpc-go baseline, on 127.0.0.1. It then drives the
// targets in interleaved rounds and reports the median of each figure
// over the rounds, beside the ratio to the target's baseline.
//
// Load goes only to loopback: the children listen on 127.0.0.1:0 and the
// client refuses any address they report that is not a loopback address.
package load

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op performs one request; a non-nil error counts as a failure.
type Op func(ctx context.Context) error

// Config bounds a run.
type Config struct {
	Concurrency int           // workers, default 64
	Duration    time.Duration // how long to drive, default 3s
	Warmup      time.Duration // unmeasured first part (Run, Warm), default 500ms
	MaxRequests int           // hard cap on requests, default 5,000,000
}

// Result is what a run measured.
type Result struct {
	Name        string
	Concurrency int
	Requests    int64
	Failures    int64
	Elapsed     time.Duration
	P50         time.Duration
	P99         time.Duration
	P999        time.Duration
	Max         time.Duration
	FirstError  string
}

// RPS is the throughput.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// String is one line for humans.
func (r Result) String() string {
	return fmt.Sprintf("%-24s c=%-4d %9.0f req/s  p50 %-9s p99 %-9s p99.9 %-9s max %-9s n=%d fail=%d",
		r.Name, r.Concurrency, r.RPS(), round(r.P50), round(r.P99), round(r.P999), round(r.Max), r.Requests, r.Failures)
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d > 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// Run drives op for cfg.Warmup without measuring (Warm), then measures it
// (Measure).
func Run(ctx context.Context, name string, cfg Config, op Op) (Result, error) {
	cfg = defaults(cfg)
	if op == nil {
		return Result{}, errors.New("load: no operation")
	}
	Warm(ctx, cfg, op)
	return Measure(ctx, name, cfg, op)
}

// Warm drives op for cfg.Warmup and discards what it measured. Every
// request has ended when it returns.
func Warm(ctx context.Context, cfg Config, op Op) {
	cfg = defaults(cfg)
	warm, cancel := context.WithTimeout(ctx, cfg.Warmup)
	drive(warm, cfg, op, nil)
	cancel()
}

// Measure drives op with cfg.Concurrency workers and measures it, without
// a warm-up. It stops at cfg.Duration, the request cap, or when ctx ends;
// every request has ended when it returns, so whatever the server spent
// between a mark taken just before and one just after is what these
// requests cost it.
func Measure(ctx context.Context, name string, cfg Config, op Op) (Result, error) {
	cfg = defaults(cfg)
	if op == nil {
		return Result{}, errors.New("load: no operation")
	}
	run, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	rec := &recorder{lat: make([][]time.Duration, cfg.Concurrency), cap: int64(cfg.MaxRequests)}
	start := time.Now()
	drive(run, cfg, op, rec)
	elapsed := time.Since(start)
	res := rec.result(name, cfg.Concurrency, elapsed)
	if res.Requests == 0 {
		return res, fmt.Errorf("load: %s: no request completed (%s)", name, res.FirstError)
	}
	return res, nil
}

// Each calls op exactly n times from concurrency workers, unmeasured: a
// priming pass that sends every prepared request of a rotating Op once. It
// returns how many calls failed and the first failure.
func Each(ctx context.Context, concurrency, n int, op Op) (failures int64, first error) {
	var (
		next, fail atomic.Int64
		once       sync.Once
		wg         sync.WaitGroup
	)
	for range max(1, concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				if err := op(ctx); err != nil {
					fail.Add(1)
					once.Do(func() { first = err })
				}
			}
		}()
	}
	wg.Wait()
	return fail.Load(), first
}

func defaults(cfg Config) Config {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 3 * time.Second
	}
	if cfg.Warmup <= 0 {
		cfg.Warmup = 500 * time.Millisecond
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 5_000_000
	}
	return cfg
}

// recorder keeps each worker's latencies apart, so recording takes no lock.
type recorder struct {
	lat      [][]time.Duration
	n        atomic.Int64
	fail     atomic.Int64
	cap      int64
	errOnce  sync.Once
	firstErr string
}

func drive(ctx context.Context, cfg Config, op Op, rec *recorder) {
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if rec != nil && rec.n.Add(1) > rec.cap {
					return
				}
				t0 := time.Now()
				err := op(ctx)
				d := time.Since(t0)
				if rec == nil {
					continue
				}
				if err != nil {
					if cutOff(ctx) { // cut off by the end of the run
						rec.n.Add(-1)
						return
					}
					rec.fail.Add(1)
					rec.errOnce.Do(func() { rec.firstErr = err.Error() })
				}
				rec.lat[w] = append(rec.lat[w], d)
			}
		}()
	}
	wg.Wait()
}

// cutOff reports whether the run is over: the context is done, or its
// deadline has passed (a client such as grpc-go may notice the deadline a
// moment before the context does).
func cutOff(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (r *recorder) result(name string, c int, elapsed time.Duration) Result {
	var all []time.Duration
	for _, l := range r.lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := Result{Name: name, Concurrency: c, Requests: int64(len(all)), Failures: r.fail.Load(), Elapsed: elapsed, FirstError: r.firstErr}
	if len(all) > 0 {
		res.P50, res.P99, res.P999, res.Max = pct(all, 0.50), pct(all, 0.99), pct(all, 0.999), all[len(all)-1]
	}
	return res
}

// pct is the nearest-rank percentile of sorted latencies.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
