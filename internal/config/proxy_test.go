package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const proxyDoc = `version: 1
proxy:
  listen: 0.0.0.0:8443
  upstream: https://127.0.0.1:8080
  upstream_ca: tls/upstream-ca.pem
  tls:
    cert: tls/tls.crt
    key: tls/tls.key
    client_ca: tls/spiffe-bundle.pem
    client_auth: require
  hop:
    name: edge
    key: hop/edge.pk8.pem
  timeouts:
    read_header: 5s
    upstream_header: 2s
  max_header_bytes: 32768
`

func TestProxyGood(t *testing.T) {
	c, err := Parse(filepath.Join("etc", "provost.yaml"), []byte(proxyDoc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ProxyConfig()
	if err != nil {
		t.Fatal(err)
	}
	if p.Listen != "0.0.0.0:8443" || p.Upstream != "https://127.0.0.1:8080" || p.TLS.ClientAuth != ClientAuthRequire {
		t.Errorf("fields: %+v", p)
	}
	for got, want := range map[string]string{
		p.UpstreamCA: "etc/tls/upstream-ca.pem", p.TLS.Cert: "etc/tls/tls.crt", p.TLS.Key: "etc/tls/tls.key",
		p.TLS.ClientCA: "etc/tls/spiffe-bundle.pem", p.Hop.Key: "etc/hop/edge.pk8.pem",
	} {
		if got != filepath.FromSlash(want) {
			t.Errorf("resolved path %q, want %q", got, want)
		}
	}
	if p.Timeouts.ReadHeader.D() != 5*time.Second || p.Timeouts.UpstreamHeader.D() != 2*time.Second {
		t.Errorf("timeouts from file: %+v", p.Timeouts)
	}
	if p.Timeouts.Read.D() != DefaultProxyRead || p.Timeouts.Write.D() != DefaultProxyWrite || p.Timeouts.Idle.D() != DefaultProxyIdle || p.Timeouts.Shutdown.D() != DefaultProxyShutdown {
		t.Errorf("default timeouts: %+v", p.Timeouts)
	}
	if p.MaxHeaderBytes != 32768 || p.MaxBodyBytes != DefaultProxyMaxBodyBytes {
		t.Errorf("limits: %d %d", p.MaxHeaderBytes, p.MaxBodyBytes)
	}
	if !p.TLS.Enabled() || !p.Hop.Enabled() {
		t.Error("TLS and hop should be enabled")
	}
}

func TestProxyDefaults(t *testing.T) {
	c, err := Parse("p.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ProxyConfig(); err == nil || !strings.Contains(err.Error(), "proxy.upstream: is required") {
		t.Fatalf("no upstream: err = %v", err)
	}
	c.Proxy.Upstream = "http://127.0.0.1:9000"
	p, err := c.ProxyConfig()
	if err != nil {
		t.Fatal(err)
	}
	if p.Listen != DefaultProxyListen || p.TLS.ClientAuth != ClientAuthNone || p.TLS.Enabled() || p.Hop.Enabled() {
		t.Errorf("defaults: %+v", p)
	}
	if p.Timeouts.ReadHeader.D() != DefaultProxyReadHeader || p.Timeouts.UpstreamHeader.D() != DefaultProxyUpstreamHeader || p.MaxHeaderBytes != DefaultProxyMaxHeaderBytes {
		t.Errorf("defaults: %+v", p)
	}
	if c.Proxy.Listen != "" {
		t.Error("ProxyConfig changed the loaded configuration")
	}
}

func TestProxyBad(t *testing.T) {
	cases := []struct {
		name, from, to, want string
	}{
		{"listen not host:port", "0.0.0.0:8443", "8443", `p.yaml:3: proxy.listen: "8443" is not host:port`},
		{"listen bad port", "0.0.0.0:8443", "0.0.0.0:http", `proxy.listen: port "http" is not a number`},
		{"upstream not http", "https://127.0.0.1:8080", "ftp://127.0.0.1", `p.yaml:4: proxy.upstream: "ftp://127.0.0.1" is not an http:// or https:// URL`},
		{"upstream no host", "https://127.0.0.1:8080", "https://", "is not an http:// or https:// URL"},
		{"upstream with path", "https://127.0.0.1:8080", "https://127.0.0.1:8080/api", "must be scheme://host[:port] only"},
		{"upstream with query", "https://127.0.0.1:8080", "https://127.0.0.1:8080?a=1", "must be scheme://host[:port] only"},
		{"upstream with user", "https://127.0.0.1:8080", "https://u:p@127.0.0.1:8080", "must be scheme://host[:port] only"},
		{"upstream_ca with http", "https://127.0.0.1:8080", "http://127.0.0.1:8080", "p.yaml:5: proxy.upstream_ca: is only used with an https:// upstream"},
		{"tls key without cert", "    cert: tls/tls.crt\n", "", "p.yaml:7: proxy.tls: needs both cert and key"},
		{"client_auth unknown", "client_auth: require", "client_auth: optional", `p.yaml:10: proxy.tls.client_auth: must be none, request or require (got "optional")`},
		{"client_ca without client_auth", "client_auth: require", "client_auth: none", "proxy.tls.client_ca: is set but client_auth is none"},
		{"hop without key", "    key: hop/edge.pk8.pem\n", "", "p.yaml:12: proxy.hop: needs both name and key"},
		{"header bytes too large", "32768", "99999999", "p.yaml:17: proxy.max_header_bytes: must be between 1 and"},
		{"header bytes negative", "32768", "-1", "proxy.max_header_bytes: must be between"},
		{"body bytes negative", "max_header_bytes: 32768", "max_body_bytes: -5", "proxy.max_body_bytes: must not be negative"},
		{"bad timeout", "read_header: 5s", "read_header: soon", `"soon" is not a duration`},
		{"timeout too long", "upstream_header: 2s", "upstream_header: 2h", "p.yaml:16: proxy.timeouts.upstream_header: must be at most 1h0m0s"},
		{"unknown field", "max_header_bytes:", "max_headers:", "field max_headers not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := strings.Replace(proxyDoc, c.from, c.to, 1)
			if doc == proxyDoc {
				t.Fatalf("replacement %q not found", c.from)
			}
			_, err := Parse("p.yaml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestProxyClientAuthNeedsTLS(t *testing.T) {
	doc := "version: 1\nproxy:\n  upstream: http://127.0.0.1:1\n  tls:\n    client_auth: request\n"
	_, err := Parse("p.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:5: proxy.tls.client_auth: client certificates need TLS") {
		t.Fatalf("err = %v", err)
	}
}
