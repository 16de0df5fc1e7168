package load

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCounts(t *testing.T) {
	var calls atomic.Int64
	res, err := Run(context.Background(), "sleep", Config{Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 10 * time.Millisecond},
		func(context.Context) error {
			calls.Add(1)
			time.Sleep(time.Millisecond)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Requests > calls.Load() || res.Failures != 0 {
		t.Fatalf("requests %d of %d calls, failures %d", res.Requests, calls.Load(), res.Failures)
	}
	if !(res.P50 >= time.Millisecond && res.P50 <= res.P99 && res.P99 <= res.P999 && res.P999 <= res.Max) {
		t.Fatalf("percentiles out of order: %+v", res)
	}
	if res.RPS() <= 0 || res.String() == "" {
		t.Fatal("no throughput")
	}
}

func TestRunFailuresAndCap(t *testing.T) {
	res, err := Run(context.Background(), "fail", Config{Concurrency: 2, Duration: time.Second, Warmup: time.Millisecond, MaxRequests: 50},
		func(context.Context) error { return errors.New("boom") })
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 50 || res.Failures != 50 || res.FirstError != "boom" {
		t.Fatalf("%+v", res)
	}
}

func TestPercentile(t *testing.T) {
	s := make([]time.Duration, 1000)
	for i := range s {
		s[i] = time.Duration(i + 1)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}} {
		if got := pct(s, c.p); got != c.want {
			t.Errorf("p%v = %d, want %d", c.p, got, c.want)
		}
	}
}
