package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const serveDoc = `version: 1
serve:
  listen: 0.0.0.0:8443
  tls:
    cert: tls/server.pem
    key: tls/server.key
    client_ca: tls/ca.pem
    client_auth: require
  read_header_timeout: 2s
  shutdown_timeout: 30s
  max_body_bytes: 65536
  forward_auth:
    headers: traefik
  request_log: {level: debug, sample: 0.1}
`

func TestServeGood(t *testing.T) {
	c, err := Parse("etc/provost.yaml", []byte(serveDoc))
	if err != nil {
		t.Fatal(err)
	}
	s := c.ServeConfig()
	want := Serve{
		Listen: "0.0.0.0:8443",
		TLS: ServeTLS{Cert: filepath.Join("etc", "tls", "server.pem"), Key: filepath.Join("etc", "tls", "server.key"),
			ClientCA: filepath.Join("etc", "tls", "ca.pem"), ClientAuth: ClientAuthRequire},
		ReadHeaderTimeout: Duration(2 * time.Second),
		ReadTimeout:       Duration(DefaultReadTimeout),
		WriteTimeout:      Duration(DefaultWriteTimeout),
		IdleTimeout:       Duration(DefaultIdleTimeout),
		ShutdownTimeout:   Duration(30 * time.Second),
		MaxBodyBytes:      65536,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		ForwardAuth:       ForwardAuth{Headers: ForwardAuthTraefik},
		RequestLog:        RequestLog{Level: RequestLogDebug, Sample: 0.1},
	}
	if s != want {
		t.Fatalf("ServeConfig =\n%+v\nwant\n%+v", s, want)
	}
}

func TestServeDefaults(t *testing.T) {
	c, err := Parse("p.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.ServeConfig()
	want := Serve{
		Listen:            "127.0.0.1:8080",
		TLS:               ServeTLS{ClientAuth: ClientAuthNone},
		ReadHeaderTimeout: Duration(5 * time.Second),
		ReadTimeout:       Duration(10 * time.Second),
		WriteTimeout:      Duration(10 * time.Second),
		IdleTimeout:       Duration(60 * time.Second),
		ShutdownTimeout:   Duration(15 * time.Second),
		MaxBodyBytes:      256 << 10,
		MaxHeaderBytes:    64 << 10,
		ForwardAuth:       ForwardAuth{Headers: ForwardAuthNginx},
		RequestLog:        RequestLog{Level: RequestLogInfo, Sample: 1},
	}
	if s != want {
		t.Fatalf("defaults =\n%+v\nwant\n%+v", s, want)
	}
	// Defaults are idempotent and never override a set value.
	if s.WithDefaults() != s {
		t.Fatal("WithDefaults is not idempotent")
	}
}

func TestServeBad(t *testing.T) {
	cases := []struct {
		name, section, want string
	}{
		{"listen without port", "  listen: localhost\n", `p.yaml:3: serve.listen: "localhost" is not host:port`},
		{"listen bad port", "  listen: 127.0.0.1:http\n", `p.yaml:3: serve.listen: port "http" is not a number`},
		{"listen port too large", "  listen: 127.0.0.1:70000\n", `serve.listen: port "70000"`},
		{"client auth unknown", "  tls:\n    cert: c\n    key: k\n    client_auth: optional\n", `p.yaml:6: serve.tls.client_auth: must be none, request or require (got "optional")`},
		{"cert without key", "  tls:\n    cert: c\n", "p.yaml:4: serve.tls: needs both cert and key"},
		{"key without cert", "  tls:\n    key: k\n", "serve.tls: needs both cert and key"},
		{"client auth without TLS", "  tls:\n    client_auth: require\n    client_ca: ca\n", "serve.tls: client certificates need TLS"},
		{"require without CA", "  tls:\n    cert: c\n    key: k\n    client_auth: require\n", "p.yaml:4: serve.tls.client_ca: client_auth require needs client_ca"},
		{"request without CA", "  tls:\n    cert: c\n    key: k\n    client_auth: request\n", "serve.tls.client_ca: client_auth request needs client_ca"},
		{"CA without client auth", "  tls:\n    cert: c\n    key: k\n    client_ca: ca\n", "serve.tls.client_auth: client_ca is set but client_auth is none"},
		{"timeout too long", "  read_timeout: 11m\n", "p.yaml:3: serve.read_timeout: must be at most 10m0s"},
		{"shutdown too long", "  shutdown_timeout: 1h\n", "serve.shutdown_timeout: must be at most"},
		{"negative timeout", "  idle_timeout: -1s\n", `"-1s" is not a duration`},
		{"body too small", "  max_body_bytes: 10\n", "p.yaml:3: serve.max_body_bytes: must be between 1024 and 262144"},
		{"body too large", "  max_body_bytes: 1048576\n", "serve.max_body_bytes: must be between"},
		{"negative body", "  max_body_bytes: -1\n", "serve.max_body_bytes: must be between"},
		{"header too small", "  max_header_bytes: 100\n", "p.yaml:3: serve.max_header_bytes: must be between 4096 and 1048576"},
		{"unknown field", "  port: 8080\n", "line 3: field port not found"},
		{"request log level unknown", "  request_log:\n    level: warn\n", `p.yaml:4: serve.request_log.level: must be info, debug or off (got "warn")`},
		{"request log sample above 1", "  request_log:\n    sample: 2\n", "serve.request_log.sample: must be a fraction from 0 to 1, 0 meaning the default 1 (got 2)"},
		{"request log sample negative", "  request_log:\n    sample: -0.5\n", "serve.request_log.sample: must be a fraction"},
		{"forward-auth headers unknown", "  forward_auth:\n    headers: haproxy\n", `p.yaml:4: serve.forward_auth.headers: must be nginx, traefik or envoy (got "haproxy")`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\nserve:\n"+c.section))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
