package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/proxy"
	"github.com/provost-dev/provost/internal/server"
)

// Options tune a demo run.
type Options struct {
	Out    io.Writer    // the report, for people
	Logger *slog.Logger // Provost's own logs; nil discards them
	Keep   bool         // keep the generated directory and print its path
}

// clock is the demo's time: real time plus an offset the scenarios move, so
// weeks of dormancy take no time at all.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// env is a running demo: the engine behind the check API, forward-auth and
// the proxy, all on loopback.
type env struct {
	world    *World
	clock    *clock
	apiURL   string // check API and forward-auth
	proxyURL string
}

// Run starts Provost on free loopback ports, plays the scenarios as real
// HTTP requests and reports them. It returns how many outcomes differed
// from the expected ones.
func Run(ctx context.Context, o Options) (int, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "provost-demo-")
	if err != nil {
		return 0, err
	}
	if o.Keep {
		fmt.Fprintf(o.Out, "generated deployment kept in %s\n\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e, stop, err := start(ctx, dir, o.Logger)
	if err != nil {
		return 0, err
	}
	defer stop()
	fmt.Fprintf(o.Out, "Provost demo: check API and forward-auth on %s, proxy on %s\n", e.apiURL, e.proxyURL)
	fmt.Fprintf(o.Out, "(issuer, SPIFFE CA, hop and attestor keys made for this run; nothing leaves this machine)\n\n")
	failed := 0
	for i, sc := range scenarios() {
		failed += e.play(ctx, o.Out, i+1, sc)
	}
	if failed == 0 {
		fmt.Fprintf(o.Out, "all %d scenarios decided as expected\n", len(scenarios()))
	} else {
		fmt.Fprintf(o.Out, "%d outcome(s) differed from the expected ones\n", failed)
	}
	return failed, nil
}

// start generates the deployment and starts the engine, the HTTP server, a
// tiny upstream and the proxy in front of it.
func start(ctx context.Context, dir string, logger *slog.Logger) (*env, func(), error) {
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	listen := func() (net.Listener, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			lns = append(lns, l)
		}
		return l, err
	}
	apiLn, err1 := listen()
	proxyLn, err2 := listen()
	upLn, err3 := listen()
	if err := errors.Join(err1, err2, err3); err != nil {
		closeAll()
		return nil, nil, err
	}
	c := &clock{}
	e := &env{clock: c, apiURL: "http://" + apiLn.Addr().String(), proxyURL: "http://" + proxyLn.Addr().String()}
	var err error
	if e.world, err = NewWorld(dir, e.proxyURL, []string{"127.0.0.1"}, Bindings); err != nil {
		closeAll()
		return nil, nil, err
	}
	e.world.Now = c.Now
	eng, err := provost.New(ctx, provost.Options{ConfigFile: e.world.ConfigFile(), Now: c.Now, Logger: logger})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	srv := server.New(eng, config.Serve{}, logger)
	go srv.Serve(ctx, apiLn)
	upstream := &http.Server{Handler: http.HandlerFunc(echoProvost), ReadHeaderTimeout: 5 * time.Second}
	go upstream.Serve(upLn)
	prx, err := proxy.New(eng, config.Proxy{Upstream: "http://" + upLn.Addr().String()}, logger)
	if err != nil {
		closeAll()
		eng.Close()
		return nil, nil, err
	}
	front := &http.Server{Handler: prx, ReadHeaderTimeout: 5 * time.Second}
	go front.Serve(proxyLn)
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		front.Shutdown(sctx)
		upstream.Shutdown(sctx)
		prx.Close()
		closeAll()
		eng.Close()
	}
	return e, stop, nil
}

// echoProvost is the upstream behind the proxy: it answers with the
// identity headers Provost gave the request, so the demo can show them.
func echoProvost(w http.ResponseWriter, r *http.Request) {
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Provost-") {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "hello from the upstream\n")
}
