package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/provosttest"
)

// The soak is opt-in: PROVOST_SOAK names how long it runs.
const (
	soakEnv        = "PROVOST_SOAK"         // duration, e.g. 10m
	soakOutEnv     = "PROVOST_SOAK_OUT"     // file the summary is also written to (relative: to cmd/provost)
	soakRateEnv    = "PROVOST_SOAK_RATE"    // traffic mix steps a second, all clients together
	soakClientsEnv = "PROVOST_SOAK_CLIENTS" // client goroutines
)

// Flatness rule (stated here, checked by soakFlat): the samples are cut
// into quarters; the first quarter is the warm-up. The median RSS of the
// last quarter must be at most the median of the second quarter × 1.25 +
// 8 MiB, and the median goroutine count of the last quarter at most the
// second quarter's + 8. A leak that grows with requests served (a cache
// without a bound, a goroutine per connection never ended) breaks the rule
// within minutes at the soak's rate.
const (
	soakRSSFactor    = 1.25
	soakRSSSlack     = 8 << 20
	soakGoroutineMax = 8
)

// TestSoak (issue "Hardening", Soak): a real `provost serve` process,
// built here, judges mixed traffic from several clients at a bounded rate
// for PROVOST_SOAK (10m for the recorded run): valid bearer tokens,
// accepted DPoP-bound requests (a fresh proof each time), invalid tokens,
// replayed proofs, a token copied to a second origin, and malformed
// requests. Every request must be answered with the decision class its
// kind expects, with no transport error and no 5xx; the server's RSS
// (/proc/PID/status) and goroutines (go_goroutines of the admin /metrics)
// are sampled throughout and must be flat after the warm-up (the rule
// above). The summary goes to t.Log and to PROVOST_SOAK_OUT when set.
//
//	PROVOST_SOAK=10m PROVOST_SOAK_OUT=soak.out go test -run '^TestSoak$' -timeout 30m -v ./cmd/provost
func TestSoak(t *testing.T) {
	cfg := soakSettings(t)
	if runtime.GOOS != "linux" {
		soakMissing(t, "the soak reads the server's RSS from /proc/PID/status (Linux only)")
	}
	bin := filepath.Join(t.TempDir(), "provost")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	adminToken := randomHex(t, 32)
	sum := sha256.Sum256([]byte(adminToken))
	w := provosttest.New(t, provosttest.Options{Bindings: demo.Bindings,
		Config: fmt.Sprintf("admin: {listen: 127.0.0.1:0, token_sha256: %s}\n", hex.EncodeToString(sum[:]))})
	w.Now = time.Now // the server judges on the real clock

	foreign, err := provosttest.Build(t.TempDir(), provosttest.Options{}) // same issuer and kid, another key
	if err != nil {
		t.Fatal(err)
	}
	srv := startSoakServer(t, bin, w.ConfigFile())
	started := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()

	sampler := &soakSampler{pid: srv.cmd.Process.Pid, metrics: "http://" + srv.admin + "/metrics", token: adminToken}
	tally := newSoakTally()
	var wg sync.WaitGroup
	wg.Go(func() { sampler.run(ctx, cfg.sampleEvery()) })
	pace := soakPace(ctx, cfg.rate)
	clients := make([]*soakClient, cfg.clients)
	for i := range clients {
		clients[i] = newSoakClient(w, foreign, "http://"+srv.api, i, tally)
		wg.Go(func() { clients[i].run(ctx, pace) })
	}
	wg.Wait()
	sampler.sample(context.Background()) // the state right after the last request

	exit := srv.stop(30 * time.Second)
	s := soakSummary{cfg: cfg, started: started, tally: tally.snapshot(), samples: sampler.series(), errorLogs: srv.errorLines(), exit: exit}
	report := s.String()
	t.Log("\n" + report)
	if out := os.Getenv(soakOutEnv); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Errorf("writing %s: %v", out, err)
		}
	}
	s.check(t)
	if t.Failed() {
		t.Logf("server log tail:\n%s", srv.logTail())
	}
}

// soakConfig is what the environment asked for.
type soakConfig struct {
	duration time.Duration
	rate     int // mix steps a second, all clients together
	clients  int
}

// sampleEvery spreads about 120 samples over the run, at least 250ms and
// at most 5s apart.
func (c soakConfig) sampleEvery() time.Duration {
	return min(max(c.duration/120, 250*time.Millisecond), 5*time.Second)
}

