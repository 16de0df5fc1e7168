package provosttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"path/filepath"
	"time"
)

// Leaf is a certificate the world's CA issues beside its SVIDs, for TLS
// servers and clients that are not workloads: an admin listener, an
// operator's client certificate.
type Leaf struct {
	CommonName string
	URI        string   // one URI SAN (a SPIFFE ID or any URI); "" for none
	IPs        []net.IP // IP SANs
	Server     bool     // for a TLS server (server auth); else for a client
}

// Leaf issues l from the world's CA; it returns the certificate and its
// private key.
func (w *World) Leaf(l Leaf) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	w.mu.Lock()
	w.serial++
	serial := w.serial + 1
	w.mu.Unlock()
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: l.CommonName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour), IPAddresses: l.IPs,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if l.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if l.URI != "" {
		u, err := url.Parse(l.URI)
		if err != nil {
			return nil, nil, err
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.ca, k.Public(), w.caKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, k, err
}

// MustLeaf is Leaf, failing the test on error.
func (w *T) MustLeaf(l Leaf) (*x509.Certificate, *ecdsa.PrivateKey) {
	w.t.Helper()
	c, k, err := w.Leaf(l)
	if err != nil {
		w.t.Fatal(err)
	}
	return c, k
}

// MustTLSLeaf is MustLeaf as a tls.Certificate (a client's certificate).
func (w *T) MustTLSLeaf(l Leaf) tls.Certificate {
	w.t.Helper()
	c, k := w.MustLeaf(l)
	return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k, Leaf: c}
}

// WriteLeaf issues l and writes it into the world's directory as the PEM
// files name.crt and name.key; it returns their paths.
func (w *T) WriteLeaf(name string, l Leaf) (certFile, keyFile string) {
	w.t.Helper()
	c, k := w.MustLeaf(l)
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		w.t.Fatal(err)
	}
	w.Write(name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	w.Write(name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})))
	return filepath.Join(w.Dir, name+".crt"), filepath.Join(w.Dir, name+".key")
}

// CAFile is the path of the world's CA certificate (PEM).
func (w *World) CAFile() string { return filepath.Join(w.Dir, "ca.pem") }
