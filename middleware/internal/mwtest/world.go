// Package mwtest builds the test world of the middleware packages: an
// issuer, a SPIFFE CA, a bindings file and a real Engine over a
// configuration written to a temporary directory.
package mwtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

// The world's issuer, audience and trust domain.
const (
	Issuer      = "https://sts.mw.test"
	Audience    = "https://api.mw.test"
	TrustDomain = "mw.test"
	// Workload is the SPIFFE ID the "workload" binding requires.
	Workload = "spiffe://mw.test/svc/orders"
)

// Bindings is the world's bindings file. Loopback is approved for
// svc:ok, svc:bound and svc:workload; svc:remote and svc:vendor are only
// approved from a network no test connection comes from.
const Bindings = `version: 1
mode: enforce
networks:
  loopback: [127.0.0.0/8, "::1/128"]
  faraway: [10.9.0.0/16]
bindings:
  - name: ok
    match: {subject: "svc:ok"}
    require: {networks: [loopback]}
    on_violation: deny
  - name: remote
    match: {subject: "svc:remote"}
    require: {networks: [faraway]}
    on_violation: deny
  - name: vendor
    match: {subject: "svc:vendor"}
    require: {networks: [faraway]}
    on_violation: step_up
  - name: bound
    match: {subject: "svc:bound"}
    require: {possession: dpop, networks: [loopback]}
    on_violation: deny
  - name: workload
    match: {subject: "svc:workload"}
    require: {workloads: ["` + Workload + `"], networks: [loopback]}
    on_violation: deny
`

// Options shape a World.
type Options struct {
	// Origins are the external_origins (DPoP htu); default https://api.mw.test.
	Origins []string
	// Nonces turns DPoP server nonces on.
	Nonces bool
}

// World is one deployment made in a test.
type World struct {
	t      testing.TB
	Dir    string
	issuer *ecdsa.PrivateKey
	CA     *workloadtest.CA
	Eng    *provost.Engine
	App    *app.App
}

// New writes the configuration to a temporary directory and starts a real
// Engine on it, closed when the test ends.
func New(t testing.TB, o Options) *World {
	t.Helper()
	w := &World{t: t, Dir: t.TempDir(), issuer: NewKey(t), CA: workloadtest.NewCA(t, TrustDomain)}
	if len(o.Origins) == 0 {
		o.Origins = []string{Audience}
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: w.issuer.Public(), KeyID: "k1", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	w.write("issuer.jwks.json", string(jwks))
	w.write("bindings.yaml", Bindings)
	caFile := w.CA.WritePEM(t, w.Dir)
	w.write("provost.yaml", `version: 1
data_dir: data
external_origins: [`+strings.Join(o.Origins, ", ")+`]
bindings: bindings.yaml
dpop: {nonces: `+map[bool]string{true: "true", false: "false"}[o.Nonces]+`}
issuers:
  - issuer: `+Issuer+`
    audiences: [`+Audience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  spiffe:
    - {trust_domain: `+TrustDomain+`, x509_bundle: `+caFile+`}
`)
	w.App, err = app.Open(context.Background(), app.Options{ConfigFile: filepath.Join(w.Dir, "provost.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	w.Eng = w.App.Engine
	t.Cleanup(func() { w.App.Close() })
	return w
}

func (w *World) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.Dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// NewKey generates a P-256 key.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Token issues an access token for sub, valid for an hour, with a random
// jti so that every token has its own fingerprint. claims override.
func (w *World) Token(sub string, claims map[string]any) string {
	w.t.Helper()
	now := time.Now()
	c := map[string]any{"iss": Issuer, "aud": Audience, "sub": sub, "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "jti": rand.Text()}
	for k, v := range claims {
		c[k] = v
	}
	return Sign(w.t, w.issuer, "k1", "at+jwt", c, nil)
}

// BoundToken issues a DPoP-bound access token for sub (cnf.jkt of k).
func (w *World) BoundToken(sub string, k *ecdsa.PrivateKey) string {
	w.t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.Token(sub, map[string]any{"cnf": map[string]any{"jkt": base64.RawURLEncoding.EncodeToString(tp)}})
}

// Proof signs a DPoP proof with k for method and htu, bound to token, with
// a fresh jti and, when not empty, the server nonce.
func Proof(t testing.TB, k *ecdsa.PrivateKey, method, htu, token, nonce string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	c := map[string]any{"jti": rand.Text(), "htm": method, "htu": htu, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return Sign(t, k, "", "dpop+jwt", c, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
}

// Sign signs claims as a compact ES256 JWS.
func Sign(t testing.TB, key crypto.Signer, kid, typ string, claims map[string]any, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{ExtraHeaders: extra}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ClientCert returns a TLS client certificate holding an X.509-SVID for id.
func (w *World) ClientCert(id string) tls.Certificate {
	w.t.Helper()
	chain, key := w.CA.IssueSVID(w.t, id)
	c := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// ServerCert makes a self-signed server certificate for 127.0.0.1 and the
// pool that trusts it.
func ServerCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	k := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}, pool
}
