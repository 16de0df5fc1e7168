package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
)

// childArg makes this test binary a server child (see TestBenchProcLifecycle).
const childArg = "load-test-child"

func init() {
	if len(os.Args) == 3 && os.Args[1] == childArg {
		err := Serve(context.Background(), ServeOptions{Target: os.Args[2]}, os.Stdin, os.Stdout)
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// child is a server child started in process, talking over pipes.
type child struct {
	addr  string
	in    *io.PipeWriter
	lines *bufio.Reader
	done  chan error
}

func startChild(t *testing.T, o ServeOptions) *child {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &child{in: inW, lines: bufio.NewReader(outR), done: make(chan error, 1)}
	go func() {
		err := Serve(context.Background(), o, inR, outW)
		outW.Close()
		c.done <- err
	}()
	line := c.read(t)
	addr, err := listening(line)
	if err != nil {
		t.Fatal(err)
	}
	c.addr = addr
	return c
}

func (c *child) read(t *testing.T) string {
	t.Helper()
	l, err := c.lines.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child: %v", err)
	}
	return strings.TrimSuffix(l, "\n")
}

func (c *child) ask(t *testing.T, cmd string) string {
	t.Helper()
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		t.Fatal(err)
	}
	return c.read(t)
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	c.in.Close()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("the child stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the child did not stop when its input ended")
	}
}

func TestBenchServeBaselines(t *testing.T) {
	for _, target := range []string{TargetBareHTTP, TargetBareGRPC} {
		t.Run(target, func(t *testing.T) {
			c := startChild(t, ServeOptions{Target: target})
			var op Op
			if target == TargetBareHTTP {
				client := NewHTTPClient(2)
				defer client.CloseIdleConnections()
				op = HTTP(client, []HTTPRequest{{Method: http.MethodPost, URL: "http://" + c.addr + "/v1/check", Body: []byte(`{}`)}},
					http.StatusOK, []byte(`"decision":"allow"`))
			} else {
				conn, err := DialLoopback(c.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				wl, err := NewWorkload(t.TempDir(), 3, 2, time.Hour, false)
				if err != nil {
					t.Fatal(err)
				}
				op = ExtAuthz(conn, wl.CheckRequestsGRPC(), code.Code_OK)
			}
			if fail, first := Each(context.Background(), 2, 20, op); fail != 0 {
				t.Fatalf("%d failures: %v", fail, first)
			}
			f := strings.Fields(c.ask(t, "cpu"))
			if len(f) != 3 || f[0] != "cpu" || f[1]+f[2] == "00" {
				t.Fatalf("cpu answer %q", f)
			}
			if got := c.ask(t, "shout"); got != "error unknown command" {
				t.Fatalf("unknown command answered %q", got)
			}
			c.stop(t)
		})
	}
}

// TestServeProvost starts each Provost target in process over a small
// workload and checks that every prepared request is allowed: the check
// API's, forward-auth's from the trusted proxy, and ext_authz's.
func TestBenchServeProvost(t *testing.T) {
	wl, err := NewWorkload(t.TempDir(), 20, 10, time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{TargetCheckAPI, TargetForwardAuth, TargetExtAuthz} {
		t.Run(target, func(t *testing.T) {
			c := startChild(t, ServeOptions{Target: target, Config: wl.Config, DataDir: wl.DataDir(target)})
			var op Op
			base := "http://" + c.addr
			client := NewHTTPClient(4)
			defer client.CloseIdleConnections()
			switch target {
			case TargetCheckAPI:
				op = HTTP(client, wl.CheckRequests(base+"/v1/check"), http.StatusOK, []byte(`"decision":"allow"`))
			case TargetForwardAuth:
				op = HTTP(client, wl.ForwardAuthRequests(base+"/v1/forward-auth"), http.StatusOK, []byte("allow"))
			default:
				conn, err := DialLoopback(c.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				op = ExtAuthz(conn, wl.CheckRequestsGRPC(), code.Code_OK)
			}
			// Twice round the credentials: first uses, then known origins.
			if fail, first := Each(context.Background(), 4, 2*wl.Credentials, op); fail != 0 {
				t.Fatalf("%d of %d requests failed; the first: %v", fail, 2*wl.Credentials, first)
			}
			c.stop(t)
		})
	}
	// A request from outside the approved network is denied: the policy
	// is really enforced.
	c := startChild(t, ServeOptions{Target: TargetCheckAPI, Config: wl.Config, DataDir: wl.DataDir("deny")})
	defer c.stop(t)
	reqs := wl.CheckRequests("http://" + c.addr + "/v1/check")
	reqs[0].Body = []byte(strings.Replace(string(reqs[0].Body), `"10.40.`, `"10.41.`, 1))
	client := NewHTTPClient(1)
	defer client.CloseIdleConnections()
	if err := HTTP(client, reqs[:1], http.StatusOK, []byte(`"decision":"allow"`))(context.Background()); err == nil {
		t.Fatal("a request from outside the approved network was allowed")
	}
}

func TestBenchServeRefuses(t *testing.T) {
	for _, o := range []ServeOptions{{Target: "nginx"}, {Target: TargetCheckAPI}, {Target: TargetExtAuthz, Config: "x.yaml"}} {
		if err := Serve(context.Background(), o, strings.NewReader(""), io.Discard); err == nil {
			t.Errorf("%+v: served", o)
		}
	}
}

func TestBenchListeningLoopbackOnly(t *testing.T) {
	for _, l := range []string{"listening 10.0.0.1:80", "listening [2001:db8::1]:80", "listening example.com:80", "hello", "listening 127.0.0.1"} {
		if _, err := listening(l); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
	for _, l := range []string{"listening 127.0.0.1:8080", "listening [::1]:9"} {
		if _, err := listening(l); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
}

// TestProcLifecycle starts this test binary as a child process serving
// bare-http, drives it, reads its CPU time, and stops it.
func TestBenchProcLifecycle(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), TargetBareHTTP, exe, []string{childArg, TargetBareHTTP}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid() == os.Getpid() {
		t.Fatal("the child is this process")
	}
	before, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	client := NewHTTPClient(2)
	op := HTTP(client, []HTTPRequest{{Method: http.MethodPost, URL: "http://" + p.Addr + "/", Body: []byte("x")}}, http.StatusOK, nil)
	res, err := Measure(context.Background(), "bare", Config{Concurrency: 2, Duration: 200 * time.Millisecond}, op)
	client.CloseIdleConnections()
	if err != nil || res.Failures != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	after, err := p.CPU()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("the child's CPU time went from %s to %s over %d requests", before, after, res.Requests)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the child %d is still there after Stop: %v", p.Pid(), err)
	}
	if _, err := p.CPU(); err == nil {
		t.Fatal("a stopped child answered")
	}
}

func TestBenchProcStartFails(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), "nginx", exe, []string{childArg, "nginx"}, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), `unknown target "nginx"`) {
		t.Fatalf("got %v, want the child's own error", err)
	}
}

