package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Defaults of the grpc section.
const (
	DefaultGRPCMaxRecvBytes         = 1 << 20
	DefaultGRPCMaxHeaders           = 200
	DefaultGRPCMaxHeaderBytes       = 96 << 10
	DefaultGRPCMaxConcurrentStreams = 1024
	DefaultGRPCConnectionTimeout    = 10 * time.Second
	DefaultGRPCKeepaliveTime        = 2 * time.Minute
	DefaultGRPCKeepaliveTimeout     = 20 * time.Second
	DefaultGRPCKeepaliveMinTime     = 10 * time.Second
	DefaultGRPCMaxConnectionIdle    = 15 * time.Minute
	DefaultGRPCShutdownTimeout      = 10 * time.Second
)

// GRPC configures the Envoy ext_authz gRPC listener
// (envoy.service.auth.v3.Authorization). It is off unless Listen is set.
//
// The caller of this listener (Envoy) is trusted to report the downstream
// peer address and client certificate honestly, so only Envoy may reach
// it: listen on loopback (Envoy as a sidecar), or require Envoy's client
// certificate with tls.client_ca (and tls.client_names). A non-loopback
// address without client_ca is refused unless insecure_remote is true.
type GRPC struct {
	// Listen is host:port, e.g. "127.0.0.1:9191"; "" turns the listener off.
	Listen string `yaml:"listen"`
	// TLS serves TLS (1.2+) and, with client_ca, requires Envoy's client
	// certificate.
	TLS GRPCTLS `yaml:"tls"`
	// InsecureRemote allows a non-loopback listen address without client
	// certificates: only behind a network policy that lets Envoy alone in.
	InsecureRemote bool `yaml:"insecure_remote"`
	// MaxRecvBytes bounds one CheckRequest message (default 1 MiB).
	MaxRecvBytes int `yaml:"max_recv_bytes"`
	// MaxHeaders and MaxHeaderBytes bound the HTTP headers Envoy reports
	// (default 200 headers, 96 KiB of names and values); more is denied
	// with 431.
	MaxHeaders     int `yaml:"max_headers"`
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxConcurrentStreams bounds the concurrent Check calls on one
	// connection (default 1024).
	MaxConcurrentStreams int `yaml:"max_concurrent_streams"`
	// ConnectionTimeout bounds a new connection's TLS and HTTP/2 handshake
	// (default 10s).
	ConnectionTimeout Duration      `yaml:"connection_timeout"`
	Keepalive         GRPCKeepalive `yaml:"keepalive"`
	// ShutdownTimeout bounds the wait for in-flight calls on shutdown
	// (default 10s); calls still running then are cut.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// GRPCTLS is the TLS of the gRPC listener.
type GRPCTLS struct {
	// Cert and Key are PEM files (the server certificate chain and its key).
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA is a PEM file of the CAs that issue Envoy's client
	// certificate; when set, a client certificate is required.
	ClientCA string `yaml:"client_ca"`
	// ClientNames, when set, are the only callers accepted: each is
	// matched exactly against the client certificate's URI SANs (e.g. a
	// SPIFFE ID) and DNS SANs. Set it when client_ca also issues
	// certificates to others (a SPIFFE CA does): any holder of such a
	// certificate could otherwise report a forged peer to Provost.
	ClientNames []string `yaml:"client_names"`
}

// GRPCKeepalive tunes HTTP/2 keepalive of the gRPC listener.
type GRPCKeepalive struct {
	// Time is the idle time after which the server pings (default 2m);
	// Timeout is how long it waits for the answer (default 20s).
	Time    Duration `yaml:"time"`
	Timeout Duration `yaml:"timeout"`
	// MinTime is the shortest client ping interval tolerated (default 10s).
	MinTime Duration `yaml:"min_time"`
	// MaxConnectionIdle closes connections idle that long (default 15m).
	MaxConnectionIdle Duration `yaml:"max_connection_idle"`
}

// WithDefaults returns c with every unset value at its default.
func (c GRPC) WithDefaults() GRPC {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *Duration, d time.Duration) {
		if *v == 0 {
			*v = Duration(d)
		}
	}
	def(&c.MaxRecvBytes, DefaultGRPCMaxRecvBytes)
	def(&c.MaxHeaders, DefaultGRPCMaxHeaders)
	def(&c.MaxHeaderBytes, DefaultGRPCMaxHeaderBytes)
	def(&c.MaxConcurrentStreams, DefaultGRPCMaxConcurrentStreams)
	defD(&c.ConnectionTimeout, DefaultGRPCConnectionTimeout)
	defD(&c.Keepalive.Time, DefaultGRPCKeepaliveTime)
	defD(&c.Keepalive.Timeout, DefaultGRPCKeepaliveTimeout)
	defD(&c.Keepalive.MinTime, DefaultGRPCKeepaliveMinTime)
	defD(&c.Keepalive.MaxConnectionIdle, DefaultGRPCMaxConnectionIdle)
	defD(&c.ShutdownTimeout, DefaultGRPCShutdownTimeout)
	return c
}

