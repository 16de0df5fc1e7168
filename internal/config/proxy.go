package config

import (
	"fmt"
	"net/url"
	"time"
)

// Proxy defaults, used for the fields the file leaves out.
const (
	DefaultProxyListen         = "127.0.0.1:8443"
	DefaultProxyReadHeader     = 10 * time.Second
	DefaultProxyRead           = 60 * time.Second
	DefaultProxyWrite          = 60 * time.Second
	DefaultProxyIdle           = 120 * time.Second
	DefaultProxyUpstreamHeader = 30 * time.Second
	DefaultProxyShutdown       = 15 * time.Second
	DefaultProxyMaxHeaderBytes = 64 << 10
	DefaultProxyMaxBodyBytes   = 32 << 20
	// MaxProxyHeaderBytes is the largest max_header_bytes accepted.
	MaxProxyHeaderBytes = 1 << 20
	// MaxProxyTimeout is the longest timeout accepted.
	MaxProxyTimeout = time.Hour
)

// Proxy configures provost proxy, the reverse proxy in front of an upstream.
// The zero value of a field means its default.
type Proxy struct {
	// Listen is the address the proxy listens on (default 127.0.0.1:8443).
	Listen string `yaml:"listen"`
	// Upstream is the http:// or https:// URL requests are forwarded to:
	// scheme://host[:port] only. The request target is forwarded unchanged,
	// so the hop attestations of earlier hops stay valid. Required to run
	// the proxy, and may be given with --upstream instead.
	Upstream string `yaml:"upstream"`
	// UpstreamCA is a PEM file of CA certificates for an https upstream
	// (default: the system roots).
	UpstreamCA string   `yaml:"upstream_ca"`
	TLS        ProxyTLS `yaml:"tls"`
	// Hop makes this proxy an approved hop: it appends its own signed hop
	// attestation (docs/hop-attestation.md) to Provost-Hop.
	Hop      ProxyHop      `yaml:"hop"`
	Timeouts ProxyTimeouts `yaml:"timeouts"`
	// MaxHeaderBytes bounds the request headers (default 64 KiB, at most 1 MiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body (default 32 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// ProxyTLS is the proxy's own TLS termination (TLS 1.2 or later). Without
// cert and key the proxy speaks plain HTTP.
type ProxyTLS struct {
	Cert string `yaml:"cert"` // PEM certificate chain file
	Key  string `yaml:"key"`  // PEM private key file
	// ClientCA is a PEM file of CAs that client certificates must chain
	// to. Without it, client certificates are requested but only their
	// possession is proven by TLS; Provost verifies SPIFFE identities
	// against trust.spiffe either way.
	ClientCA string `yaml:"client_ca"`
	// ClientAuth is none (default), request or require (ClientAuthNone,
	// ClientAuthRequest, ClientAuthRequire).
	ClientAuth string `yaml:"client_auth"`
}

// ProxyHop names this proxy's hop key. Both fields or neither.
type ProxyHop struct {
	Name string `yaml:"name"` // the name Provost's trust.hops knows the public key by
	Key  string `yaml:"key"`  // PKCS #8 PEM private key file: Ed25519 or P-256
}

// ProxyTimeouts bound each phase of a proxied request.
type ProxyTimeouts struct {
	ReadHeader     Duration `yaml:"read_header"`     // default 10s
	Read           Duration `yaml:"read"`            // whole request, body included; default 60s
	Write          Duration `yaml:"write"`           // until the response is written; default 60s
	Idle           Duration `yaml:"idle"`            // keep-alive; default 120s
	UpstreamHeader Duration `yaml:"upstream_header"` // the upstream's response headers; default 30s
	Shutdown       Duration `yaml:"shutdown"`        // in-flight requests' time to finish on shutdown; default 15s
}

// Enabled reports whether the proxy terminates TLS.
func (t ProxyTLS) Enabled() bool { return t.Cert != "" }

// Enabled reports whether the proxy signs hop attestations.
func (h ProxyHop) Enabled() bool { return h.Name != "" }

func (c *Proxy) check() error { return c.validate(false) }

// validate checks the fields; upstream is required only to run the proxy.
func (c *Proxy) validate(needUpstream bool) error {
	if c.Listen != "" {
		if err := checkListen(c.Listen); err != nil {
			return bad("proxy.listen", "%v", err)
		}
	}
	if c.Upstream == "" && needUpstream {
		return bad("proxy.upstream", "is required (an http:// or https:// URL, or --upstream)")
	}
	if c.Upstream != "" {
		if err := checkUpstream(c.Upstream); err != nil {
			return bad("proxy.upstream", "%v", err)
		}
	}
	if c.UpstreamCA != "" && !isHTTPS(c.Upstream) && c.Upstream != "" {
		return bad("proxy.upstream_ca", "is only used with an https:// upstream")
	}
	if err := c.TLS.check(); err != nil {
		return err
	}
	if (c.Hop.Name == "") != (c.Hop.Key == "") {
		return bad("proxy.hop", "needs both name and key, or neither")
	}
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    Duration
	}{{"read_header", t.ReadHeader}, {"read", t.Read}, {"write", t.Write}, {"idle", t.Idle}, {"upstream_header", t.UpstreamHeader}, {"shutdown", t.Shutdown}} {
		if d.v.D() > MaxProxyTimeout {
			return bad("proxy.timeouts."+d.name, "must be at most %s (got %s)", MaxProxyTimeout, d.v.D())
		}
	}
	if c.MaxHeaderBytes < 0 || c.MaxHeaderBytes > MaxProxyHeaderBytes {
		return bad("proxy.max_header_bytes", "must be between 1 and %d", MaxProxyHeaderBytes)
	}
	if c.MaxBodyBytes < 0 {
		return bad("proxy.max_body_bytes", "must not be negative")
	}
	return nil
}

