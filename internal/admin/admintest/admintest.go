// Package admintest builds, for tests, a real Engine with the admin API
// configured: an issuer, a bindings file, a server certificate for
// 127.0.0.1, a client CA with an allowed and a refused client, and an admin
// token, all made in the test's temporary directory.
package admintest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/telemetry"
)

// Names used by the world.
const (
	Issuer      = "https://sts.acme.test"
	Audience    = "https://api.acme.test"
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

// World is an engine with its admin API configured.
type World struct {
	T      testing.TB
	Dir    string
	Engine *provost.Engine
	App    *app.App
	// Token is the raw admin token (its hash is in the configuration).
	Token string
	// ServerCAFile verifies the admin server; ServerPool holds it.
	ServerCAFile string
	ServerPool   *x509.CertPool

	issuer   *ecdsa.PrivateKey
	clientCA *authority
}

// New builds the world.
func New(t testing.TB, o Options) *World {
	t.Helper()
	w := &World{T: t, Dir: t.TempDir()}
	w.issuer = newKey(t)
	w.writeJWKS()
	w.Write("bindings.yaml", Bindings)
	serverCA := newAuthority(t, "admin server CA")
	w.ServerCAFile = w.Write("server-ca.pem", serverCA.certPEM())
	w.ServerPool = x509.NewCertPool()
	w.ServerPool.AddCert(serverCA.cert)
	sc, sk := serverCA.issue(t, leafTemplate{cn: "provost admin", ips: []net.IP{net.IPv4(127, 0, 0, 1)}, server: true})
	w.Write("server.crt", sc)
	w.Write("server.key", sk)
	w.clientCA = newAuthority(t, "admin client CA")
	w.Write("client-ca.pem", w.clientCA.certPEM())
	w.Token = "adm_" + hex.EncodeToString(randomBytes(24))
	sum := sha256.Sum256([]byte(w.Token))
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
  client_ca: client-ca.pem
  allowed_clients: [%q, %q]
  token_sha256: %s
  rate_limit: {per_second: %g, burst: %d}
`, AllowedID, AllowedCN, hex.EncodeToString(sum[:]), o.PerSecond, o.Burst)
	}
	w.Write("provost.yaml", w.Config()+adminYAML)
	a, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.App, w.Engine = a, a.Engine
	return w
}

// Config is the world's configuration without its admin section.
func (w *World) Config() string {
	return `version: 1
data_dir: data
bindings: bindings.yaml
issuers:
  - issuer: ` + Issuer + `
    audiences: [` + Audience + `]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
`
}

// ConfigFile is the configuration's path.
func (w *World) ConfigFile() string { return filepath.Join(w.Dir, "provost.yaml") }

// Write writes a file in the world's directory and returns its path.
func (w *World) Write(name, body string) string {
	w.T.Helper()
	p := filepath.Join(w.Dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		w.T.Fatal(err)
	}
	return p
}

func (w *World) writeJWKS() {
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuer.Public(), KeyID: "sts-1", Use: "sig"}}})
	if err != nil {
		w.T.Fatal(err)
	}
	w.Write("issuer.jwks.json", string(b))
}

// AccessToken issues an access token for sub, valid for an hour; extra
// claims are added.
func (w *World) AccessToken(sub string, extra map[string]any) string {
	w.T.Helper()
	now := time.Now()
	claims := map[string]any{"iss": Issuer, "aud": Audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		claims[k] = v
	}
	opts := (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "sts-1")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.issuer}, opts)
	if err != nil {
		w.T.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		w.T.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		w.T.Fatal(err)
	}
	return out
}

// Request is a request bearing tok from the datacenter.
func (w *World) Request(tok string) *provost.Request {
	return &provost.Request{Method: "GET", Target: "/reports", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(Datacenter)}
}

// Decide checks the request bearing tok and returns the decision.
func (w *World) Decide(tok string) *provost.Decision {
	w.T.Helper()
	d, err := w.Engine.Check(context.Background(), w.Request(tok))
	if err != nil {
		w.T.Fatalf("Check: %v", err)
	}
	return d
}

// ClientCert issues a client certificate from the admin client CA with
// Common Name cn and, when not empty, the URI SAN uri.
func (w *World) ClientCert(cn, uri string) tls.Certificate {
	w.T.Helper()
	c, k := w.clientCA.issue(w.T, leafTemplate{cn: cn, uri: uri})
	cert, err := tls.X509KeyPair([]byte(c), []byte(k))
	if err != nil {
		w.T.Fatal(err)
	}
	return cert
}

// ClientCertFiles writes a client certificate and key (as ClientCert) and
// returns their paths.
func (w *World) ClientCertFiles(name, cn, uri string) (certFile, keyFile string) {
	w.T.Helper()
	c, k := w.clientCA.issue(w.T, leafTemplate{cn: cn, uri: uri})
	return w.Write(name+".crt", c), w.Write(name+".key", k)
}

// ForeignClientCert is a client certificate from a CA the server does not
// trust, naming an allowed identity.
func (w *World) ForeignClientCert() tls.Certificate {
	w.T.Helper()
	c, k := newAuthority(w.T, "foreign CA").issue(w.T, leafTemplate{cn: AllowedCN, uri: AllowedID})
	cert, err := tls.X509KeyPair([]byte(c), []byte(k))
	if err != nil {
		w.T.Fatal(err)
	}
	return cert
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
	w.T.Helper()
	srv, err := admin.New(admin.Options{App: w.App, Metrics: m, Logger: log, Version: "test"})
	if err != nil {
		w.T.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := srv.Listen(ctx)
	if err != nil {
		w.T.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	w.T.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.T.Errorf("admin Serve: %v", err)
		}
	})
	scheme := "http"
	if srv.TLSConfig() != nil {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: ln.Addr().String()}).String()
}

// authority is a test CA.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type leafTemplate struct {
	cn     string
	uri    string
	ips    []net.IP
	server bool
}

func newAuthority(t testing.TB, cn string) *authority {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &authority{cert: cert, key: key}
}

func (a *authority) certPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw}))
}

// issue returns a PEM certificate and PEM key.
func (a *authority) issue(t testing.TB, l leafTemplate) (string, string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: l.cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: l.ips,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if l.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if l.uri != "" {
		u, err := url.Parse(l.uri)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial() *big.Int { return new(big.Int).SetBytes(randomBytes(16)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
