package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Listener and request limits.
const (
	maxBodyBytes      = 64 << 10
	maxHeaderBytes    = 16 << 10
	requestTimeout    = 20 * time.Second
	shutdownGrace     = 5 * time.Second
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
)

// Options configure a Server.
type Options struct {
	// App is the running Provost administered (required): its engine,
	// policy and stores.
	App *app.App
	// Config holds the admin section and resolves its relative paths;
	// nil means the configuration App was opened with.
	Config *config.Config
	// Metrics are served on GET /metrics; nil answers 404 there.
	Metrics *telemetry.Metrics
	// Logger receives one line per admin request and the audit of every
	// change (never a credential); nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Version is shown by GET /v1/status.
	Version string
	// UI, when not nil, is served at UIPath and below (the dashboard, with
	// ui.listener: admin), authenticated by itself rather than by the
	// admin API's guard.
	UI http.Handler
}

// Server is the admin API.
type Server struct {
	app     *app.App
	adm     config.Admin
	tls     *tls.Config
	auth    *authenticator
	metrics *telemetry.Metrics
	log     *slog.Logger
	now     func() time.Time
	version string
	started time.Time
	handler http.Handler

	// failLimit limits the requests that fail authentication, per source
	// address; clientLimit the authenticated ones, per client.
	failLimit   *limiter
	clientLimit *limiter
}

// New checks the admin configuration, loads its certificates and returns
// the Server. It fails when the admin API is off or unauthenticated.
func New(o Options) (*Server, error) {
	if o.App == nil {
		return nil, errors.New("admin: Options.App is required")
	}
	cfg := o.Config
	if cfg == nil {
		cfg = o.App.Config
	}
	s := &Server{app: o.App, adm: cfg.Admin, metrics: o.Metrics, log: o.Logger, now: o.Now, version: o.Version}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if !s.adm.Enabled() {
		return nil, errors.New("admin: the admin API is off (admin.listen is not set)")
	}
	s.auth = &authenticator{tokenHash: s.adm.TokenHash(), certs: s.adm.ClientCA != "", allowed: s.adm.AllowedClients}
	if s.auth.tokenHash == nil && !s.auth.certs {
		return nil, errors.New("admin: the admin API must be authenticated: set admin.client_ca or admin.token_sha256")
	}
	if s.auth.certs && !s.adm.TLSEnabled() {
		return nil, errors.New("admin: admin.client_ca needs admin.tls")
	}
	if s.adm.TLSEnabled() {
		var err error
		if s.tls, err = serverTLS(cfg); err != nil {
			return nil, err
		}
	}
	l := s.adm.Limit()
	s.failLimit = newLimiter(l.PerSecond, l.Burst, s.now)
	s.clientLimit = newLimiter(l.PerSecond, l.Burst, s.now)
	s.started = s.now()
	s.handler = s.routes()
	if o.UI != nil {
		s.handler = s.withUI(o.UI, s.handler)
	}
	return s, nil
}

func serverTLS(cfg *config.Config) (*tls.Config, error) {
	a := cfg.Admin
	cert, err := tls.LoadX509KeyPair(cfg.Resolve(a.TLS.Cert), cfg.Resolve(a.TLS.Key))
	if err != nil {
		return nil, fmt.Errorf("admin: admin.tls: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if a.ClientCA != "" {
		pool, err := smallfile.CertPool(cfg.Resolve(a.ClientCA))
		if err != nil {
			return nil, fmt.Errorf("admin: admin.client_ca: %w", err)
		}
		// IfGiven, not Require: a caller without a certificate may still
		// present a token, and one with neither gets a 401, not a failed
		// handshake. A certificate that is given must verify.
		tc.ClientAuth, tc.ClientCAs = tls.VerifyClientCertIfGiven, pool
	}
	return tc, nil
}

// Handler returns the admin API's handler (authentication included).
func (s *Server) Handler() http.Handler { return s.handler }

// TLSConfig returns the listener's TLS configuration; nil when it serves
// plain HTTP (loopback only).
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Listen opens the configured admin.listen address.
func (s *Server) Listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.adm.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return ln, nil
}

// Serve serves the admin API on ln until ctx is done, then shuts down
// gracefully, letting requests in flight finish for a few seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() {
		if s.tls != nil {
			done <- srv.ServeTLS(ln, "", "")
		} else {
			done <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-done:
		return fmt.Errorf("admin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	if err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}

// ListenAndServe listens on admin.listen and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := s.Listen(ctx)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}
