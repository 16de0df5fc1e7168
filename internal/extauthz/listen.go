package extauthz

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/keepalive"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/internal/tlscert"
)

// maxMetadataBytes bounds the gRPC metadata (HTTP/2 headers) of one call,
// which is not the HTTP request Envoy describes.
const maxMetadataBytes = 64 << 10

// Listener is the ext_authz gRPC listener, bound and ready to serve.
type Listener struct {
	srv      *grpc.Server
	health   *health.Server
	ln       net.Listener
	shutdown time.Duration
	// cert is grpc.tls's pair, served to each handshake; nil without TLS.
	cert *tlscert.Pair
}

// Listen binds the listener cfg.GRPC describes (its relative TLS file
// paths resolved against cfg's file) and registers the Authorization and
// health services on it. cfg.GRPC.Listen must be set. Changes to the grpc
// section take effect on restart, except a rotated certificate and key,
// which ReloadCertificate reads; Engine.Reload changes the decisions.
func Listen(ctx context.Context, eng provost.Checker, cfg *config.Config, logger *slog.Logger) (*Listener, error) {
	c := cfg.GRPC.WithDefaults()
	if c.Listen == "" {
		return nil, errors.New("extauthz: grpc.listen is not set")
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(c.MaxRecvBytes),
		grpc.MaxConcurrentStreams(uint32(c.MaxConcurrentStreams)),
		grpc.MaxHeaderListSize(maxMetadataBytes),
		grpc.ConnectionTimeout(c.ConnectionTimeout.D()),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: c.Keepalive.Time.D(), Timeout: c.Keepalive.Timeout.D(), MaxConnectionIdle: c.Keepalive.MaxConnectionIdle.D(),
		}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: c.Keepalive.MinTime.D(), PermitWithoutStream: true}),
	}
	l := &Listener{shutdown: c.ShutdownTimeout.D()}
	if c.TLS.Cert != "" {
		l.cert = tlscert.New("extauthz: grpc.tls", cfg.Resolve(c.TLS.Cert), cfg.Resolve(c.TLS.Key))
		if err := l.cert.Reload(); err != nil {
			return nil, err
		}
		tc, err := serverTLS(c.TLS, cfg.Resolve, l.cert.GetCertificate)
		if err != nil {
			return nil, fmt.Errorf("extauthz: grpc.tls: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("extauthz: grpc.listen: %w", err)
	}
	srv := grpc.NewServer(opts...)
	New(eng, logger, WithLimits(Limits{MaxHeaders: c.MaxHeaders, MaxHeaderBytes: c.MaxHeaderBytes})).Register(srv)
	l.srv, l.health, l.ln = srv, RegisterHealth(srv), ln
	return l, nil
}

// ReloadCertificate reads grpc.tls's certificate and key files again and
// serves the pair to new TLS handshakes (a certificate rotated by
// cert-manager or SPIRE); on failure the old pair stays and the error says
// why. Without TLS it does nothing. The client CA and client_names take
// effect on restart.
func (l *Listener) ReloadCertificate() error { return l.cert.Reload() }

// Addr is the bound address (useful with port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve serves until ctx is done, then reports NOT_SERVING, lets
// in-flight calls finish for at most grpc.shutdown_timeout and stops. It
// returns nil after such a shutdown, or the error that stopped serving.
func (l *Listener) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- l.srv.Serve(l.ln) }()
	select {
	case err := <-errc:
		return serveErr(err)
	case <-ctx.Done():
	}
	l.health.Shutdown()
	done := make(chan struct{})
	go func() { l.srv.GracefulStop(); close(done) }()
	t := time.NewTimer(l.shutdown)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		l.srv.Stop()
		<-done
	}
	return serveErr(<-errc)
}

// serveErr drops the error grpc-go gives when it was stopped on purpose.
func serveErr(err error) error {
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("extauthz: serve: %w", err)
}

// Close stops the listener at once, cutting in-flight calls.
func (l *Listener) Close() { l.srv.Stop() }

// serverTLS builds the listener's TLS configuration: TLS 1.2+, the
// certificate get returns at each handshake, and with a client CA a
// verified client certificate, optionally one of ClientNames.
func serverTLS(t config.GRPCTLS, resolve func(string) string, get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get}
	if t.ClientCA == "" {
		return tc, nil
	}
	pool, err := smallfile.CertPool(resolve(t.ClientCA))
	if err != nil {
		return nil, fmt.Errorf("client_ca: %w", err)
	}
	tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	if len(t.ClientNames) > 0 {
		names := slices.Clone(t.ClientNames)
		tc.VerifyConnection = func(cs tls.ConnectionState) error { return callerAllowed(cs, names) }
	}
	return tc, nil
}

// callerAllowed accepts a client certificate naming one of names in a URI
// or DNS SAN.
func callerAllowed(cs tls.ConnectionState, names []string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("extauthz: no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	for _, u := range leaf.URIs {
		if slices.Contains(names, u.String()) {
			return nil
		}
	}
	for _, d := range leaf.DNSNames {
		if slices.Contains(names, d) {
			return nil
		}
	}
	return errors.New("extauthz: the client certificate names no caller in grpc.tls.client_names")
}