func (c *GRPC) check() error {
	if c.Listen == "" {
		return nil
	}
	host, err := grpcListenHost(c.Listen)
	if err != nil {
		return bad("grpc.listen", "%v", err)
	}
	if err := c.TLS.check(); err != nil {
		return err
	}
	if !grpcLoopback(host) && c.TLS.ClientCA == "" && !c.InsecureRemote {
		return bad("grpc.listen", "%q is not a loopback address: require Envoy's client certificate with grpc.tls.client_ca, "+
			"or set grpc.insecure_remote: true if a network policy lets Envoy alone reach it (the caller is trusted to report the peer)", c.Listen)
	}
	for _, f := range []struct {
		name     string
		v, max   int
		unitName string
	}{
		{"grpc.max_recv_bytes", c.MaxRecvBytes, 64 << 20, "bytes"},
		{"grpc.max_headers", c.MaxHeaders, 10000, "headers"},
		{"grpc.max_header_bytes", c.MaxHeaderBytes, 16 << 20, "bytes"},
		{"grpc.max_concurrent_streams", c.MaxConcurrentStreams, 1 << 20, "streams"},
	} {
		if f.v < 0 || f.v > f.max {
			return bad(f.name, "must be between 1 and %d %s (0 means the default)", f.max, f.unitName)
		}
	}
	if c.MaxHeaderBytes > 0 && c.MaxRecvBytes > 0 && c.MaxHeaderBytes > c.MaxRecvBytes {
		return bad("grpc.max_header_bytes", "must not exceed grpc.max_recv_bytes (%d)", c.MaxRecvBytes)
	}
	if c.Keepalive.Time > 0 && c.Keepalive.Time.D() < time.Second {
		return bad("grpc.keepalive.time", "must be at least 1s")
	}
	if c.Keepalive.MinTime > 0 && c.Keepalive.MinTime.D() < time.Second {
		return bad("grpc.keepalive.min_time", "must be at least 1s")
	}
	return nil
}

func (t *GRPCTLS) check() error {
	if (t.Cert == "") != (t.Key == "") {
		return bad("grpc.tls", "needs both cert and key")
	}
	if t.ClientCA != "" && t.Cert == "" {
		return bad("grpc.tls.client_ca", "needs grpc.tls.cert and grpc.tls.key: client certificates need TLS")
	}
	if len(t.ClientNames) > 0 && t.ClientCA == "" {
		return bad("grpc.tls.client_names", "needs grpc.tls.client_ca")
	}
	for i, n := range t.ClientNames {
		if n == "" || strings.TrimSpace(n) != n {
			return bad(fmt.Sprintf("grpc.tls.client_names[%d]", i), "%q is not a URI or DNS name", n)
		}
	}
	return nil
}

// grpcListenHost checks a host:port listen address and returns its host.
func grpcListenHost(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%q is not host:port, e.g. 127.0.0.1:9191", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number between 0 and 65535", s, port)
	}
	return host, nil
}

// grpcLoopback reports whether host names only this machine.
func grpcLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
