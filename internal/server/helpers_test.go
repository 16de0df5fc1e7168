package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
	wOrigin   = "https://api.acme.test"
	agentID   = "spiffe://acme.test/agents/bot"
)

const worldBindings = `version: 1
mode: enforce
networks:
  datacenter: [10.40.0.0/16]
  partners: [192.0.2.0/24]
detectors:
  concurrent_window: 5m
bindings:
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [datacenter]
  - name: vendor-sync
    match: {subject: "vendor:sync"}
    require:
      networks: [partners]
    on_violation: step_up
  - name: agent
    match: {subject: "agent:bot"}
    require:
      workloads: ["` + agentID + `"]
  - name: export
    match: {subject: "svc:export"}
    require:
      possession: dpop
`

// world is a deployment made in a test: an issuer, a SPIFFE CA, a Provost
// engine whose clock the test moves, and its configuration directory.
type world struct {
	t      testing.TB
	dir    string
	issuer *ecdsa.PrivateKey
	ca     *workloadtest.CA
	eng    *provost.Engine
	app    *app.App
	logs   *syncBuffer

	mu  sync.Mutex
	now time.Time
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), now: time.Now().UTC().Truncate(time.Second), logs: &syncBuffer{}}
	w.issuer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.ca = workloadtest.NewCA(t, "acme.test")
	caFile := w.ca.WritePEM(t, w.dir)
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuer.Public(), KeyID: "sts-1", Use: "sig"}}})
	w.write("issuer.jwks.json", string(b))
	w.write("bindings.yaml", worldBindings)
	w.write("provost.yaml", `version: 1
data_dir: data
external_origins: [`+wOrigin+`]
bindings: bindings.yaml
dpop:
  nonces: true
issuers:
  - issuer: `+wIssuer+`
    audiences: [`+wAudience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  proxies: [127.0.0.1/32]
  spiffe:
    - trust_domain: acme.test
      x509_bundle: `+caFile+`
`)
	w.app = w.open("data")
	w.eng = w.app.Engine
	return w
}

// open opens Provost on the world's configuration with its own data
// directory; it shares the first one's server secret so fingerprints agree.
func (w *world) open(dataDir string) *app.App {
	w.t.Helper()
	dir := filepath.Join(w.dir, dataDir)
	if dataDir != "data" {
		secret, err := os.ReadFile(filepath.Join(w.dir, "data", fingerprint.SecretFile))
		if err != nil {
			w.t.Fatal(err)
		}
		os.MkdirAll(dir, 0o700)
		if err := os.WriteFile(filepath.Join(dir, fingerprint.SecretFile), secret, 0o600); err != nil {
			w.t.Fatal(err)
		}
	}
	a, err := app.Open(context.Background(), app.Options{ConfigFile: filepath.Join(w.dir, "provost.yaml"), DataDir: dir, Now: w.clock})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.Close() })
	return a
}

func (w *world) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// token issues an access token for sub, valid for an hour unless claims
// say otherwise.
func (w *world) token(sub string, claims map[string]any) string {
	w.t.Helper()
	now := w.clock()
	c := map[string]any{"iss": wIssuer, "aud": wAudience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text()}
	for k, v := range claims {
		c[k] = v
	}
	return w.sign(w.issuer, "sts-1", "at+jwt", c, nil)
}

func (w *world) sign(key crypto.Signer, kid, typ string, claims map[string]any, extra map[jose.HeaderKey]any) string {
	w.t.Helper()
	opts := (&jose.SignerOptions{ExtraHeaders: extra}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
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

// dpopProof signs a DPoP proof with k for one request; nonce may be "".
func (w *world) dpopProof(k *ecdsa.PrivateKey, method, target, token, nonce string) string {
	sum := sha256.Sum256([]byte(token))
	claims := map[string]any{
		"jti": rand.Text(), "htm": method, "htu": wOrigin + target, "iat": w.clock().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return w.sign(k, "", "dpop+jwt", claims, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
}

func jkt(t testing.TB, k *ecdsa.PrivateKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// xfcc is the x-forwarded-client-cert value Envoy sends for an SVID.
func (w *world) xfcc(id string) string {
	chain, _ := w.ca.IssueSVID(w.t, id)
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})
	return `By=spiffe://acme.test/envoy;Cert="` + url.PathEscape(string(p)) + `";URI=` + id
}

// running is a Server answering on a real loopback listener.
type running struct {
	srv    *Server
	url    string
	cancel context.CancelFunc
	done   chan error
}

// start serves w's engine on 127.0.0.1:0 until the test ends.
func (w *world) start(cfg config.Serve) *running {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: New(ForApp(w.app), cfg, w.logger()), url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	if cfg.TLS.Cert != "" {
		r.url = "https://" + ln.Addr().String()
	}
	go func() { r.done <- r.srv.Serve(ctx, ln) }()
	w.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop cancels the server's context and returns what Serve returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after shutdown")
		return nil
	}
}

// clientFrom is an HTTP client whose connections come from the local
// address ip (any 127.0.0.0/8 address works on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(b.String())))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("log is not JSON lines: %v", err)
			}
			return out
		}
		out = append(out, m)
	}
}

// testPKI is a CA with a server certificate for 127.0.0.1, written as PEM.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

func newPKI(t testing.TB, dir string) testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test server CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "provost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	p := testPKI{caFile: filepath.Join(dir, "server-ca.pem"), certFile: filepath.Join(dir, "server.pem"), keyFile: filepath.Join(dir, "server.key")}
	for f, b := range map[string]*pem.Block{p.caFile: {Type: "CERTIFICATE", Bytes: caDER}, p.certFile: {Type: "CERTIFICATE", Bytes: der}, p.keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

func x509MarshalKey(k crypto.Signer) ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k) }

func mustListen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
