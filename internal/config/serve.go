package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Serve configures the listener of `provost serve`: the HTTP check API
// (POST /v1/check), the forward-auth endpoint (/v1/forward-auth) and the
// health endpoints. A zero field takes the default named beside it. These
// settings take effect when the server starts; a reload does not move the
// listener.
type Serve struct {
	// Listen is the host:port to listen on (default 127.0.0.1:8080:
	// loopback only, so nothing is exposed until you say so).
	Listen string   `yaml:"listen"`
	TLS    ServeTLS `yaml:"tls"`
	// Timeouts of the HTTP server (defaults 5s, 10s, 10s, 60s) and the
	// time in-flight requests get to finish on shutdown (default 15s).
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ShutdownTimeout   Duration `yaml:"shutdown_timeout"`
	// MaxBodyBytes bounds a check API body (default and maximum 256 KiB);
	// MaxHeaderBytes bounds the request header (default 64 KiB).
	MaxBodyBytes   int `yaml:"max_body_bytes"`
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// ForwardAuth says how /v1/forward-auth learns the original request.
	ForwardAuth ForwardAuth `yaml:"forward_auth"`
	// RequestLog says which requests get a log line. The evidence log is
	// the record of every decision; the request log need not be.
	RequestLog RequestLog `yaml:"request_log"`
}

// RequestLog configures the one log line per request of `provost serve`.
type RequestLog struct {
	// Level of the line: info (default), debug, or off. A request
	// answered with a 5xx is always logged, at error.
	Level string `yaml:"level"`
	// Sample is the fraction (up to 1; 0 or unset means 1) of the other
	// requests that are logged, chosen at random; level off logs none.
	Sample float64 `yaml:"sample"`
}

// Levels of RequestLog.Level.
const (
	RequestLogInfo  = "info"
	RequestLogDebug = "debug"
	RequestLogOff   = "off"
)

// ForwardAuth configures /v1/forward-auth.
type ForwardAuth struct {
	// Headers names the header pair the trusted proxy describes the
	// original request with: nginx (default: X-Original-Method and
	// X-Original-URI), traefik (X-Forwarded-Method and X-Forwarded-Uri)
	// or envoy (neither: Envoy's HTTP ext_authz calls with the original
	// method and the original path after the /v1/forward-auth prefix).
	// The pair is read only from a peer in trust.proxies.
	Headers string `yaml:"headers"`
}

// Forward-auth header pairs of ForwardAuth.Headers.
const (
	ForwardAuthNginx   = "nginx"
	ForwardAuthTraefik = "traefik"
	ForwardAuthEnvoy   = "envoy"
)

// ServeTLS turns on TLS (1.2 and later only) for the listener.
type ServeTLS struct {
	// Cert and Key are PEM files: the server's certificate chain and key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA is a PEM file of the CAs that client certificates must
	// chain to; ClientAuth is none (default), request (verify a
	// certificate when one is sent) or require.
	ClientCA   string `yaml:"client_ca"`
	ClientAuth string `yaml:"client_auth"`
}

// Client authentication modes of ServeTLS.ClientAuth.
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// Defaults of Serve.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultMaxBodyBytes      = 256 << 10
	DefaultMaxHeaderBytes    = 64 << 10
)

// Bounds of Serve.
const (
	maxServeTimeout     = 10 * time.Minute
	minServeBodyBytes   = 1 << 10
	maxServeBodyBytes   = 256 << 10 // the check request document's own bound
	minServeHeaderBytes = 4 << 10
	maxServeHeaderBytes = 1 << 20
)

// WithDefaults returns s with every zero field set to its default.
func (s Serve) WithDefaults() Serve {
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.TLS.ClientAuth == "" {
		s.TLS.ClientAuth = ClientAuthNone
	}
	if s.ForwardAuth.Headers == "" {
		s.ForwardAuth.Headers = ForwardAuthNginx
	}
	if s.RequestLog.Level == "" {
		s.RequestLog.Level = RequestLogInfo
	}
	if s.RequestLog.Sample == 0 {
		s.RequestLog.Sample = 1
	}
	def := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&s.ReadTimeout, DefaultReadTimeout)
	def(&s.WriteTimeout, DefaultWriteTimeout)
	def(&s.IdleTimeout, DefaultIdleTimeout)
	def(&s.ShutdownTimeout, DefaultShutdownTimeout)
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxHeaderBytes == 0 {
		s.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return s
}

