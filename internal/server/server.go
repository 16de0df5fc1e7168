package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/internal/tlscert"
)

// Paths served.
const (
	PathCheck        = "/v1/check"
	PathForwardAuth  = "/v1/forward-auth"
	PathHealthz      = "/healthz"
	PathReadyz       = "/readyz"
	PathSSFEvents    = "/v1/ssf/events"
	PathSSFJWKS      = app.PathSSFJWKS
	PathSSFConfig    = "/.well-known/ssf-configuration"
	HeaderRequestID  = "X-Request-Id"
	maxRequestIDSize = 128
)

// Server answers the check API, forward-auth and health endpoints for one
// Engine. It is safe for concurrent use.
type Server struct {
	deps     Deps
	cfg      config.Serve
	log      *slog.Logger
	stopping atomic.Bool
	ckpt     checkpointCache // GET /v1/log/checkpoint (log.go)
	// cert is serve.tls's certificate and key, served to each handshake
	// and replaced by ReloadCertificate.
	cert *tlscert.Pair
	// untrustedPair is set once forward-auth has warned that a peer not
	// in trust.proxies sent the configured header pair.
	untrustedPair atomic.Bool
}

// Deps are what a Server answers with.
type Deps struct {
	// Checker judges the requests of the check API and forward-auth.
	Checker provost.Checker
	// Policy is the policy in force: whom forward-auth believes, and the
	// bindings digest /readyz names.
	Policy func() *provost.Policy
	// Log is the evidence log /v1/log/... serves (the data directory's, or
	// the one the replicas share in PostgreSQL); nil answers 503.
	Log evidencelog.Reader
	// Ready says whether the stores decisions need answer; /readyz is 503
	// while it returns an error (nil: always ready). The error names the
	// store, never a secret.
	Ready func(context.Context) error
	// SSFEvents receives pushed SETs (RFC 8935) at POST /v1/ssf/events;
	// nil answers 404.
	SSFEvents http.Handler
	// SSFJWKS and SSFConfiguration are the SSF transmitter's public keys
	// (GET /v1/ssf/jwks) and configuration document (GET
	// /.well-known/ssf-configuration); nil answers 404.
	SSFJWKS, SSFConfiguration []byte
	// UI, when not nil, answers /ui and every path below it: the
	// dashboard (internal/dashboard, ui.enabled), a set of web pages kept
	// out of Routes and docs/openapi.yaml, which describe the API.
	UI http.Handler
}

// ForApp is the Deps of a running Provost.
func ForApp(a *app.App) Deps {
	return Deps{Checker: a.Engine, Policy: a.Policy, Log: a.Evidence, Ready: a.Ready,
		SSFEvents: a.SSF.Handler(), SSFJWKS: a.SSF.JWKS, SSFConfiguration: a.SSF.Configuration}
}

// New returns a Server over d. cfg's zero fields take their defaults
// (config.Serve.WithDefaults); a nil logger discards logs.
func New(d Deps, cfg config.Serve, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{deps: d, cfg: cfg.WithDefaults(), log: logger}
	s.cert = tlscert.New("server: serve.tls", s.cfg.TLS.Cert, s.cfg.TLS.Key)
	return s
}

// Handler returns the HTTP handler of every route, for tests and for
// callers that run their own http.Server.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, lets in-flight requests finish within
// the shutdown timeout, and returns. It returns nil after a clean
// shutdown. When TLS is configured, ln is wrapped in TLS 1.2 or later.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout.D(),
		ReadTimeout:       s.cfg.ReadTimeout.D(),
		WriteTimeout:      s.cfg.WriteTimeout.D(),
		IdleTimeout:       s.cfg.IdleTimeout.D(),
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	serve := func() error { return hs.Serve(ln) }
	if s.cfg.TLS.Cert != "" {
		err := s.ReloadCertificate()
		var tc *tls.Config
		if err == nil {
			tc, err = tlsConfig(s.cfg.TLS, s.cert.GetCertificate)
		}
		if err != nil {
			ln.Close()
			return err
		}
		hs.TLSConfig = tc
		serve = func() error { return hs.ServeTLS(ln, "", "") }
	}
	s.stopping.Store(false)
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.stopping.Store(true)
	s.log.LogAttrs(ctx, slog.LevelInfo, "shutting down: finishing in-flight requests",
		slog.String("timeout", s.cfg.ShutdownTimeout.D().String()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout.D())
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		hs.Close()
		return fmt.Errorf("server: shutdown: requests still in flight after %s were cut: %w", s.cfg.ShutdownTimeout.D(), err)
	}
	return nil
}

// ReloadCertificate reads serve.tls's certificate and key files again and
// serves the pair to new TLS handshakes (a certificate rotated by
// cert-manager or SPIRE); on failure the old pair stays and the error says
// why. Serve loads the pair first; without TLS it does nothing. The client
// CA and the other TLS settings take effect on restart.
func (s *Server) ReloadCertificate() error { return s.cert.Reload() }

// tlsConfig builds the listener's TLS configuration: TLS 1.2 or later,
// the certificate get gives at each handshake, and client certificates
// verified against ClientCA when ClientAuth is request or require.
func tlsConfig(c config.ServeTLS, get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*tls.Config, error) {
	var err error
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get}
	switch c.ClientAuth {
	case config.ClientAuthRequest:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case config.ClientAuthRequire:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if tc.ClientAuth != tls.NoClientCert {
		if tc.ClientCAs, err = smallfile.CertPool(c.ClientCA); err != nil {
			return nil, fmt.Errorf("server: serve.tls.client_ca: %w", err)
		}
	}
	return tc, nil
}

// health answers /healthz (alive) and /readyz (ready to judge requests).
func (s *Server) health(w *reply, r *http.Request, ready bool) {
	w.debug = true
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.methodNotAllowed(w, "GET, HEAD")
		return
	}
	status, body := http.StatusOK, `{"status":"ok"}`
	if ready {
		switch {
		case s.stopping.Load():
			status, body = http.StatusServiceUnavailable, `{"status":"shutting_down"}`
		case s.deps.Checker == nil || s.deps.Policy == nil:
			status, body = http.StatusServiceUnavailable, `{"status":"no_engine"}`
		case s.deps.Ready != nil:
			if err := s.deps.Ready(r.Context()); err != nil {
				// The probe is unauthenticated: it names the store; the log
				// has the whole error (paths, driver messages).
				s.log.LogAttrs(r.Context(), slog.LevelError, "not ready", slog.Any("error", err))
				b, _ := json.Marshal(map[string]string{"status": "not_ready", "reason": readyReason(err)})
				status, body = http.StatusServiceUnavailable, string(b)
				break
			}
			fallthrough
		default:
			body = `{"status":"ready","bindings_digest":"` + s.deps.Policy().Digest() + `"}`
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body+"\n")
}

// static answers GET and HEAD with a fixed public document.
func (s *Server) static(w *reply, r *http.Request, contentType string, body []byte) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.methodNotAllowed(w, "GET, HEAD")
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// readyReason is what /readyz says of a readiness error: its first part,
// the store's name ("evidence log", "origin history", "data directory",
// "redis is not answering"), never a path or a driver's message.
func readyReason(err error) string {
	r, _, _ := strings.Cut(err.Error(), ":")
	return r
}