func TestBenchOptionsCheck(t *testing.T) {
	good := Options{Targets: []string{TargetCheckAPI, TargetBareHTTP}, Rounds: 3, Duration: time.Second}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	if got, want := good.Planned(), 2*time.Second+3*2*(time.Second+100*time.Millisecond); got != want {
		t.Errorf("planned %s, want %s", got, want)
	}
	for _, o := range []Options{
		{Targets: []string{"nginx"}},
		{Targets: []string{TargetBareGRPC, TargetBareGRPC}},
		{Rounds: -1}, {Rounds: 51}, {Duration: -time.Second}, {Duration: 6 * time.Minute},
		{Concurrency: 1025}, {Origins: 257}, {Credentials: -1},
		{Rounds: 50, Duration: 5 * time.Minute},
	} {
		if err := o.Check(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestBenchReport(t *testing.T) {
	o := Options{Targets: []string{TargetCheckAPI, TargetBareHTTP, TargetExtAuthz}, Rounds: 3}.withDefaults()
	rep := newReport(o)
	res := func(n int64, p50 time.Duration) Result {
		return Result{Requests: n, Elapsed: time.Second, P50: p50, P99: 2 * p50, P999: 3 * p50, Max: 4 * p50}
	}
	for r, k := range []int64{1, 3, 2} {
		rep.add(TargetCheckAPI, Round{Round: r + 1, Result: res(100*k, time.Duration(k)*time.Millisecond), CPU: time.Duration(100*k) * time.Millisecond})
		rep.add(TargetBareHTTP, Round{Round: r + 1, Result: res(1000*k, time.Duration(k)*100*time.Microsecond), CPU: time.Duration(1000*k) * 10 * time.Microsecond})
		rep.add(TargetExtAuthz, Round{Round: r + 1, Result: res(50, time.Millisecond), CPU: 50 * time.Millisecond})
	}
	rep.finish()
	ca := rep.target(TargetCheckAPI)
	if ca.RPS != 200 || ca.P50 != 2*time.Millisecond || ca.P999 != 6*time.Millisecond || ca.CPUPerRequest != time.Millisecond || ca.Requests != 600 {
		t.Errorf("check-api medians: %+v", ca)
	}
	if !ca.HasRatio || ca.RPSRatio != 0.1 || ca.CPURatio != 100 {
		t.Errorf("check-api ratios: %v %v %v", ca.HasRatio, ca.RPSRatio, ca.CPURatio)
	}
	if ext := rep.target(TargetExtAuthz); ext.HasRatio || ext.Baseline != TargetBareGRPC {
		t.Errorf("ext-authz without bare-grpc has a ratio: %+v", ext)
	}
	table := rep.String()
	for _, want := range []string{"check-api", "0.100×", "100.00×", "bare-http", "CPU/req vs base"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var b strings.Builder
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Targets []struct {
			Target   string   `json:"target"`
			CPU      float64  `json:"cpu_per_request_us"`
			RPSRatio *float64 `json:"rps_ratio"`
			Rounds   []any    `json:"rounds"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(b.String()), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Targets) != 3 || j.Targets[0].CPU != 1000 || j.Targets[0].RPSRatio == nil || *j.Targets[0].RPSRatio != 0.1 ||
		j.Targets[2].RPSRatio != nil || len(j.Targets[0].Rounds) != 3 {
		t.Errorf("JSON: %s", b.String())
	}
	if medianOf([]float64{4, 1, 3, 2}) != 2.5 || medianOf(nil) != 0 {
		t.Error("medianOf")
	}
}

func TestBenchEach(t *testing.T) {
	var calls atomic.Int64
	fail, first := Each(context.Background(), 7, 100, func(context.Context) error {
		if calls.Add(1)%10 == 0 {
			return errors.New("tenth")
		}
		return nil
	})
	if calls.Load() != 100 || fail != 10 || first == nil || first.Error() != "tenth" {
		t.Fatalf("%d calls, %d failures, first %v", calls.Load(), fail, first)
	}
}
