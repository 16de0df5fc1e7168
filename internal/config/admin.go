package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Admin configures the admin API (revocations, reload, status) and the
// Prometheus metrics served on it. It is off unless Listen is set, and when
// on it must be authenticated: by a client certificate verified against
// ClientCA, by a bearer token whose SHA-256 is TokenSHA256, or both (either
// one admits). The section is read at start; changing it needs a restart.
type Admin struct {
	// Listen is the admin listener's host:port; "" (the default) is off.
	// A non-loopback address needs TLS.
	Listen string   `yaml:"listen"`
	TLS    AdminTLS `yaml:"tls"`
	// ClientCA is a PEM file of the CA certificates that issue admin client
	// certificates (mTLS). It needs TLS.
	ClientCA string `yaml:"client_ca"`
	// AllowedClients, when not empty, limits certificate clients to these
	// identities: a SPIFFE ID (spiffe://...) matched against the
	// certificate's URI SANs, or a subject matched against the certificate's
	// Common Name or its whole distinguished name ("CN=ops,O=Acme").
	AllowedClients []string `yaml:"allowed_clients"`
	// TokenSHA256 is the lowercase or uppercase hex SHA-256 of the admin
	// bearer token (`provost admin hash-token`); the token itself is never
	// written in the configuration.
	TokenSHA256 string         `yaml:"token_sha256"`
	RateLimit   AdminRateLimit `yaml:"rate_limit"`
	// ReadonlyTokenSHA256 and ReadonlyClients admit the dashboard's
	// read-only role (ui.go): a token hash and certificate identities
	// (given as AllowedClients are). The admin API itself admits neither.
	ReadonlyTokenSHA256 string   `yaml:"readonly_token_sha256"`
	ReadonlyClients     []string `yaml:"readonly_clients"`
}

// AdminTLS is the admin listener's server certificate.
type AdminTLS struct {
	Cert string `yaml:"cert"` // PEM certificate chain file
	Key  string `yaml:"key"`  // PEM private key file
}

// AdminRateLimit is a token bucket per authenticated client, and one per
// source address for failed authentication attempts (which never spend an
// authenticated client's budget): PerSecond requests a second on average
// (default 10), bursts of up to Burst (default 20).
type AdminRateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Admin rate limit defaults.
const (
	DefaultAdminPerSecond = 10
	DefaultAdminBurst     = 20
)

// Enabled reports whether the admin API is on.
func (c *Admin) Enabled() bool { return c.Listen != "" }

// TLSEnabled reports whether the admin listener serves TLS.
func (c *Admin) TLSEnabled() bool { return c.TLS.Cert != "" }

// Limit returns the rate limit with defaults filled in.
func (c *Admin) Limit() AdminRateLimit {
	l := c.RateLimit
	if l.PerSecond == 0 {
		l.PerSecond = DefaultAdminPerSecond
	}
	if l.Burst == 0 {
		l.Burst = DefaultAdminBurst
	}
	return l
}

// TokenHash returns the decoded TokenSHA256 (nil when unset).
func (c *Admin) TokenHash() []byte {
	b, err := hex.DecodeString(c.TokenSHA256)
	if err != nil || len(b) != 32 {
		return nil
	}
	return b
}

func (c *Admin) check() error {
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return bad("admin.tls", "needs both cert and key")
	}
	if c.TokenSHA256 != "" && c.TokenHash() == nil {
		return bad("admin.token_sha256", "must be 64 hex digits: the SHA-256 from `provost admin hash-token`, never the token itself")
	}
	if c.ClientCA != "" && !c.TLSEnabled() {
		return bad("admin.client_ca", "client certificates need TLS: set admin.tls.cert and admin.tls.key")
	}
	if len(c.AllowedClients) > 0 && c.ClientCA == "" {
		return bad("admin.allowed_clients", "names certificate clients, so admin.client_ca is required")
	}
	for i, id := range c.AllowedClients {
		if err := checkAdminClient(id); err != nil {
			return bad(fmt.Sprintf("admin.allowed_clients[%d]", i), "%v", err)
		}
	}
	if c.RateLimit.PerSecond < 0 || c.RateLimit.PerSecond > 1e6 {
		return bad("admin.rate_limit.per_second", "must be between 0 (default %d) and 1000000", DefaultAdminPerSecond)
	}
	if c.RateLimit.Burst < 0 || c.RateLimit.Burst > 1e6 {
		return bad("admin.rate_limit.burst", "must be between 0 (default %d) and 1000000", DefaultAdminBurst)
	}
	if c.Listen == "" {
		return nil
	}
	loopback, err := adminLoopback(c.Listen)
	if err != nil {
		return bad("admin.listen", "%v", err)
	}
	if c.ClientCA == "" && c.TokenSHA256 == "" {
		return bad("admin.listen", "the admin API must be authenticated: set admin.client_ca (mTLS) or admin.token_sha256 (bearer token)")
	}
	if !loopback && !c.TLSEnabled() {
		return bad("admin.listen", "%s is not a loopback address, so the admin API needs TLS (admin.tls.cert and admin.tls.key)", c.Listen)
	}
	return nil
}

// adminLoopback checks a host:port and reports whether it listens on
// loopback only. An empty host means every interface.
func adminLoopback(listen string) (bool, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("%q is not host:port (for example 127.0.0.1:9443)", listen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return false, fmt.Errorf("%q has no valid port", listen)
	}
	if host == "localhost" {
		return true, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false, nil // a host name: treated as reachable from outside
	}
	return a.Unmap().IsLoopback(), nil
}

func checkAdminClient(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("is empty")
	case len(id) > 2048:
		return fmt.Errorf("is longer than 2048 bytes")
	case strings.HasPrefix(id, "spiffe://"):
		u, err := url.Parse(id)
		if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Port() != "" {
			return fmt.Errorf("%q is not a SPIFFE ID (spiffe://trust-domain/path)", id)
		}
	case strings.Contains(id, "://"):
		return fmt.Errorf("%q: only spiffe:// URIs or certificate subjects are allowed", id)
	}
	return nil
}