func soakSettings(t *testing.T) soakConfig {
	t.Helper()
	v := os.Getenv(soakEnv)
	if v == "" {
		t.Skipf("the soak is opt-in: run it with %s=10m go test -run '^TestSoak$' -timeout 30m ./cmd/provost (or .ci/run --soak); %s=FILE also writes the summary there", soakEnv, soakOutEnv)
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Second {
		t.Fatalf("%s=%q: want a duration of at least 10s, such as 10m", soakEnv, v)
	}
	cfg := soakConfig{duration: d, rate: 100, clients: 8}
	for _, e := range []struct {
		name string
		dst  *int
		max  int
	}{{soakRateEnv, &cfg.rate, 2000}, {soakClientsEnv, &cfg.clients, 64}} {
		s := os.Getenv(e.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > e.max {
			t.Fatalf("%s=%q: want a whole number from 1 to %d", e.name, s, e.max)
		}
		*e.dst = n
	}
	return cfg
}

// soakMissing skips when something the soak needs is missing, and fails
// on CI, where nothing may skip.
func soakMissing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s; CI is set, so this fails rather than skips", why)
	}
	t.Skip(why)
}

// soakServer is one `provost serve` process.
type soakServer struct {
	cmd       *exec.Cmd
	api       string
	admin     string
	log       *soakLog
	waited    chan struct{}
	waitErr   error
	stopOnce  sync.Once
	stopState string
}

func startSoakServer(t *testing.T, bin, cfgFile string) *soakServer {
	t.Helper()
	s := &soakServer{log: &soakLog{}, waited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--config", cfgFile, "--listen", "127.0.0.1:0")
	s.cmd.Stderr = s.log
	s.cmd.Stdout = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr = s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(func() { s.stop(5 * time.Second) })
	deadline := time.After(30 * time.Second)
	for s.api == "" || s.admin == "" {
		select {
		case <-s.waited:
			t.Fatalf("provost serve exited before listening (%v):\n%s", s.waitErr, s.logTail())
		case <-deadline:
			t.Fatalf("provost serve did not log both listeners in 30s:\n%s", s.logTail())
		case <-time.After(20 * time.Millisecond):
			s.api, s.admin = s.log.listeners()
		}
	}
	// Both listeners answer before the traffic starts.
	if resp, err := http.Get("http://" + s.api + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("provost serve is not ready: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	return s
}

// stop sends SIGTERM and waits up to timeout for a graceful exit (then
// kills); it describes how the process ended.
func (s *soakServer) stop(timeout time.Duration) string {
	s.stopOnce.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.waited:
			if s.waitErr != nil {
				s.stopState = "exited after SIGTERM: " + s.waitErr.Error()
			} else {
				s.stopState = "ok"
			}
		case <-time.After(timeout):
			s.cmd.Process.Kill()
			<-s.waited
			s.stopState = fmt.Sprintf("did not exit within %s of SIGTERM; killed", timeout)
		}
	})
	return s.stopState
}

func (s *soakServer) errorLines() int { return s.log.errors() }
func (s *soakServer) logTail() string { return s.log.tail() }

// TestSoakFlatRule checks the flatness rule on made-up series, so a leak
// is shown to break it: it runs in every `go test`, unlike the soak.
func TestSoakFlatRule(t *testing.T) {
	series := func(n int, rss func(i int) float64, g func(i int) int64) []soakSample {
		out := make([]soakSample, n)
		for i := range out {
			out[i] = soakSample{at: time.Duration(i) * 5 * time.Second, rss: int64(rss(i)), goroutines: g(i)}
		}
		return out
	}
	const mb = 1 << 20
	flatG := func(i int) int64 { return 20 + int64(i%3) }
	tests := []struct {
		name    string
		samples []soakSample
		broken  int // rules broken
	}{
		{"flat", series(120, func(i int) float64 { return 40*mb + float64(i%5)*mb }, flatG), 0},
		{"warm-up growth only", series(120, func(i int) float64 { return min(float64(i), 30) * 2 * mb }, flatG), 0},
		{"slow growth within the slack", series(120, func(i int) float64 { return 40*mb + float64(i)*0.1*mb }, flatG), 0},
		{"RSS leak", series(120, func(i int) float64 { return 40*mb + float64(i)*mb }, flatG), 1},
		{"goroutine leak", series(120, func(int) float64 { return 40 * mb }, func(i int) int64 { return 20 + int64(i)/4 }), 1},
		{"both", series(120, func(i int) float64 { return 40*mb + float64(i)*mb }, func(i int) int64 { return 20 + int64(i) }), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := soakSummary{samples: soakSeries{samples: tt.samples}}
			if got := soakFlat(s.rss(), s.goroutines()); len(got) != tt.broken {
				t.Errorf("broken rules %q, want %d", got, tt.broken)
			}
		})
	}
}