// ServeConfig returns the serve section with defaults applied and its file
// paths resolved against the configuration file's folder.
func (c *Config) ServeConfig() Serve {
	s := c.Serve.WithDefaults()
	s.TLS.Cert = c.Resolve(s.TLS.Cert)
	s.TLS.Key = c.Resolve(s.TLS.Key)
	s.TLS.ClientCA = c.Resolve(s.TLS.ClientCA)
	return s
}

func (s *Serve) check() error {
	if s.Listen != "" {
		if err := checkListen(s.Listen); err != nil {
			return bad("serve.listen", "%v", err)
		}
	}
	if err := s.TLS.check(); err != nil {
		return err
	}
	switch s.ForwardAuth.Headers {
	case "", ForwardAuthNginx, ForwardAuthTraefik, ForwardAuthEnvoy:
	default:
		return bad("serve.forward_auth.headers", "must be nginx, traefik or envoy (got %q)", s.ForwardAuth.Headers)
	}
	switch s.RequestLog.Level {
	case "", RequestLogInfo, RequestLogDebug, RequestLogOff:
	default:
		return bad("serve.request_log.level", "must be info, debug or off (got %q)", s.RequestLog.Level)
	}
	if r := s.RequestLog.Sample; r < 0 || r > 1 || r != r {
		return bad("serve.request_log.sample", "must be a fraction from 0 to 1, 0 meaning the default 1 (got %v)", r)
	}
	for _, t := range []struct {
		name string
		d    Duration
	}{
		{"read_header_timeout", s.ReadHeaderTimeout}, {"read_timeout", s.ReadTimeout},
		{"write_timeout", s.WriteTimeout}, {"idle_timeout", s.IdleTimeout}, {"shutdown_timeout", s.ShutdownTimeout},
	} {
		if t.d.D() > maxServeTimeout {
			return bad("serve."+t.name, "must be at most %s (got %s)", maxServeTimeout, t.d.D())
		}
	}
	if s.MaxBodyBytes != 0 && (s.MaxBodyBytes < minServeBodyBytes || s.MaxBodyBytes > maxServeBodyBytes) {
		return bad("serve.max_body_bytes", "must be between %d and %d (got %d)", minServeBodyBytes, maxServeBodyBytes, s.MaxBodyBytes)
	}
	if s.MaxHeaderBytes != 0 && (s.MaxHeaderBytes < minServeHeaderBytes || s.MaxHeaderBytes > maxServeHeaderBytes) {
		return bad("serve.max_header_bytes", "must be between %d and %d (got %d)", minServeHeaderBytes, maxServeHeaderBytes, s.MaxHeaderBytes)
	}
	return nil
}

func (t *ServeTLS) check() error {
	switch t.ClientAuth {
	case "", ClientAuthNone, ClientAuthRequest, ClientAuthRequire:
	default:
		return bad("serve.tls.client_auth", "must be none, request or require (got %q)", t.ClientAuth)
	}
	if (t.Cert == "") != (t.Key == "") {
		return bad("serve.tls", "needs both cert and key, or neither")
	}
	verify := t.ClientAuth == ClientAuthRequest || t.ClientAuth == ClientAuthRequire
	switch {
	case t.Cert == "" && (t.ClientCA != "" || verify):
		return bad("serve.tls", "client certificates need TLS: set cert and key")
	case verify && t.ClientCA == "":
		return bad("serve.tls.client_ca", "client_auth %s needs client_ca, the CAs client certificates are verified against", t.ClientAuth)
	case !verify && t.ClientCA != "":
		return bad("serve.tls.client_auth", "client_ca is set but client_auth is none: set request or require")
	}
	return nil
}

func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port, e.g. 127.0.0.1:8080 or :8443", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}
