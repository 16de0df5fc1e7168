package workloadtest

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"testing"
	"time"
)

// SVIDOption changes the X.509-SVID that IssueSVID issues.
type SVIDOption func(*svidConfig)

type svidConfig struct {
	notBefore, notAfter   time.Time
	extraURIs             []string
	noURI                 bool
	isCA                  bool
	keyUsage              x509.KeyUsage
	intermediate          bool
	intermediateNotBefore time.Time
	intermediateNotAfter  time.Time
}

// Expired makes the SVID expire an hour before now.
func Expired() SVIDOption {
	return func(c *svidConfig) {
		now := time.Now()
		c.notBefore, c.notAfter = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
}

// NotYetValid makes the SVID valid only from an hour after now.
func NotYetValid() SVIDOption {
	return func(c *svidConfig) {
		now := time.Now()
		c.notBefore, c.notAfter = now.Add(time.Hour), now.Add(2*time.Hour)
	}
}

// WithValidity sets the SVID's validity period.
func WithValidity(notBefore, notAfter time.Time) SVIDOption {
	return func(c *svidConfig) { c.notBefore, c.notAfter = notBefore, notAfter }
}

// WithExtraURIs adds URI SANs after the SPIFFE ID.
func WithExtraURIs(uris ...string) SVIDOption {
	return func(c *svidConfig) { c.extraURIs = append(c.extraURIs, uris...) }
}

// NoURISAN issues a leaf without any URI SAN.
func NoURISAN() SVIDOption { return func(c *svidConfig) { c.noURI = true } }

// AsCA sets the CA basic constraint on the leaf.
func AsCA() SVIDOption { return func(c *svidConfig) { c.isCA = true } }

// WithKeyUsage replaces the leaf key usage (default digitalSignature), for
// example with x509.KeyUsageCertSign or x509.KeyUsageCRLSign.
func WithKeyUsage(ku x509.KeyUsage) SVIDOption { return func(c *svidConfig) { c.keyUsage = ku } }

// WithIntermediate issues the leaf from an intermediate CA signed by the root;
// the returned chain is then leaf, intermediate.
func WithIntermediate() SVIDOption { return func(c *svidConfig) { c.intermediate = true } }

// WithExpiredIntermediate is WithIntermediate with an intermediate that
// expired an hour ago (the leaf itself stays valid).
func WithExpiredIntermediate() SVIDOption {
	return func(c *svidConfig) {
		now := time.Now()
		c.intermediate = true
		c.intermediateNotBefore, c.intermediateNotAfter = now.Add(-2*time.Hour), now.Add(-time.Hour)
	}
}

// IssueSVID issues an X.509-SVID for spiffeID, valid from an hour ago for an
// hour. spiffeID is put in the URI SAN as given, so a non-SPIFFE URI can be
// issued too. It returns the chain (leaf first, root not included) and the
// leaf's private key.
func (ca *CA) IssueSVID(t testing.TB, spiffeID string, opts ...SVIDOption) (chain []*x509.Certificate, key crypto.Signer) {
	t.Helper()
	now := time.Now()
	cfg := svidConfig{notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour), keyUsage: x509.KeyUsageDigitalSignature}
	for _, o := range opts {
		o(&cfg)
	}
	parent, parentKey := ca.cert, crypto.Signer(ca.key)
	var inter *x509.Certificate
	if cfg.intermediate {
		inter, parentKey = ca.issueIntermediate(t, cfg)
		parent = inter
	}
	var uris []*url.URL
	if !cfg.noURI {
		for _, s := range append([]string{spiffeID}, cfg.extraURIs...) {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatalf("workloadtest: URI %q: %v", s, err)
			}
			uris = append(uris, u)
		}
	}
	leafKey := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"workloadtest"}},
		NotBefore:             cfg.notBefore,
		NotAfter:              cfg.notAfter,
		URIs:                  uris,
		KeyUsage:              cfg.keyUsage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  cfg.isCA,
	}
	chain = []*x509.Certificate{createCert(t, tmpl, parent, &leafKey.PublicKey, parentKey)}
	if inter != nil {
		chain = append(chain, inter)
	}
	return chain, leafKey
}

func (ca *CA) issueIntermediate(t testing.TB, cfg svidConfig) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(12*time.Hour)
	if !cfg.intermediateNotAfter.IsZero() {
		nb, na = cfg.intermediateNotBefore, cfg.intermediateNotAfter
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: []string{"workloadtest"}, CommonName: ca.td.Name() + " intermediate"},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:                  []*url.URL{ca.td.ID().URL()},
	}
	return createCert(t, tmpl, ca.cert, &key.PublicKey, ca.key), key
}
