package config

import (
	"strings"
	"testing"
)

const adminHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestAdminGood(t *testing.T) {
	cases := []struct {
		name, section string
		enabled, tls  bool
		perSecond     float64
		burst         int
	}{
		{"off by default", "", false, false, DefaultAdminPerSecond, DefaultAdminBurst},
		{"token on loopback without TLS", "  listen: 127.0.0.1:9443\n  token_sha256: " + adminHash + "\n", true, false, 10, 20},
		{"token on localhost", "  listen: localhost:9443\n  token_sha256: " + strings.ToUpper(adminHash) + "\n", true, false, 10, 20},
		{"token on IPv6 loopback", "  listen: \"[::1]:0\"\n  token_sha256: " + adminHash + "\n", true, false, 10, 20},
		{"mTLS on every interface", "  listen: \":9443\"\n  tls: {cert: a.crt, key: a.key}\n  client_ca: ca.pem\n  allowed_clients: [spiffe://acme.test/ops, CN=ops]\n", true, true, 10, 20},
		{"rate limit", "  listen: 127.0.0.1:1\n  token_sha256: " + adminHash + "\n  rate_limit: {per_second: 0.5, burst: 3}\n", true, false, 0.5, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := "version: 1\n"
			if tc.section != "" {
				doc += "admin:\n" + tc.section
			}
			c, err := Parse("p.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.Admin.Enabled() != tc.enabled || c.Admin.TLSEnabled() != tc.tls {
				t.Errorf("Enabled=%v TLSEnabled=%v", c.Admin.Enabled(), c.Admin.TLSEnabled())
			}
			if l := c.Admin.Limit(); l.PerSecond != tc.perSecond || l.Burst != tc.burst {
				t.Errorf("Limit = %+v", l)
			}
			if c.Admin.TokenSHA256 != "" && len(c.Admin.TokenHash()) != 32 {
				t.Errorf("TokenHash = %x", c.Admin.TokenHash())
			}
		})
	}
}

func TestAdminBad(t *testing.T) {
	cases := []struct {
		name, section, want string
	}{
		{"unauthenticated", "  listen: 127.0.0.1:9443\n", "p.yaml:3: admin.listen: the admin API must be authenticated"},
		{"not loopback without TLS", "  listen: 0.0.0.0:9443\n  token_sha256: " + adminHash + "\n", "admin.listen: 0.0.0.0:9443 is not a loopback address, so the admin API needs TLS"},
		{"all interfaces without TLS", "  listen: \":9443\"\n  token_sha256: " + adminHash + "\n", "is not a loopback address"},
		{"host name without TLS", "  listen: admin.example:9443\n  token_sha256: " + adminHash + "\n", "is not a loopback address"},
		{"no port", "  listen: 127.0.0.1\n  token_sha256: " + adminHash + "\n", "admin.listen: \"127.0.0.1\" is not host:port"},
		{"bad port", "  listen: 127.0.0.1:http2\n  token_sha256: " + adminHash + "\n", "has no valid port"},
		{"raw token", "  listen: 127.0.0.1:1\n  token_sha256: s3cret\n", "admin.token_sha256: must be 64 hex digits"},
		{"short hash", "  token_sha256: " + adminHash[:62] + "\n", "must be 64 hex digits"},
		{"cert without key", "  tls: {cert: a.crt}\n", "admin.tls: needs both cert and key"},
		{"client CA without TLS", "  listen: 127.0.0.1:1\n  client_ca: ca.pem\n", "admin.client_ca: client certificates need TLS"},
		{"allowed clients without CA", "  allowed_clients: [CN=ops]\n", "admin.allowed_clients: names certificate clients"},
		{"bad SPIFFE ID", "  tls: {cert: a, key: b}\n  client_ca: c\n  allowed_clients: [\"spiffe://\"]\n", "admin.allowed_clients[0]: \"spiffe://\" is not a SPIFFE ID"},
		{"other URI", "  tls: {cert: a, key: b}\n  client_ca: c\n  allowed_clients: [CN=x, \"https://x\"]\n", "admin.allowed_clients[1]: \"https://x\": only spiffe://"},
		{"empty client", "  tls: {cert: a, key: b}\n  client_ca: c\n  allowed_clients: [\"\"]\n", "admin.allowed_clients[0]: is empty"},
		{"negative rate", "  rate_limit: {per_second: -1}\n", "admin.rate_limit.per_second: must be between"},
		{"negative burst", "  rate_limit: {burst: -1}\n", "admin.rate_limit.burst: must be between"},
		{"unknown field", "  token: abc\n", "field token not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\nadmin:\n"+tc.section))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(tc.section, "s3cret") && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error repeats the token: %v", err)
			}
		})
	}
}
