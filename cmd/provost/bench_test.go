package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// init makes this test binary a `provost bench serve` child when
// `provost bench`, run by a test through run(), re-executes it
// (os.Executable is the test binary) with "bench serve ...". A test run
// starts with -test.* flags, never with "bench".
func init() {
	if len(os.Args) > 2 && os.Args[1] == "bench" && os.Args[2] == benchServe {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
}

func TestBenchSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--rounds", "1", "--duration", "200ms", "--warmup", "100ms", "--concurrency", "4",
		"--targets", "check-api,bare-http", "--json"}
	code := run(context.Background(), args, nil, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("provost bench exited %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	var rep struct {
		Rounds      int    `json:"rounds"`
		Concurrency int    `json:"concurrency"`
		Credentials int    `json:"credentials"`
		Origins     int    `json:"origins"`
		Evidence    string `json:"evidence"`
		Targets     []struct {
			Target        string   `json:"target"`
			Baseline      string   `json:"baseline"`
			RPS           float64  `json:"rps"`
			P50           float64  `json:"p50_us"`
			P99           float64  `json:"p99_us"`
			CPUPerRequest float64  `json:"cpu_per_request_us"`
			RPSRatio      *float64 `json:"rps_ratio"`
			CPURatio      *float64 `json:"cpu_per_request_ratio"`
			Requests      int64    `json:"requests"`
			Failures      int64    `json:"failures"`
			Rounds        []struct {
				CPU float64 `json:"server_cpu_s"`
			} `json:"rounds"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("the output is not the JSON report: %v\n%s", err, &stdout)
	}
	if rep.Rounds != 1 || rep.Concurrency != 4 || rep.Credentials != 1000 || rep.Origins != 100 || rep.Evidence != "durable" {
		t.Errorf("report settings: %+v", rep)
	}
	if len(rep.Targets) != 2 || rep.Targets[0].Target != "check-api" || rep.Targets[1].Target != "bare-http" {
		t.Fatalf("targets: %s", &stdout)
	}
	for _, tg := range rep.Targets {
		if tg.Requests == 0 || tg.Failures != 0 || tg.RPS <= 0 || tg.P50 <= 0 || tg.P99 < tg.P50 {
			t.Errorf("%s: %d requests, %d failures, %.0f req/s, p50 %.0fµs p99 %.0fµs", tg.Target, tg.Requests, tg.Failures, tg.RPS, tg.P50, tg.P99)
		}
		if tg.CPUPerRequest <= 0 || len(tg.Rounds) != 1 || tg.Rounds[0].CPU <= 0 {
			t.Errorf("%s: no server CPU measured: %.1fµs per request", tg.Target, tg.CPUPerRequest)
		}
	}
	ca := rep.Targets[0]
	if ca.Baseline != "bare-http" || ca.RPSRatio == nil || ca.CPURatio == nil || *ca.RPSRatio <= 0 || *ca.CPURatio <= 0 {
		t.Errorf("check-api has no ratio to bare-http: %s", &stdout)
	}
	if rep.Targets[1].RPSRatio != nil {
		t.Errorf("a baseline has a ratio: %s", &stdout)
	}
	// Progress names each server's process; every one must be gone.
	pids := benchPids(t, stderr.String())
	if len(pids) != 2 {
		t.Fatalf("progress names %d server processes, want 2:\n%s", len(pids), &stderr)
	}
	for _, pid := range pids {
		if pid == os.Getpid() {
			t.Fatalf("a server ran in the load client's own process:\n%s", &stderr)
		}
		if alive(pid) {
			t.Errorf("server process %d is still running after provost bench returned", pid)
		}
	}
	if left := benchChildren(t); len(left) > 0 {
		t.Errorf("server processes left behind: %v", left)
	}
}

func TestBenchTable(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped under -short")
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--rounds", "2", "--duration", "150ms", "--warmup", "50ms", "--concurrency", "2",
		"--targets", "ext-authz, bare-grpc", "--evidence", "async"}
	if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("provost bench exited %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	out := stdout.String()
	for _, want := range []string{"round 1\next-authz ", "round 2\nbare-grpc ", "2 round(s)", "async evidence", "req/s", "p99.9", "CPU/req", "CPU/req vs base", "failures"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	var extLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "ext-authz ") && extLine == "" {
			extLine = l
		}
	}
	f := strings.Fields(extLine)
	if len(f) != 11 || f[6] != "bare-grpc" || !strings.HasSuffix(f[7], "×") || !strings.HasSuffix(f[8], "×") || f[10] != "0" {
		t.Errorf("ext-authz line %q:\n%s", extLine, out)
	}
	if left := benchChildren(t); len(left) > 0 {
		t.Errorf("server processes left behind: %v", left)
	}
}

func TestBenchUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--rounds", "0"}, "rounds must be 1..50"},
		{[]string{"bench", "--rounds", "x"}, "invalid value"},
		{[]string{"bench", "--duration", "0s"}, "--duration and --warmup must be above 0"},
		{[]string{"bench", "--duration", "6m"}, "duration must be above 0 and at most 5m0s"},
		{[]string{"bench", "--rounds", "50", "--duration", "5m"}, "at most 1h0m0s"},
		{[]string{"bench", "--concurrency", "0"}, "concurrency must be 1..1024"},
		{[]string{"bench", "--targets", "check-api,nginx"}, `unknown target "nginx"`},
		{[]string{"bench", "--targets", "bare-http,bare-http"}, "named twice"},
		{[]string{"bench", "--targets", ","}, "names no target"},
		{[]string{"bench", "--evidence", "fast"}, "--evidence must be durable or async"},
		{[]string{"bench", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"bench", "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "serve"}, "usage: provost bench serve"},
		{[]string{"bench", "serve", "--target", "nginx"}, `unknown target "nginx"`},
		{[]string{"bench", "serve", "--target", "check-api"}, "needs a configuration file and a data directory"},
	} {
		// A canceled context: should a bad flag get through, the run
		// fails at once instead of driving load.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stdout, stderr bytes.Buffer
		code := run(ctx, c.args, strings.NewReader(""), &stdout, &stderr)
		wantCode := exitUsage
		if c.args[1] == "serve" && len(c.args) > 2 {
			wantCode = exitFail // bad options reach load.Serve, which refuses them
		}
		if code != wantCode || !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("%v: exit %d (want %d), stdout %q, stderr %q (want %q)", c.args, code, wantCode, &stdout, &stderr, c.want)
		}
	}
}

// benchPids are the process ids the progress lines name ("server pid N").
func benchPids(t *testing.T, progress string) []int {
	t.Helper()
	var pids []int
	for _, l := range strings.Split(progress, "\n") {
		_, after, ok := strings.Cut(l, "server pid ")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.Fields(after)[0])
		if err != nil {
			t.Fatalf("progress line %q: %v", l, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether process pid exists, zombies included (a child
// never waited for is a leak too).
func alive(pid int) bool {
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
	if err == nil {
		return true
	}
	if !os.IsNotExist(err) { // no /proc: ask the kernel
		return syscall.Kill(pid, 0) == nil
	}
	return false
}

// benchChildren are this process's children that run `bench serve`, read
// from /proc (none where there is no /proc). provost bench waits for
// every child it started before it returns, so none may be left, not even
// as a zombie.
func benchChildren(t *testing.T) []string {
	t.Helper()
	var left []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(cmdline, []byte("bench\x00serve")) {
			left = append(left, e.Name()+" (state "+f[0]+")")
		}
	}
	return left
}
