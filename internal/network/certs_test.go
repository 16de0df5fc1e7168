package network

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"

	"github.com/provost-dev/provost/reason"
)

// testPKI is a CA and a leaf it signed, generated fresh for each test.
type testPKI struct {
	ca, leaf *x509.Certificate
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	ca := mustCreate(t, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example.org/ns/ci/sa/runner")
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "runner, build \"7\"", Organization: []string{"Example; Org"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		URIs:         []*url.URL{spiffe},
		DNSNames:     []string{"runner.example.org"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leaf := mustCreate(t, leafTmpl, ca, &leafKey.PublicKey, caKey)
	return testPKI{ca: ca, leaf: leaf}
}

func mustCreate(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(certs ...*x509.Certificate) string {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return string(out)
}

// envoyEncode URL-encodes PEM the way Envoy writes Cert and Chain
// ("-----BEGIN%20CERTIFICATE-----%0AMIIB...").
func envoyEncode(s string) string { return url.PathEscape(s) }

func wantCode(t *testing.T, err error, code reason.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want code %s", code)
	}
	var re *reason.Error
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("error %v: code %s, want %s", err, reason.Of(err), code)
	}
}