func (t *ProxyTLS) check() error {
	if (t.Cert == "") != (t.Key == "") {
		return bad("proxy.tls", "needs both cert and key, or neither")
	}
	switch t.ClientAuth {
	case "", ClientAuthNone:
		if t.ClientCA != "" {
			return bad("proxy.tls.client_ca", "is set but client_auth is none; set client_auth: request or require")
		}
	case ClientAuthRequest, ClientAuthRequire:
		if t.Cert == "" {
			return bad("proxy.tls.client_auth", "client certificates need TLS: set proxy.tls.cert and proxy.tls.key")
		}
	default:
		return bad("proxy.tls.client_auth", "must be none, request or require (got %q)", t.ClientAuth)
	}
	return nil
}

func checkUpstream(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("%q must be scheme://host[:port] only: the proxy forwards the request target unchanged", s)
	}
	return nil
}

func isHTTPS(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https"
}

// ProxyConfig returns the proxy section ready to run: checked with the
// upstream required, defaults filled in and relative file paths resolved
// against the configuration file. Call it after overriding fields from
// flags.
func (c *Config) ProxyConfig() (Proxy, error) {
	p := c.Proxy
	if err := p.validate(true); err != nil {
		return Proxy{}, err
	}
	if p.Listen == "" {
		p.Listen = DefaultProxyListen
	}
	t := &p.Timeouts
	for _, d := range []struct {
		v   *Duration
		def time.Duration
	}{{&t.ReadHeader, DefaultProxyReadHeader}, {&t.Read, DefaultProxyRead}, {&t.Write, DefaultProxyWrite}, {&t.Idle, DefaultProxyIdle}, {&t.UpstreamHeader, DefaultProxyUpstreamHeader}, {&t.Shutdown, DefaultProxyShutdown}} {
		if *d.v == 0 {
			*d.v = Duration(d.def)
		}
	}
	if p.MaxHeaderBytes == 0 {
		p.MaxHeaderBytes = DefaultProxyMaxHeaderBytes
	}
	if p.MaxBodyBytes == 0 {
		p.MaxBodyBytes = DefaultProxyMaxBodyBytes
	}
	if p.TLS.ClientAuth == "" {
		p.TLS.ClientAuth = ClientAuthNone
	}
	for _, f := range []*string{&p.UpstreamCA, &p.TLS.Cert, &p.TLS.Key, &p.TLS.ClientCA, &p.Hop.Key} {
		*f = c.Resolve(*f)
	}
	return p, nil
}
