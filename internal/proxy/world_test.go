package proxy

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
)

// proxyBindings are the bindings the proxies judge with.
const proxyBindings = `version: 1
mode: enforce
bindings:
  - name: payments
    match: {subject: "svc:payments"}
    require:
      workloads: ["spiffe://acme.test/payments/*"]
    on_violation: deny
  - name: helpdesk
    match: {subject: "integration:helpdesk"}
    require: {}
  - name: reports
    match: {subject: "svc:reports"}
    require: {}
`

// judgeBindings are the bindings of the Provost behind the proxies.
const judgeBindings = `version: 1
mode: enforce
bindings:
  - name: helpdesk-via-proxies
    match: {subject: "integration:helpdesk"}
    require:
      proxy_chain: [edge, gw]
    on_violation: deny
`

// world is a deployment made in a test: an issuer, a SPIFFE CA, two hop
// keys (edge: Ed25519, gw: P-256), a server certificate for 127.0.0.1.
type world struct {
	t       testing.TB
	dir     string
	issuer  *ecdsa.PrivateKey
	ca      *workloadtest.CA
	caFile  string
	edge    ed25519.PrivateKey
	gw      *ecdsa.PrivateKey
	srvCert *x509.Certificate
	srvCrt  string // PEM files of the proxies' server certificate
	srvKey  string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir()}
	var err error
	if w.issuer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, w.edge, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if w.gw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	w.ca = workloadtest.NewCA(t, "acme.test")
	w.caFile = w.ca.WritePEM(t, w.dir)
	w.writeJWKS("issuer.jwks.json", "sts-1", w.issuer.Public())
	w.writePub("edge.pem", w.edge.Public())
	w.writePub("gw.pem", w.gw.Public())
	w.writePrivate("edge.pk8.pem", w.edge)
	w.writePrivate("gw.pk8.pem", w.gw)
	w.serverCert()
	return w
}

// engine starts an engine with its own data directory judging with bindings.
func (w *world) engine(name, bindings string) *provost.Engine {
	w.t.Helper()
	w.write(name+"-bindings.yaml", bindings)
	w.write(name+".yaml", `version: 1
data_dir: `+name+`-data
external_origins: [`+wAudience+`]
bindings: `+name+`-bindings.yaml
issuers:
  - issuer: `+wIssuer+`
    audiences: [`+wAudience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  spiffe:
    - trust_domain: acme.test
      x509_bundle: `+w.caFile+`
  hops:
    - {name: edge, public_key: edge.pem}
    - {name: gw, public_key: gw.pem}
`)
	a, err := app.Open(context.Background(), app.Options{ConfigFile: filepath.Join(w.dir, name+".yaml")})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.Close() })
	return a.Engine
}

// settings is a proxy configuration in front of upstream, terminating TLS
// with the world's server certificate; hopName "" makes no hop.
func (w *world) settings(upstream, hopName, clientAuth string) config.Proxy {
	c := config.Proxy{
		Listen:   "127.0.0.1:0",
		Upstream: upstream,
		TLS:      config.ProxyTLS{Cert: w.srvCrt, Key: w.srvKey, ClientAuth: clientAuth},
	}
	if hopName != "" {
		c.Hop = config.ProxyHop{Name: hopName, Key: filepath.Join(w.dir, hopName+".pk8.pem")}
	}
	return c
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProxy runs a proxy for cfg on a loopback port and returns its URL.
func (w *world) startProxy(eng *provost.Engine, cfg config.Proxy, logs io.Writer) string {
	w.t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	p, err := New(eng, cfg, logger)
	if err != nil {
		w.t.Fatal(err)
	}
	srv, err := NewServer(cfg, p, logger)
	if err != nil {
		w.t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	w.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			w.t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			w.t.Errorf("serve: %v", err)
		}
		p.Close()
	})
	scheme := "http"
	if srv.TLS() {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String()
}

// upstream is a real HTTP server that records what reached it.
type upstream struct {
	*httptest.Server
	mu    sync.Mutex
	calls []*http.Request
	judge func(*http.Request) // optional: runs on every request
}

func newUpstream(t testing.TB, judge func(*http.Request)) *upstream {
	u := &upstream{judge: judge}
	u.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if u.judge != nil {
			u.judge(r)
		}
		u.mu.Lock()
		u.calls = append(u.calls, r.Clone(context.Background()))
		u.mu.Unlock()
		rw.Header().Set("X-Upstream", "yes")
		_, _ = io.WriteString(rw, "hello from upstream")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

func (u *upstream) last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.calls) == 0 {
		return nil
	}
	return u.calls[len(u.calls)-1]
}

// client is an HTTPS client trusting the proxies' certificate, presenting
// the SVID chain when given. maxVersion 0 means the default.
func (w *world) client(svid []*x509.Certificate, key crypto.Signer, maxVersion uint16) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(w.srvCert)
	cfg := &tls.Config{RootCAs: roots, MaxVersion: maxVersion}
	if maxVersion != 0 && maxVersion < tls.VersionTLS12 {
		cfg.MinVersion = maxVersion
	}
	if svid != nil {
		raw := make([][]byte, len(svid))
		for i, c := range svid {
			raw[i] = c.Raw
		}
		cfg.Certificates = []tls.Certificate{{Certificate: raw, PrivateKey: key, Leaf: svid[0]}}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	w.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// svidClient presents an SVID for id issued by ca.
func (w *world) svidClient(t testing.TB, ca *workloadtest.CA, id string) *http.Client {
	chain, key := ca.IssueSVID(t, id)
	return w.client(chain, key, 0)
}

// token issues an access token for sub, valid for an hour.
func (w *world) token(sub string, claims map[string]any) string {
	w.t.Helper()
	now := time.Now()
	c := map[string]any{"iss": wIssuer, "aud": wAudience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: w.issuer},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "sts-1"))
	if err != nil {
		w.t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	obj, err := s.Sign(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *world) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) writeJWKS(name, kid string, pub crypto.PublicKey) {
	w.t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Use: "sig"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name, string(b))
}

func (w *world) writePub(name string, pub crypto.PublicKey) {
	w.t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

func (w *world) writePrivate(name string, key crypto.Signer) {
	w.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
}

// serverCert makes a self-signed certificate for 127.0.0.1.
func (w *world) serverCert() {
	w.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "provost proxy test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.srvCert, err = x509.ParseCertificate(der); err != nil {
		w.t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		w.t.Fatal(err)
	}
	w.srvCrt, w.srvKey = filepath.Join(w.dir, "tls.crt"), filepath.Join(w.dir, "tls.key")
	w.write("tls.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	w.write("tls.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
}

func get(t testing.TB, c *http.Client, url, token string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}
