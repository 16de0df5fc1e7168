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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/proxy"
	"github.com/provost-dev/provost/internal/server"
)

// Options tune a demo run.
type Options struct {
	Out    io.Writer    // the report, for people
	Logger *slog.Logger // Provost's own logs; nil discards them
	// Keep keeps the world the demo ran on: configuration, data and its
	// private keys (marked demo-only), in KeepDir ("" = a new temporary
	// folder), and ends by printing the commands to try next.
	Keep    bool
	KeepDir string // must not exist or be empty
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
	world    *provosttest.World
	app      *app.App
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
	var dir string
	var err error
	if o.Keep {
		dir, err = keepDir(o.KeepDir)
	} else {
		dir, err = os.MkdirTemp("", "provost-demo-")
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return 0, err
	}
	if o.Keep {
		fmt.Fprintf(o.Out, "generated deployment kept in %s\n\n", dir)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	e, stop, err := start(ctx, dir, o.Logger)
	if err != nil {
		return 0, err
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
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
	if err := e.verifyEvidence(ctx, o.Out); err != nil {
		fmt.Fprintf(o.Out, "evidence NOT verified: %v\n", err)
		failed++
	}
	if !o.Keep {
		return failed, nil
	}
	stop() // the stores are closed before the world is handed over
	stopped = true
	if err := keep(ctx, dir, e.world, e.proxyURL); err != nil {
		return failed, fmt.Errorf("keeping the demo world in %s: %w", dir, err)
	}
	printNextSteps(o.Out, dir)
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
	if e.world, err = provosttest.NewWorld(dir, e.proxyURL, []string{"127.0.0.1"}, Bindings); err != nil {
		closeAll()
		return nil, nil, err
	}
	e.world.Now = c.Now
	a, err := app.Open(ctx, app.Options{ConfigFile: e.world.ConfigFile(), Now: c.Now, Logger: logger})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	e.app = a
	srv := server.New(server.ForApp(a), config.Serve{}, logger)
	go srv.Serve(ctx, apiLn)
	upstream := &http.Server{Handler: http.HandlerFunc(echoProvost), ReadHeaderTimeout: 5 * time.Second}
	go upstream.Serve(upLn)
	prx, err := proxy.New(a.Engine, config.Proxy{Upstream: "http://" + upLn.Addr().String()}, logger)
	if err != nil {
		closeAll()
		a.Close()
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
		a.Close()
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

// verifyEvidence ends the demo: it verifies the whole evidence log, then
// fetches the receipt of the last decision and the log's key over the API
// and verifies the receipt with that key alone, as a third party would.
func (e *env) verifyEvidence(ctx context.Context, w io.Writer) error {
	l := e.app.Evidence
	// The demo's configuration keeps the log in its data directory; a
	// shared log in PostgreSQL has no whole-log Verify, only the receipts
	// checked below.
	local, ok := l.(*evidencelog.Log)
	if !ok {
		return fmt.Errorf("the demo verifies an evidence log in its data directory, not a %T", l)
	}
	if err := local.Verify(ctx, nil); err != nil {
		return err
	}
	n := l.Size()
	if n == 0 {
		return errors.New("the evidence log is empty")
	}
	fmt.Fprintf(w, "\nevidence log: %d records verified\n", n)
	key, err := apiGet(ctx, e.apiURL+server.PathLogKey)
	if err != nil {
		return err
	}
	i := n - 1
	body, err := apiGet(ctx, e.apiURL+server.PathLogReceipt+"?index="+strconv.FormatInt(i, 10))
	if err != nil {
		return err
	}
	rc, err := evidencelog.ParseReceipt(body)
	if err == nil {
		err = evidencelog.VerifyReceipt(rc, strings.TrimSpace(string(key)))
	}
	if err != nil {
		return fmt.Errorf("receipt of record %d: %w", i, err)
	}
	if rc.Index != i {
		return fmt.Errorf("asked for the receipt of record %d, got %d", i, rc.Index)
	}
	fmt.Fprintf(w, "receipt for request #%d verified with the log's key alone\n", i)
	return nil
}

// apiGet fetches one small document from the demo's server.
func apiGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client("").Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, evidencelog.MaxReceiptSize))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b, nil
}
