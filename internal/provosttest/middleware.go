package provosttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MustBoundToken is MustToken for a DPoP-bound access token: its cnf.jkt
// names k.
func (w *T) MustBoundToken(sub string, k *ecdsa.PrivateKey) string {
	w.t.Helper()
	return w.MustToken(sub, map[string]any{"cnf": map[string]any{"jkt": w.MustJKT(k)}})
}

// MustDPoPProofURL signs a DPoP proof with k for method and the full URL
// htu (any origin, not only the world's), bound to token, carrying the
// server nonce when it is not empty.
func (w *T) MustDPoPProofURL(k *ecdsa.PrivateKey, method, htu, token, nonce string) string {
	w.t.Helper()
	sum := sha256.Sum256([]byte(token))
	c := map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": w.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}
	if nonce != "" {
		c["nonce"] = nonce
	}
	p, err := sign(k, "", "dpop+jwt", c, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// MustForgedToken is a forgery of MustToken: the same claims under the
// issuer's key id, signed by k instead of the issuer's key.
func (w *T) MustForgedToken(k *ecdsa.PrivateKey, sub string, extra map[string]any) string {
	w.t.Helper()
	now := w.Now()
	c := map[string]any{"iss": w.opts.Issuer, "aud": w.opts.Audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": randomID()}
	for n, v := range extra {
		c[n] = v
	}
	tok, err := sign(k, "sts-1", "at+jwt", c, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return tok
}

// MustClientCert is MustSVID as a TLS client certificate.
func (w *T) MustClientCert(path string) tls.Certificate {
	w.t.Helper()
	c, k := w.MustSVID(path)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

// ServerCert makes a self-signed TLS server certificate for 127.0.0.1
// (outside any world's trust) and the pool that trusts it.
func ServerCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
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

// MiddlewareBindings are the bindings of the middleware tests' world:
// loopback is approved for svc:ok and svc:bound; svc:remote and svc:vendor
// only from a network no test connection comes from.
const MiddlewareBindings = `version: 1
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
`

// Middleware is o with the names of the middleware tests' world (mw.test)
// and MiddlewareBindings followed by extra (more binding items); the
// external origin defaults to the audience.
func Middleware(o Options, extra string) Options {
	o.Issuer, o.Audience, o.TrustDomain = "https://sts.mw.test", "https://api.mw.test", "mw.test"
	o.Bindings = MiddlewareBindings + extra
	if o.Origin == "" {
		o.Origin = o.Audience
	}
	return o
}
