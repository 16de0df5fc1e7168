package workload

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Bundles holds the X.509 and JWT trust bundles, by trust domain. It is
// read-only once built and safe for concurrent use.
//
// Bundles keeps the chains and JWT-SVIDs it verified successfully in two
// bounded caches (CacheConfig; NewBundles uses the defaults), so that a
// workload presenting the same SVID again is not verified again in full. A
// chain is found by the SHA-256 of its certificates, and used only while
// every certificate of its verified chain is valid and the trust domain's
// bundle is the very bundle, with the same authorities, that verified it.
// A JWT-SVID is found by the SHA-256 of the token and used only while the
// trust domain's bundle still holds the key that verified it; its claims,
// audience and time included, are checked again on every use. The leaf's
// own checks always run. Bundles built anew (a reload) start with empty
// caches.
type Bundles struct {
	x509 *x509bundle.Set
	jwt  *jwtbundle.Set
	// live, when set, gives the bundles of its trust domains in place of
	// the sets (WithSource).
	live *liveBundles
	caches
}

// BundleConfig names the trust bundle files of one trust domain. At least one
// of the two files must be set.
type BundleConfig struct {
	TrustDomain   string // "example.org" or "spiffe://example.org"
	X509CAFile    string // PEM file of CA certificates that issue X.509-SVIDs
	JWTBundleFile string // JWKS of JWT-SVID keys: SPIFFE bundle format or plain JWKS
}

// NewBundles returns Bundles over the given sets, with caches of the default
// size; a nil set means no bundles of that kind. The sets should not be
// changed afterwards; if they are, a changed bundle is noticed, and what it
// verified is verified again.
func NewBundles(x509 *x509bundle.Set, jwt *jwtbundle.Set) *Bundles {
	if x509 == nil {
		x509 = x509bundle.NewSet()
	}
	if jwt == nil {
		jwt = jwtbundle.NewSet()
	}
	return &Bundles{x509: x509, jwt: jwt, caches: newCaches(CacheConfig{})}
}

// LoadBundles reads the trust bundle files named in cfgs. Each error names the
// trust domain and the file at fault.
func LoadBundles(cfgs []BundleConfig) (*Bundles, error) {
	return ReadBundles(cfgs, func(path string) ([]byte, error) { return smallfile.Read(path, smallfile.DefaultLimit) })
}

// ReadBundles is LoadBundles with the files read by read.
func ReadBundles(cfgs []BundleConfig, read func(path string) ([]byte, error)) (*Bundles, error) {
	xs, js := x509bundle.NewSet(), jwtbundle.NewSet()
	seen := make(map[spiffeid.TrustDomain]bool, len(cfgs))
	for i, cfg := range cfgs {
		td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
		if err != nil {
			return nil, fmt.Errorf("workload: trust bundle %d: trust domain %q: %w", i, cfg.TrustDomain, err)
		}
		if seen[td] {
			return nil, fmt.Errorf("workload: trust domain %q configured twice", td.Name())
		}
		seen[td] = true
		if cfg.X509CAFile == "" && cfg.JWTBundleFile == "" {
			return nil, fmt.Errorf("workload: trust domain %q: neither an X.509 CA file nor a JWT bundle file is set", td.Name())
		}
		if cfg.X509CAFile != "" {
			b, err := loadX509Bundle(td, cfg.X509CAFile, read)
			if err != nil {
				return nil, fmt.Errorf("workload: trust domain %q: X.509 CA file %q: %w", td.Name(), cfg.X509CAFile, err)
			}
			xs.Add(b)
		}
		if cfg.JWTBundleFile != "" {
			b, err := loadJWTBundle(td, cfg.JWTBundleFile, read)
			if err != nil {
				return nil, fmt.Errorf("workload: trust domain %q: JWT bundle file %q: %w", td.Name(), cfg.JWTBundleFile, err)
			}
			js.Add(b)
		}
	}
	return NewBundles(xs, js), nil
}

func loadX509Bundle(td spiffeid.TrustDomain, path string, read func(string) ([]byte, error)) (*x509bundle.Bundle, error) {
	data, err := read(path)
	if err != nil {
		return nil, err
	}
	certs, err := parseCACerts(data)
	if err != nil {
		return nil, err
	}
	return x509bundle.FromX509Authorities(td, certs), nil
}

func loadJWTBundle(td spiffeid.TrustDomain, path string, read func(string) ([]byte, error)) (*jwtbundle.Bundle, error) {
	data, err := read(path)
	if err != nil {
		return nil, err
	}
	return parseJWTBundle(td, data)
}

// parseCACerts parses PEM CERTIFICATE blocks, each of which must be a CA.
func parseCACerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d: type %q, want CERTIFICATE", n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("PEM block %d: certificate %q is not a CA", n, cert.Subject)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return certs, nil
}
