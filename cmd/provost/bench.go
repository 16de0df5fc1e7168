package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/extauthz"
	"github.com/provost-dev/provost/internal/load"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/server"
)

// benchBindings approves the benchmark's one credential from the
// datacenter network only, so every request runs the full decision.
const benchBindings = `version: 1
networks: {datacenter: [10.40.0.0/16]}
bindings:
  - name: bench
    match: {subject: "svc:bench"}
    require: {networks: [datacenter]}
`

// cmdBench is the load tool: it measures Provost's check API and ext_authz
// server, and a bare Go HTTP server and a bare grpc-go server, with the same
// driver in the same run. All traffic stays on loopback.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("provost bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conc := fs.Int("concurrency", 16, "concurrent workers (1..1024)")
	dur := fs.Duration("duration", 5*time.Second, "how long to drive each target (at most 5m)")
	targets := fs.String("targets", "check-api,bare-http,ext-authz,bare-grpc", "comma-separated targets to measure")
	asJSON := fs.Bool("json", false, "print one JSON result per line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: provost bench [--concurrency N] [--duration D] [--targets LIST] [--json]")
		fmt.Fprintln(stderr, "Starts Provost and two bare baseline servers on loopback and drives each; prints requests/s and p50/p99/p99.9.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *conc < 1 || *conc > 1024 || *dur <= 0 || *dur > 5*time.Minute {
		fmt.Fprintln(stderr, "provost bench: --concurrency must be 1..1024 and --duration at most 5m")
		return exitUsage
	}
	b, err := newBench(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "provost bench:", err)
		return exitFail
	}
	defer b.stop()
	cfg := load.Config{Concurrency: *conc, Duration: *dur}
	code := exitOK
	for _, name := range strings.Split(*targets, ",") {
		op, err := b.op(strings.TrimSpace(name), *conc)
		if err != nil {
			fmt.Fprintln(stderr, "provost bench:", err)
			return exitUsage
		}
		res, err := load.Run(ctx, name, cfg, op)
		if err != nil || res.Failures > 0 {
			fmt.Fprintf(stderr, "provost bench: %s: %v (first failure: %s)\n", name, err, res.FirstError)
			code = exitFail
		}
		if *asJSON {
			j, _ := json.Marshal(map[string]any{"target": res.Name, "concurrency": res.Concurrency, "requests": res.Requests,
				"failures": res.Failures, "rps": res.RPS(), "p50_us": res.P50.Microseconds(), "p99_us": res.P99.Microseconds(),
				"p999_us": res.P999.Microseconds(), "max_us": res.Max.Microseconds()})
			fmt.Fprintf(stdout, "%s\n", j)
		} else {
			fmt.Fprintln(stdout, res)
		}
	}
	return code
}

type bench struct {
	app      *app.App
	dir      string
	checkURL string
	body     []byte
	grpcAddr string
	bareURL  string
	bareGRPC string
	conns    []*grpc.ClientConn
	stops    []func()
	authz    *authv3.CheckRequest
}

func newBench(ctx context.Context) (*bench, error) {
	b := &bench{}
	var err error
	if b.dir, err = os.MkdirTemp("", "provost-bench-"); err != nil {
		return nil, err
	}
	b.stops = append(b.stops, func() { os.RemoveAll(b.dir) })
	w, err := provosttest.NewWorld(b.dir, "https://api.bench.test", []string{"127.0.0.1"}, benchBindings)
	if err != nil {
		b.stop()
		return nil, err
	}
	if b.app, err = app.Open(ctx, app.Options{ConfigFile: w.ConfigFile()}); err != nil {
		b.stop()
		return nil, err
	}
	b.stops = append(b.stops, func() { b.app.Close() })
	tok, err := w.Token("svc:bench", time.Hour, nil)
	if err != nil {
		b.stop()
		return nil, err
	}
	b.body, _ = json.Marshal(map[string]any{"method": "GET", "target": "/v1/data", "authorization": "Bearer " + tok, "peer": "10.40.2.2"})
	b.authz = &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.40.2.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 41000}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: "GET", Path: "/v1/data", Host: "api.bench.test", Scheme: "https",
			Headers: map[string]string{"authorization": "Bearer " + tok}}},
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.stop()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	b.stops = append(b.stops, cancel)
	go server.New(server.ForApp(b.app), config.Serve{}, nil).Serve(sctx, ln)
	b.checkURL = "http://" + ln.Addr().String() + "/v1/check"
	addr, stop, err := load.ServeGRPC(extauthz.New(b.app.Engine, nil).Register)
	if err != nil {
		b.stop()
		return nil, err
	}
	b.grpcAddr = addr
	b.stops = append(b.stops, stop)
	if b.bareURL, stop, err = load.BareHTTP(); err != nil {
		b.stop()
		return nil, err
	}
	b.stops = append(b.stops, stop)
	if b.bareGRPC, stop, err = load.BareGRPC(); err != nil {
		b.stop()
		return nil, err
	}
	b.stops = append(b.stops, stop)
	return b, nil
}

func (b *bench) op(name string, conc int) (load.Op, error) {
	switch name {
	case "check-api":
		return load.HTTPPost(b.checkURL, b.body, "application/json", conc, 200), nil
	case "bare-http":
		return load.HTTPPost(b.bareURL+"/v1/check", b.body, "application/json", conc, 200), nil
	case "ext-authz", "bare-grpc":
		addr := b.grpcAddr
		if name == "bare-grpc" {
			addr = b.bareGRPC
		}
		conn, err := load.DialLoopback(addr)
		if err != nil {
			return nil, err
		}
		b.conns = append(b.conns, conn)
		return load.ExtAuthz(conn, b.authz, code.Code_OK), nil
	}
	return nil, fmt.Errorf("unknown target %q (check-api, bare-http, ext-authz, bare-grpc)", name)
}

func (b *bench) stop() {
	for _, c := range b.conns {
		c.Close()
	}
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
}
