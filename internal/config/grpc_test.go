package config

import (
	"strings"
	"testing"
	"time"
)

func TestGRPCGood(t *testing.T) {
	cases := []struct {
		name, doc string
		check     func(t *testing.T, g GRPC)
	}{
		{"off by default", "version: 1\n", func(t *testing.T, g GRPC) {
			if g.Listen != "" {
				t.Errorf("Listen = %q, want off", g.Listen)
			}
		}},
		{"loopback without tls", "version: 1\ngrpc:\n  listen: 127.0.0.1:9191\n", func(t *testing.T, g GRPC) {
			d := g.WithDefaults()
			if d.MaxRecvBytes != 1<<20 || d.MaxHeaders != DefaultGRPCMaxHeaders || d.MaxHeaderBytes != DefaultGRPCMaxHeaderBytes {
				t.Errorf("defaults: %+v", d)
			}
			if d.ConnectionTimeout.D() != 10*time.Second || d.Keepalive.Time.D() != 2*time.Minute || d.ShutdownTimeout.D() != 10*time.Second {
				t.Errorf("duration defaults: %+v", d)
			}
		}},
		{"ipv6 loopback", "version: 1\ngrpc:\n  listen: \"[::1]:0\"\n", nil},
		{"localhost", "version: 1\ngrpc:\n  listen: localhost:9191\n", nil},
		{"remote with mtls", `version: 1
grpc:
  listen: 0.0.0.0:9191
  tls: {cert: s.pem, key: s.key, client_ca: envoy-ca.pem, client_names: ["spiffe://acme.test/envoy"]}
  max_recv_bytes: 65536
  max_header_bytes: 32768
  keepalive: {time: 30s, min_time: 5s}
`, func(t *testing.T, g GRPC) {
			d := g.WithDefaults()
			if d.MaxRecvBytes != 65536 || d.MaxHeaderBytes != 32768 || d.Keepalive.Time.D() != 30*time.Second || d.Keepalive.Timeout.D() != 20*time.Second {
				t.Errorf("explicit values lost: %+v", d)
			}
			if d.TLS.ClientNames[0] != "spiffe://acme.test/envoy" {
				t.Errorf("client_names = %v", d.TLS.ClientNames)
			}
		}},
		{"remote plaintext, explicitly insecure", "version: 1\ngrpc:\n  listen: :9191\n  insecure_remote: true\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("p.yaml", []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, cfg.GRPC)
			}
		})
	}
}

func TestGRPCBad(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"not host:port", "  listen: 9191\n", `p.yaml:3: grpc.listen: "9191" is not host:port`},
		{"bad port", "  listen: 127.0.0.1:http\n", `grpc.listen: "127.0.0.1:http": port "http" is not a number`},
		{"port too large", "  listen: 127.0.0.1:70000\n", "is not a number between 0 and 65535"},
		{"remote without client ca", "  listen: 0.0.0.0:9191\n", `p.yaml:3: grpc.listen: "0.0.0.0:9191" is not a loopback address`},
		{"all interfaces without client ca", "  listen: :9191\n  tls: {cert: a, key: b}\n", "grpc.listen: \":9191\" is not a loopback address"},
		{"cert without key", "  listen: 127.0.0.1:9191\n  tls: {cert: a}\n", "p.yaml:4: grpc.tls: needs both cert and key"},
		{"client ca without cert", "  listen: 127.0.0.1:9191\n  tls: {client_ca: ca}\n", "grpc.tls.client_ca: needs grpc.tls.cert"},
		{"client names without ca", "  listen: 127.0.0.1:9191\n  tls: {cert: a, key: b, client_names: [x]}\n", "grpc.tls.client_names: needs grpc.tls.client_ca"},
		{"blank client name", "  listen: 127.0.0.1:9191\n  tls: {cert: a, key: b, client_ca: c, client_names: [\" x\"]}\n", `grpc.tls.client_names[0]: " x" is not a URI or DNS name`},
		{"negative recv", "  listen: 127.0.0.1:9191\n  max_recv_bytes: -1\n", "p.yaml:4: grpc.max_recv_bytes: must be between 1 and"},
		{"huge header count", "  listen: 127.0.0.1:9191\n  max_headers: 100000\n", "grpc.max_headers: must be between 1 and 10000"},
		{"headers above message", "  listen: 127.0.0.1:9191\n  max_recv_bytes: 1000\n  max_header_bytes: 2000\n", "grpc.max_header_bytes: must not exceed grpc.max_recv_bytes"},
		{"tiny keepalive", "  listen: 127.0.0.1:9191\n  keepalive: {time: 10ms}\n", "grpc.keepalive.time: must be at least 1s"},
		{"tiny min_time", "  listen: 127.0.0.1:9191\n  keepalive: {min_time: 1ms}\n", "grpc.keepalive.min_time: must be at least 1s"},
		{"bad duration", "  listen: 127.0.0.1:9191\n  connection_timeout: soon\n", `"soon" is not a duration`},
		{"unknown field", "  listen: 127.0.0.1:9191\n  max_recv: 5\n", "field max_recv not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("version: 1\ngrpc:\n"+c.body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
