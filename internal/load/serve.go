package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/extauthz"
	"github.com/provost-dev/provost/internal/server"
)

// The control protocol between `provost bench` and one server child, a
// line at a time on the child's standard input and output:
//
//	child:  listening 127.0.0.1:PORT    once, when the server accepts connections
//	parent: cpu
//	child:  cpu USER_NS SYSTEM_NS       the child's own CPU time so far, every thread (getrusage RUSAGE_SELF)
//
// The child serves until its standard input ends (the parent closed it,
// or died) or it is interrupted, then shuts its server down and exits.
// Nothing else is written to standard output: no credential, key or
// configuration ever is.
const (
	lineListening = "listening"
	lineCPU       = "cpu"
	lineError     = "error"
)

// shutdownTimeout bounds a child's graceful shutdown.
const shutdownTimeout = 5 * time.Second

// ServeOptions say which server a child runs.
type ServeOptions struct {
	// Target is one of Targets.
	Target string
	// Config is the configuration file and DataDir the data directory of
	// a Provost target (check-api, forward-auth, ext-authz); the
	// baselines use neither.
	Config  string
	DataDir string
}

// Serve is a server child (`provost bench serve`): it starts the one
// server o names on 127.0.0.1:0, writes its address to out, and answers
// the control lines read from in (see above) until in ends or ctx is done;
// then it shuts the server down. It returns nil after a clean shutdown.
func Serve(ctx context.Context, o ServeOptions, in io.Reader, out io.Writer) error {
	if !known(o.Target) {
		return fmt.Errorf("load: unknown target %q (%s)", o.Target, strings.Join(Targets, ", "))
	}
	if provostTarget(o.Target) && (o.Config == "" || o.DataDir == "") {
		return fmt.Errorf("load: %s needs a configuration file and a data directory", o.Target)
	}
	s, err := startServer(ctx, o)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%s %s\n", lineListening, s.addr); err != nil {
		return errors.Join(err, s.stop())
	}
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return s.stop()
		case err := <-s.errc:
			s.shutdown()
			return errors.Join(fmt.Errorf("load: %s stopped serving: %v", o.Target, err), s.free())
		case l, ok := <-lines:
			if !ok {
				return s.stop()
			}
			var werr error
			switch strings.TrimSpace(l) {
			case lineCPU:
				if user, system, err := selfCPU(); err != nil {
					_, werr = fmt.Fprintf(out, "%s %v\n", lineError, err)
				} else {
					_, werr = fmt.Fprintf(out, "%s %d %d\n", lineCPU, user.Nanoseconds(), system.Nanoseconds())
				}
			default:
				_, werr = fmt.Fprintf(out, "%s unknown command\n", lineError)
			}
			if werr != nil {
				return errors.Join(werr, s.stop())
			}
		}
	}
}

// running is one started server.
type running struct {
	addr string
	// errc receives what stopped the server; until stop is called,
	// anything it receives is an unexpected end.
	errc chan error
	// shutdown makes the server's Serve return (to errc); release frees
	// what it served from.
	shutdown func()
	release  func() error
}

// stop shuts the server down gracefully and waits for it.
func (r *running) stop() error {
	r.shutdown()
	return errors.Join(<-r.errc, r.free())
}

// free releases what the server served from, once it has stopped.
func (r *running) free() error {
	if r.release == nil {
		return nil
	}
	return r.release()
}

func startServer(ctx context.Context, o ServeOptions) (*running, error) {
	r := &running{errc: make(chan error, 1)}
	switch o.Target {
	case TargetBareHTTP:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: BareHandler()}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				r.errc <- err
				return
			}
			r.errc <- nil
		}()
		r.addr = ln.Addr().String()
		r.shutdown = func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if srv.Shutdown(sctx) != nil {
				srv.Close()
			}
		}
		return r, nil
	case TargetBareGRPC:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		g := grpc.NewServer()
		RegisterBareAuthz(g)
		go func() {
			err := g.Serve(ln)
			if errors.Is(err, grpc.ErrServerStopped) {
				err = nil
			}
			r.errc <- err
		}()
		r.addr = ln.Addr().String()
		r.shutdown = func() {
			t := time.AfterFunc(shutdownTimeout, g.Stop)
			g.GracefulStop()
			t.Stop()
		}
		return r, nil
	}
	return startProvost(ctx, o, r)
}

// startProvost opens Provost over o's configuration and data directory, as
// `provost serve` does, and starts the one listener the target needs.
func startProvost(ctx context.Context, o ServeOptions, r *running) (*running, error) {
	cfg, err := config.Load(o.Config)
	if err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, app.Options{ConfigFile: o.Config, DataDir: o.DataDir})
	if err != nil {
		return nil, err
	}
	r.release = a.Close
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.shutdown = cancel
	if o.Target == TargetExtAuthz {
		cfg.GRPC.Listen = "127.0.0.1:0"
		gl, err := extauthz.Listen(ctx, a.Engine, cfg, nil)
		if err != nil {
			cancel()
			return nil, errors.Join(err, a.Close())
		}
		r.addr = gl.Addr().String()
		go func() { r.errc <- gl.Serve(sctx) }()
		return r, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, errors.Join(err, a.Close())
	}
	sc := cfg.ServeConfig()
	sc.Listen = ln.Addr().String()
	srv := server.New(server.ForApp(a), sc, nil)
	r.addr = ln.Addr().String()
	go func() { r.errc <- srv.Serve(sctx, ln) }()
	return r, nil
}
