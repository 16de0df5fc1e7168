package provosttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// SVIDChain issues an X.509-SVID for a path in the trust domain from a
// fresh intermediate CA that the world's CA signs: it returns the chain
// (leaf, intermediate) and the leaf's private key.
func (w *World) SVIDChain(path string) ([]*x509.Certificate, *ecdsa.PrivateKey, error) {
	ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	w.mu.Lock()
	w.serial += 2
	serial := w.serial
	w.mu.Unlock()
	now := time.Now()
	td := &url.URL{Scheme: "spiffe", Host: w.opts.TrustDomain}
	itmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "intermediate SPIFFE CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, URIs: []*url.URL{td}}
	ider, err := x509.CreateCertificate(rand.Reader, itmpl, w.ca, ik.Public(), w.caKey)
	if err != nil {
		return nil, nil, err
	}
	inter, err := x509.ParseCertificate(ider)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial + 1), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		URIs: []*url.URL{{Scheme: "spiffe", Host: w.opts.TrustDomain, Path: path}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, k.Public(), ik)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return []*x509.Certificate{leaf, inter}, k, nil
}

// MustSVIDChain is SVIDChain, failing the test on error.
func (w *T) MustSVIDChain(path string) ([]*x509.Certificate, *ecdsa.PrivateKey) {
	w.t.Helper()
	chain, k, err := w.SVIDChain(path)
	if err != nil {
		w.t.Fatal(err)
	}
	return chain, k
}

// WriteHopKey writes the private key of the approved proxy name into the
// world's directory as a PEM PKCS #8 file, hop-name.key (what a Provost
// proxy signs its hop attestations with), and returns its path.
func (w *World) WriteHopKey(name string) (string, error) {
	k, ok := w.hops[name]
	if !ok {
		return "", fmt.Errorf("provosttest: no approved proxy %q", name)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	path := filepath.Join(w.Dir, "hop-"+name+".key")
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// MustHopKeyFile is WriteHopKey, failing the test on error.
func (w *T) MustHopKeyFile(name string) string {
	w.t.Helper()
	path, err := w.WriteHopKey(name)
	if err != nil {
		w.t.Fatal(err)
	}
	return path
}
