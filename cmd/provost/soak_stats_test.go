package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// soakSample is one look at the server.
type soakSample struct {
	at         time.Duration // since the first sample
	rss        int64         // bytes, VmRSS of /proc/PID/status
	goroutines int64         // go_goroutines of /metrics
	heapInuse  int64         // go_memstats_heap_inuse_bytes of /metrics
	load1      float64       // 1-minute load average of the machine
}

// soakSampler samples the server process every interval until ctx ends.
type soakSampler struct {
	pid     int
	metrics string // the admin /metrics URL
	token   string // the admin bearer token

	mu      sync.Mutex
	start   time.Time
	samples []soakSample
	failed  []string
}

func (s *soakSampler) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		s.sample(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s *soakSampler) sample(ctx context.Context) {
	now := time.Now()
	s.mu.Lock()
	if s.start.IsZero() {
		s.start = now
	}
	at := now.Sub(s.start)
	s.mu.Unlock()
	rss, err := procRSS(s.pid)
	var m map[string]float64
	if err == nil {
		m, err = s.scrape(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.failed = append(s.failed, fmt.Sprintf("%s: %v", at.Round(time.Second), err))
		}
		return
	}
	s.samples = append(s.samples, soakSample{at: at, rss: rss, goroutines: int64(m["go_goroutines"]),
		heapInuse: int64(m["go_memstats_heap_inuse_bytes"]), load1: loadAverage()})
}

// procRSS reads the resident set size of pid from /proc/PID/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}

// scrape reads the gauges the soak needs from the admin /metrics.
func (s *soakSampler) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.metrics, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	want := []string{"go_goroutines", "go_memstats_heap_inuse_bytes"}
	m := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if ok && slices.Contains(want, name) {
			if m[name], err = strconv.ParseFloat(strings.TrimSpace(val), 64); err != nil {
				return nil, fmt.Errorf("/metrics %s: %w", name, err)
			}
		}
	}
	for _, n := range want {
		if _, ok := m[n]; !ok {
			return nil, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return m, sc.Err()
}

// loadAverage is the machine's 1-minute load average (0 when unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

type soakSeries struct {
	samples []soakSample
	failed  []string
}

func (s *soakSampler) series() soakSeries {
	s.mu.Lock()
	defer s.mu.Unlock()
	return soakSeries{samples: slices.Clone(s.samples), failed: slices.Clone(s.failed)}
}

// stat summarizes one series: overall min/median/max, and the medians of
// the second and last quarters the flatness rule compares.
type stat struct{ min, median, max, q2, q4 float64 }

func statOf(samples []soakSample, f func(soakSample) float64) stat {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = f(s)
	}
	n := len(v)
	st := stat{q2: medianFloat(v[n/4 : n/2]), q4: medianFloat(v[3*n/4:])}
	sort.Float64s(v)
	st.min, st.median, st.max = v[0], medianFloat(v), v[n-1]
	return st
}

