// Package provosttest is the one world every test of Provost, the demo and
// the load tool build on: a complete, self-contained deployment generated
// in a directory — an issuer, a SPIFFE CA, approved proxies with hop keys,
// a posture attestor, a configuration and a bindings file — and the
// credentials, proofs, attestations and SVIDs a client of it presents.
// Every key is made fresh and never leaves the directory.
//
// NewWorld builds one for any program; New builds one for a test and opens
// Provost over it: App (the embedded stores on disk, as `provost serve`
// runs) or Engine (the policy parsed from the directory and in-memory
// stores).
package provosttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/hop"
)

// Default names of a world.
const (
	Issuer      = "https://sts.demo.provost.test"
	Audience    = "https://api.demo.provost.test"
	TrustDomain = "demo.provost.test"
	AttestorIss = "https://attestor.demo.provost.test"
)

// Options shape a world; every zero field takes the default named beside it.
type Options struct {
	// Origin is the external origin clients reach the API at: DPoP
	// proofs name it (default https://api.demo.provost.test).
	Origin string
	// Proxies are the addresses of trusted proxies (default none).
	Proxies []string
	// Bindings is the bindings file (default: none configured).
	Bindings string
	// Config is appended to the generated provost.yaml: more top-level
	// sections (grpc:, admin:, dpop:, evidence:, serve:, ...).
	Config string
	// Hops name the approved proxies that get hop keys (default edge, gw):
	// Ed25519 keys (EdDSA), or P-256 keys (ES256) for those in P256Hops.
	Hops     []string
	P256Hops []string
	// Issuer, Audience, TrustDomain and AttestorIss name the deployment
	// (defaults: the constants of this package).
	Issuer, Audience, TrustDomain, AttestorIss string
}

func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.Origin, Audience)
	def(&o.Issuer, Issuer)
	def(&o.Audience, Audience)
	def(&o.TrustDomain, TrustDomain)
	def(&o.AttestorIss, AttestorIss)
	if len(o.Hops) == 0 {
		o.Hops = []string{"edge", "gw"}
	}
	return o
}

// World is one generated deployment.
type World struct {
	Dir    string
	Origin string // the external origin DPoP proofs name, e.g. http://127.0.0.1:PORT
	// Now is the clock credentials are minted by (default time.Now); the
	// demo moves it to play weeks in seconds.
	Now  func() time.Time
	opts Options

	issuer   *ecdsa.PrivateKey
	attestor *ecdsa.PrivateKey
	caKey    *ecdsa.PrivateKey
	ca       *x509.Certificate
	hops     map[string]crypto.Signer

	mu     sync.Mutex
	serial int64
}

// ConfigFile is the path of the generated provost.yaml.
func (w *World) ConfigFile() string { return filepath.Join(w.Dir, "provost.yaml") }

// HopKey returns the private key of an approved proxy ("edge" or "gw").
func (w *World) HopKey(name string) crypto.Signer { return w.hops[name] }

// NewWorld generates keys and writes the configuration into dir. origin is
// the external origin clients reach the API at (for DPoP); proxies are the
// addresses of trusted proxies.
func NewWorld(dir, origin string, proxies []string, bindings string) (*World, error) {
	return Build(dir, Options{Origin: origin, Proxies: proxies, Bindings: bindings})
}

// Build generates keys and writes the configuration o describes into dir.
func Build(dir string, o Options) (*World, error) {
	o = o.withDefaults()
	w := &World{Dir: dir, Origin: o.Origin, Now: time.Now, opts: o, hops: map[string]crypto.Signer{}}
	var err error
	if w.issuer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if w.attestor, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if w.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if w.ca, err = w.makeCA(); err != nil {
		return nil, err
	}
	for _, n := range o.Hops {
		if slices.Contains(o.P256Hops, n) {
			if w.hops[n], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
				return nil, err
			}
			continue
		}
		if _, w.hops[n], err = ed25519.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	return w, w.writeFiles()
}

