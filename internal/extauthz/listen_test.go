package extauthz

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/provost-dev/provost/internal/provosttest"
)

// The listener with mTLS accepts only Envoy's certificate (client_ca and
// client_names), only TLS 1.2+, and reports its health.
func TestListenMTLS(t *testing.T) {
	// The SPIFFE CA also issues Envoy's certificate: client_names narrows it.
	w := acme(t, `grpc:
  listen: 0.0.0.0:0
  tls:
    cert: grpc.crt
    key: grpc.key
    client_ca: ca.pem
    client_names: ["spiffe://acme.test/envoy"]
`)
	srvCert, roots := provosttest.ServerCert(t)
	kder, err := x509.MarshalPKCS8PrivateKey(srvCert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	w.Write("grpc.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvCert.Leaf.Raw})))
	w.Write("grpc.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	a := w.App("")
	ln, err := Listen(context.Background(), a.Engine, a.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ln.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	target := "127.0.0.1:" + port
	envoy, envoyKey := svid(w, "/envoy")
	other, otherKey := svid(w, "/payments/api")
	tlsWith := func(chain []*x509.Certificate, key crypto.Signer, maxVersion uint16) *tls.Config {
		c := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
		if maxVersion != 0 {
			c.MinVersion = tls.VersionTLS10
		}
		if chain != nil {
			c.Certificates = []tls.Certificate{{Certificate: [][]byte{chain[0].Raw}, PrivateKey: key, Leaf: chain[0]}}
		}
		return c
	}
	cases := []struct {
		name string
		tls  *tls.Config
		ok   bool
	}{
		{"envoy's certificate", tlsWith(envoy, envoyKey, 0), true},
		{"another workload of the same CA", tlsWith(other, otherKey, 0), false},
		{"no client certificate", tlsWith(nil, nil, 0), false},
		{"TLS 1.1", tlsWith(envoy, envoyKey, tls.VersionTLS11), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(credentials.NewTLS(c.tls)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: authv3.Authorization_ServiceDesc.ServiceName})
			if c.ok != (err == nil) {
				t.Fatalf("health check err = %v, want success %v", err, c.ok)
			}
			if c.ok && h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health = %s", h.GetStatus())
			}
			if !c.ok {
				return
			}
			resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, envoyReq{src: "10.40.1.5",
				headers: map[string]string{"authorization": "Bearer " + token(w, "svc:reports", 0)}}.check())
			if err != nil || resp.GetOkResponse() == nil {
				t.Fatalf("Check over mTLS: %v %v", resp.GetStatus(), err)
			}
		})
	}
}

func TestListenErrors(t *testing.T) {
	_, a := open(t, "")
	if _, err := Listen(context.Background(), a.Engine, a.Config, nil); err == nil {
		t.Error("Listen without grpc.listen succeeded")
	}
	_, a2 := open(t, "grpc:\n  listen: 127.0.0.1:0\n  tls: {cert: missing.crt, key: missing.key}\n")
	if _, err := Listen(context.Background(), a2.Engine, a2.Config, nil); err == nil {
		t.Error("Listen with missing TLS files succeeded")
	}
	// Serve returns once its context ends, even with nothing in flight.
	_, a3 := open(t, loopbackGRPC)
	ln, err := Listen(context.Background(), a3.Engine, a3.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ln.Serve(ctx); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts connections after shutdown")
	}
}