func medianFloat(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// soakFlat applies the flatness rule (see soak_test.go) and returns what
// broke it, or nil.
func soakFlat(rss, goroutines stat) []string {
	var out []string
	if limit := rss.q2*soakRSSFactor + soakRSSSlack; rss.q4 > limit {
		out = append(out, fmt.Sprintf("RSS grew: median of the last quarter %.1f MiB > %.1f MiB (second quarter %.1f MiB × %.2f + %d MiB)",
			mib(rss.q4), mib(limit), mib(rss.q2), soakRSSFactor, soakRSSSlack>>20))
	}
	if goroutines.q4 > goroutines.q2+soakGoroutineMax {
		out = append(out, fmt.Sprintf("goroutines grew: median of the last quarter %.0f > second quarter's %.0f + %d",
			goroutines.q4, goroutines.q2, soakGoroutineMax))
	}
	return out
}

func mib(b float64) float64 { return b / (1 << 20) }

// soakSummary is the soak's result.
type soakSummary struct {
	cfg       soakConfig
	started   time.Time
	tally     soakCounts
	samples   soakSeries
	errorLogs int
	exit      string
}

// minSoakSamples is the fewest samples the flatness rule is judged on.
const minSoakSamples = 8

func (s soakSummary) check(t *testing.T) {
	t.Helper()
	c := s.tally
	if c.requests == 0 {
		t.Fatal("no request was answered")
	}
	for _, k := range soakMix {
		if !slices.ContainsFunc(slices.Collect(mapKeys(c.outcomes)), func(o string) bool { return strings.HasPrefix(o, k.name+" ") }) {
			t.Errorf("the mix never sent %s traffic", k.name)
		}
	}
	if c.errors != 0 || c.mismatches != 0 || c.status5xx != 0 {
		t.Errorf("%d transport or client errors, %d unexpected answers, %d 5xx; first: %v", c.errors, c.mismatches, c.status5xx, c.samples)
	}
	if len(s.samples.failed) != 0 {
		t.Errorf("%d samples failed: %v", len(s.samples.failed), s.samples.failed)
	}
	if n := len(s.samples.samples); n < minSoakSamples {
		t.Fatalf("only %d samples of the server; at least %d are needed", n, minSoakSamples)
	}
	for _, broke := range soakFlat(s.rss(), s.goroutines()) {
		t.Error(broke)
	}
	if s.errorLogs != 0 {
		t.Errorf("the server logged %d ERROR lines", s.errorLogs)
	}
	if s.exit != "ok" {
		t.Errorf("shutdown: %s", s.exit)
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (s soakSummary) rss() stat {
	return statOf(s.samples.samples, func(x soakSample) float64 { return float64(x.rss) })
}

func (s soakSummary) goroutines() stat {
	return statOf(s.samples.samples, func(x soakSample) float64 { return float64(x.goroutines) })
}

func (s soakSummary) String() string {
	var b bytes.Buffer
	c := s.tally
	fmt.Fprintf(&b, "provost serve soak: %s from %s, %d clients, at most %d mix steps/s; %s, %s/%s, %d CPUs, %s\n",
		s.cfg.duration, s.started.UTC().Format(time.RFC3339), s.cfg.clients, s.cfg.rate, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&b, "requests answered: %d (%.1f/s); transport/client errors %d; unexpected answers %d; 5xx %d; cut off at the end %d\n",
		c.requests, float64(c.requests)/s.cfg.duration.Seconds(), c.errors, c.mismatches, c.status5xx, c.cut)
	fmt.Fprintf(&b, "distinct valid credentials presented: %d (tokens refreshed every %d uses, and a fresh one per copied pair)\n", c.minted, soakTokenUses)
	b.WriteString("outcomes (kind, decision or status):\n")
	keys := slices.Sorted(mapKeys(c.outcomes))
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-28s %d\n", k, c.outcomes[k])
	}
	for _, m := range c.samples {
		fmt.Fprintf(&b, "  unexpected: %s\n", m)
	}
	if n := len(s.samples.samples); n >= minSoakSamples {
		rss, g := s.rss(), s.goroutines()
		heap := statOf(s.samples.samples, func(x soakSample) float64 { return float64(x.heapInuse) })
		load := statOf(s.samples.samples, func(x soakSample) float64 { return x.load1 })
		fmt.Fprintf(&b, "samples: %d (%d failed)\n", n, len(s.samples.failed))
		fmt.Fprintf(&b, "RSS MiB:         min %.1f  median %.1f  max %.1f  (2nd quarter median %.1f, last quarter median %.1f; limit %.1f)\n",
			mib(rss.min), mib(rss.median), mib(rss.max), mib(rss.q2), mib(rss.q4), mib(rss.q2*soakRSSFactor+soakRSSSlack))
		fmt.Fprintf(&b, "goroutines:      min %.0f  median %.0f  max %.0f  (2nd quarter median %.0f, last quarter median %.0f; limit %.0f)\n",
			g.min, g.median, g.max, g.q2, g.q4, g.q2+soakGoroutineMax)
		fmt.Fprintf(&b, "heap in use MiB: min %.1f  median %.1f  max %.1f\n", mib(heap.min), mib(heap.median), mib(heap.max))
		fmt.Fprintf(&b, "load average (1 min): min %.2f  median %.2f  max %.2f\n", load.min, load.median, load.max)
		if broke := soakFlat(rss, g); len(broke) > 0 {
			fmt.Fprintf(&b, "NOT FLAT: %s\n", strings.Join(broke, "; "))
		} else {
			b.WriteString("flat: yes (last-quarter medians within the rule)\n")
		}
	}
	fmt.Fprintf(&b, "server ERROR log lines: %d; shutdown on SIGTERM: %s\n", s.errorLogs, s.exit)
	b.WriteString("series (seconds, RSS MiB, goroutines, heap in use MiB, load1):\n")
	for _, x := range s.samples.samples {
		fmt.Fprintf(&b, "  %6.0f %7.1f %5d %7.1f %5.2f\n", x.at.Seconds(), mib(float64(x.rss)), x.goroutines, mib(float64(x.heapInuse)), x.load1)
	}
	return b.String()
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "cpu unknown"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "cpu unknown"
}

// soakLog takes the server's output: it finds the listeners, counts ERROR
// lines and keeps the last lines for a failure report.
type soakLog struct {
	mu           sync.Mutex
	partial      []byte
	last         []string
	errs         int
	api, admin   string
	linesWritten int
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 1<<20 { // a line this long is kept only in part
		l.line(l.partial)
		l.partial = nil
	}
	return len(p), nil
}

func (l *soakLog) line(b []byte) {
	l.linesWritten++
	var m struct{ Level, Msg, Addr string }
	if json.Unmarshal(b, &m) == nil {
		switch {
		case m.Level == "ERROR":
			l.errs++
		case m.Msg == "listening":
			l.api = m.Addr
		case m.Msg == "admin listening":
			l.admin = m.Addr
		}
	}
	if len(b) > 2000 {
		b = b[:2000]
	}
	l.last = append(l.last, string(b))
	if len(l.last) > 50 {
		l.last = l.last[1:]
	}
}

func (l *soakLog) listeners() (api, admin string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.api, l.admin
}

func (l *soakLog) errors() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.errs
}

func (l *soakLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