func (w *World) writeFiles() error {
	o := w.opts
	files := map[string][]byte{
		"ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.ca.Raw}),
	}
	bindings := ""
	if o.Bindings != "" {
		files["bindings.yaml"] = []byte(o.Bindings)
		bindings = "bindings: bindings.yaml\n"
	}
	hops := ""
	for _, n := range o.Hops {
		hops += fmt.Sprintf("    - {name: %s, public_key: hop-%s.pem}\n", n, n)
	}
	var err error
	if files["issuer.jwks.json"], err = jwks("sts-1", w.issuer.Public()); err != nil {
		return err
	}
	if files["attestor.jwks.json"], err = jwks("att-1", w.attestor.Public()); err != nil {
		return err
	}
	for n, k := range w.hops {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return err
		}
		files["hop-"+n+".pem"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	proxyList, _ := json.Marshal(o.Proxies)
	if o.Proxies == nil {
		proxyList = []byte("[]")
	}
	files["provost.yaml"] = []byte(fmt.Sprintf(`version: 1
data_dir: data
external_origins: [%s]
%sissuers:
  - issuer: %s
    audiences: [%s]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  proxies: %s
  spiffe:
    - {trust_domain: %s, x509_bundle: ca.pem}
  hops:
%s  attestors:
    - {name: hostguard, issuer: %s, jwks_file: attestor.jwks.json}
`, w.Origin, bindings, o.Issuer, o.Audience, proxyList, o.TrustDomain, hops, o.AttestorIss) + o.Config)
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(w.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func jwks(kid string, pub crypto.PublicKey) ([]byte, error) {
	return json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Use: "sig", Algorithm: "ES256"}}})
}

func (w *World) makeCA() (*x509.Certificate, error) {
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "demo SPIFFE CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:     []*url.URL{{Scheme: "spiffe", Host: w.opts.TrustDomain}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, w.caKey.Public(), w.caKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// SVID issues an X.509-SVID for a path in the demo trust domain; it returns
// the certificate and its private key.
func (w *World) SVID(path string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	w.mu.Lock()
	w.serial++
	serial := w.serial + 1
	w.mu.Unlock()
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs: []*url.URL{{Scheme: "spiffe", Host: w.opts.TrustDomain, Path: path}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.ca, k.Public(), w.caKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

// CA is the demo SPIFFE CA certificate.
func (w *World) CA() *x509.Certificate { return w.ca }

// Token issues an access token for sub, valid for ttl from now, with extra claims.
func (w *World) Token(sub string, ttl time.Duration, extra map[string]any) (string, error) {
	now := w.Now()
	c := map[string]any{"iss": w.opts.Issuer, "aud": w.opts.Audience, "sub": sub, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randomID()}
	for k, v := range extra {
		c[k] = v
	}
	return sign(w.issuer, "sts-1", "at+jwt", c, nil)
}

// Posture signs a fresh posture attestation bound to token, the raw
// credential it will be presented with, and to w.Origin.
func (w *World) Posture(host, runner, token string) (string, error) {
	return w.SignPosture(w.PostureClaims(host, runner, token))
}

// PostureClaims are the claims Posture signs: a fresh attestation for
// w.Origin ("aud") bound to token ("cred", hop.CredentialDigest). Tests
// change them to build wrong or old attestations.
func (w *World) PostureClaims(host, runner, token string) map[string]any {
	return map[string]any{"iss": w.opts.AttestorIss, "sub": host, "aud": w.Origin, "iat": w.Now().Unix(),
		"cred": hop.CredentialDigest(token), "host_id": host, "runner_type": runner, "os": "linux"}
}

// SignPosture signs claims as the world's attestor.
func (w *World) SignPosture(claims map[string]any) (string, error) {
	return sign(w.attestor, "att-1", "posture+jwt", claims, nil)
}

// DPoPProof signs a DPoP proof with k for one request to w.Origin+path.
func (w *World) DPoPProof(k *ecdsa.PrivateKey, method, path, token string) (string, error) {
	sum := sha256.Sum256([]byte(token))
	return sign(k, "", "dpop+jwt", map[string]any{"jti": randomID(), "htm": method, "htu": w.Origin + path, "iat": w.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
}

// Hops signs a Provost-Hop value as each named proxy in turn.
func (w *World) Hops(method, target, token string, names ...string) (string, error) {
	value := ""
	for _, n := range names {
		s := &hop.Signer{Name: n, Key: w.hops[n], Now: w.Now}
		var err error
		if value, err = s.Sign(value, hop.Request{Method: method, Target: target, CredentialDigest: hop.CredentialDigest(token)}); err != nil {
			return "", err
		}
	}
	return value, nil
}

// JKT is the RFC 7638 thumbprint of k's public key.
func JKT(k *ecdsa.PrivateKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func sign(key crypto.Signer, kid, typ string, claims map[string]any, extra map[jose.HeaderKey]any) (string, error) {
	opts := (&jose.SignerOptions{ExtraHeaders: extra}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
