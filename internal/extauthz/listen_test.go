package extauthz

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
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

// writePair writes c as grpc.crt and grpc.key in w's directory.
func writePair(t *testing.T, w *provosttest.T, c tls.Certificate) {
	t.Helper()
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	w.Write("grpc.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Leaf.Raw})))
	w.Write("grpc.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
}

// ReloadCertificate serves a rotated pair to new handshakes and keeps the
// old pair when the new files do not load.
func TestListenReloadCertificate(t *testing.T) {
	w := acme(t, "grpc:\n  listen: 127.0.0.1:0\n  tls: {cert: grpc.crt, key: grpc.key}\n")
	first, firstRoots := provosttest.ServerCert(t)
	writePair(t, w, first)
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
	// served handshakes trusting roots alone and returns the certificate.
	served := func(roots *x509.CertPool) *x509.Certificate {
		t.Helper()
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if !served(firstRoots).Equal(first.Leaf) {
		t.Fatal("the listener does not present the configured certificate")
	}
	second, secondRoots := provosttest.ServerCert(t)
	writePair(t, w, second)
	if err := ln.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
	if !served(secondRoots).Equal(second.Leaf) {
		t.Fatal("after the reload the listener does not present the rotated certificate")
	}
	w.Write("grpc.key", "not a key")
	if err := ln.ReloadCertificate(); err == nil || !strings.Contains(err.Error(), "grpc.tls") {
		t.Fatalf("reload of a broken key: %v, want a grpc.tls error", err)
	}
	if !served(secondRoots).Equal(second.Leaf) {
		t.Fatal("a failed reload replaced the certificate")
	}
	// Without TLS there is nothing to reload.
	_, plain := open(t, loopbackGRPC)
	pl, err := Listen(context.Background(), plain.Engine, plain.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { pl.Close(); pl.ln.Close() }()
	if err := pl.ReloadCertificate(); err != nil {
		t.Fatal(err)
	}
}
