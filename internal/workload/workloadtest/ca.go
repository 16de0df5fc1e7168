package workloadtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// CA is a test SPIFFE certificate authority for one trust domain. Its
// certificates are valid from an hour before NewCA until a day after.
type CA struct {
	td     spiffeid.TrustDomain
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	jwtKey *ecdsa.PrivateKey
	kid    string
}

// NewCA returns a new root CA for trustDomain ("example.org").
func NewCA(t testing.TB, trustDomain string) *CA {
	t.Helper()
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		t.Fatalf("workloadtest: trust domain %q: %v", trustDomain, err)
	}
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"workloadtest"}, CommonName: td.Name() + " root"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{td.ID().URL()},
	}
	cert := createCert(t, tmpl, tmpl, &key.PublicKey, key)
	jwtKey := newKey(t)
	return &CA{td: td, cert: cert, key: key, jwtKey: jwtKey, kid: keyID(t, jwtKey)}
}

// TrustDomain returns the CA's trust domain name.
func (ca *CA) TrustDomain() string { return ca.td.Name() }

// Certificates returns the CA's root certificates, the X.509 trust bundle.
func (ca *CA) Certificates() []*x509.Certificate { return []*x509.Certificate{ca.cert} }

// X509Bundle returns the CA's X.509 trust bundle.
func (ca *CA) X509Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(ca.td, ca.Certificates())
}

// JWTBundle returns the CA's JWT trust bundle (one key).
func (ca *CA) JWTBundle() *jwtbundle.Bundle {
	return jwtbundle.FromJWTAuthorities(ca.td, map[string]crypto.PublicKey{ca.kid: ca.jwtKey.Public()})
}

// JWTKeyID returns the kid of the CA's JWT-SVID signing key.
func (ca *CA) JWTKeyID() string { return ca.kid }

// WritePEM writes the CA certificates as PEM to dir and returns the file path.
func (ca *CA) WritePEM(t testing.TB, dir string) string {
	t.Helper()
	var data []byte
	for _, c := range ca.Certificates() {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	path := filepath.Join(dir, ca.td.Name()+"-ca.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("workloadtest: %v", err)
	}
	return path
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("workloadtest: generate key: %v", err)
	}
	return key
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("workloadtest: serial: %v", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("workloadtest: create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("workloadtest: parse certificate: %v", err)
	}
	return cert
}

// keyID names a key by a prefix of the SHA-256 of its SubjectPublicKeyInfo.
func keyID(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatalf("workloadtest: marshal key: %v", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
