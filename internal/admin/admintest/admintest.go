// Package admintest is the admin API's test fixture: the shared test world
// of internal/provosttest (issuer, CA, clock, Provost opened on its
// embedded stores) with an admin section configured — a TLS listener on
// 127.0.0.1 whose server certificate the world's CA issues, admin client
// certificates verified against that CA with an allowed and a refused
// identity, an admin token, and a rate limit.
package admintest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Names used by the world.
const (
	Issuer      = "https://sts.acme.test"
	Audience    = "https://api.acme.test"
	TrustDomain = "acme.test"
	Subject     = "svc:reports"
	AllowedID   = "spiffe://acme.test/ops/admin"
	AllowedCN   = "ops-admin"
	RefusedCN   = "intruder"
	Datacenter  = "10.40.0.5"
	OutsideAddr = "203.0.113.9"
)

// Bindings is the world's bindings file.
const Bindings = `version: 1
mode: enforce
networks:
  datacenter: [10.40.0.0/16]
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [datacenter]
`

// Options tune the world's admin section.
type Options struct {
	PerSecond float64 // default 1000
	Burst     int     // default 1000
	// AdminYAML replaces the whole admin section when set.
	AdminYAML string
}

// World is a provosttest world with its admin API configured. Its App
// field is Provost opened over the world (it hides provosttest.T's App
// method; w.T.App opens another).
type World struct {
	*provosttest.T
	App    *app.App
	Engine *provost.Engine
	// AdminToken is the raw admin token (its hash is in the configuration).
	AdminToken string
	// ServerCAFile verifies the admin server (the world's CA); ServerPool
	// holds it.
	ServerCAFile string
	ServerPool   *x509.CertPool

	t testing.TB
}

// New builds the world.
func New(t testing.TB, o Options) *World {
	t.Helper()
	tok := make([]byte, 24)
	rand.Read(tok)
	w := &World{t: t, AdminToken: "adm_" + hex.EncodeToString(tok)}
	sum := sha256.Sum256([]byte(w.AdminToken))
	if o.PerSecond == 0 {
		o.PerSecond = 1000
	}
	if o.Burst == 0 {
		o.Burst = 1000
	}
	adminYAML := o.AdminYAML
	if adminYAML == "" {
		adminYAML = fmt.Sprintf(`admin:
  listen: 127.0.0.1:0
  tls: {cert: server.crt, key: server.key}
  client_ca: ca.pem
  allowed_clients: [%q, %q]
  token_sha256: %s
  rate_limit: {per_second: %g, burst: %d}
`, AllowedID, AllowedCN, hex.EncodeToString(sum[:]), o.PerSecond, o.Burst)
	}
	w.T = provosttest.New(t, provosttest.Options{Bindings: Bindings, Config: adminYAML,
		Issuer: Issuer, Audience: Audience, TrustDomain: TrustDomain})
	w.WriteLeaf("server", provosttest.Leaf{CommonName: "provost admin", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	w.ServerCAFile = w.CAFile()
	w.ServerPool = x509.NewCertPool()
	w.ServerPool.AddCert(w.CA())
	w.App = w.T.App("")
	w.Engine = w.App.Engine
	return w
}

// Request is a request bearing tok from the datacenter.
func (w *World) Request(tok string) *provost.Request {
	return &provost.Request{Method: "GET", Target: "/reports", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(Datacenter)}
}

// Decide checks the request bearing tok and returns the decision.
func (w *World) Decide(tok string) *provost.Decision {
	w.t.Helper()
	d, err := w.Engine.Check(context.Background(), w.Request(tok))
	if err != nil {
		w.t.Fatalf("Check: %v", err)
	}
	return d
}

// ClientCert issues a client certificate from the world's CA (the admin
// client CA) with Common Name cn and, when not empty, the URI SAN uri.
func (w *World) ClientCert(cn, uri string) tls.Certificate {
	w.t.Helper()
	return w.MustTLSLeaf(provosttest.Leaf{CommonName: cn, URI: uri})
}

// ClientCertFiles writes a client certificate and key (as ClientCert) and
// returns their paths.
func (w *World) ClientCertFiles(name, cn, uri string) (certFile, keyFile string) {
	w.t.Helper()
	return w.WriteLeaf(name, provosttest.Leaf{CommonName: cn, URI: uri})
}

// ForeignClientCert is a client certificate from a CA the server does not
// trust (another world's), naming an allowed identity.
func (w *World) ForeignClientCert() tls.Certificate {
	w.t.Helper()
	other := provosttest.New(w.t, provosttest.Options{TrustDomain: TrustDomain})
	return other.MustTLSLeaf(provosttest.Leaf{CommonName: AllowedCN, URI: AllowedID})
}

// HTTPClient is a client that trusts the admin server and presents certs.
func (w *World) HTTPClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: w.ServerPool, Certificates: certs},
	}}
}

// Serve starts the admin API on 127.0.0.1 and returns its base URL; it
// stops when the test ends.
func (w *World) Serve(m *telemetry.Metrics, log *slog.Logger) string {
	w.t.Helper()
	srv, err := admin.New(admin.Options{App: w.App, Metrics: m, Logger: log, Version: "test"})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := srv.Listen(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("admin Serve: %v", err)
		}
	})
	scheme := "http"
	if srv.TLSConfig() != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: ln.Addr().String()}).String()
}
