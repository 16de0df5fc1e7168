package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
)

// Server is the proxy's listener: an http.Server with the timeouts, header
// bound and TLS (1.2 or later, optional client certificates) of the proxy
// configuration.
type Server struct {
	srv      *http.Server
	listen   string
	tlsFiles config.ProxyTLS
	useTLS   bool
	tls      atomic.Pointer[tls.Config] // nil without TLS
}

// NewServer returns the server for cfg serving h. It reads the TLS
// certificate, key and client CA files; logger gets the server's own errors
// such as failed TLS handshakes (nil discards them).
func NewServer(cfg config.Proxy, h http.Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := cfg.Timeouts
	s := &Server{listen: cfg.Listen, tlsFiles: cfg.TLS}
	if s.listen == "" {
		s.listen = config.DefaultProxyListen
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(t.ReadHeader, config.DefaultProxyReadHeader),
		ReadTimeout:       orDefault(t.Read, config.DefaultProxyRead),
		WriteTimeout:      orDefault(t.Write, config.DefaultProxyWrite),
		IdleTimeout:       orDefault(t.Idle, config.DefaultProxyIdle),
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if s.srv.MaxHeaderBytes <= 0 {
		s.srv.MaxHeaderBytes = config.DefaultProxyMaxHeaderBytes
	}
	if s.useTLS = cfg.TLS.Enabled(); s.useTLS {
		if err := s.ReloadCertificate(); err != nil {
			return nil, err
		}
		// Each handshake takes the current configuration, so a reload
		// of the certificate (rotated by cert-manager or SPIRE) applies
		// to the next connection.
		s.srv.TLSConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.tls.Load(), nil },
		}
	}
	return s, nil
}

func orDefault(d config.Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d.D()
}

// ReloadCertificate reads the TLS certificate, key and client CA files
// again and uses them for new connections; on failure the old ones stay.
func (s *Server) ReloadCertificate() error {
	if !s.tlsFiles.Enabled() {
		return nil
	}
	c, err := buildTLS(s.tlsFiles)
	if err != nil {
		return err
	}
	s.tls.Store(c)
	return nil
}

func buildTLS(f config.ProxyTLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("proxy: tls certificate: %w", err)
	}
	c := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	var pool *x509.CertPool
	if f.ClientCA != "" {
		if pool, err = smallfile.CertPool(f.ClientCA); err != nil {
			return nil, fmt.Errorf("proxy: tls client_ca: %w", err)
		}
		c.ClientCAs = pool
	}
	// Without a client CA, TLS proves only that the client holds the
	// certificate's key; the engine verifies SPIFFE identities against
	// its trust bundles either way.
	switch f.ClientAuth {
	case "", config.ClientAuthNone:
		c.ClientAuth = tls.NoClientCert
	case config.ClientAuthRequest:
		c.ClientAuth = tls.RequestClientCert
		if pool != nil {
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
	case config.ClientAuthRequire:
		c.ClientAuth = tls.RequireAnyClientCert
		if pool != nil {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		return nil, fmt.Errorf("proxy: tls client_auth %q is not none, request or require", f.ClientAuth)
	}
	return c, nil
}

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return nil, fmt.Errorf("proxy: listen: %w", err)
	}
	return ln, nil
}

// Serve serves on ln until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	var err error
	if s.useTLS {
		err = s.srv.ServeTLS(ln, "", "")
	} else {
		err = s.srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// TLS reports whether the server terminates TLS.
func (s *Server) TLS() bool { return s.useTLS }
