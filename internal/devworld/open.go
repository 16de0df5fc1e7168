package devworld

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/smallfile"
)

// World is a kept demo world opened for minting.
type World struct {
	// ConfigFile is the world's provost.yaml; KeysDir its demo-keys folder.
	ConfigFile, KeysDir string
	Manifest            Manifest
	// Now is the clock credentials are minted by (default time.Now).
	Now func() time.Time

	cfg    *config.Config
	issuer *ecdsa.PrivateKey
}

// Open opens the world whose configuration is configFile, refusing (with
// an error wrapping ErrNotDemo) anything `provost demo --keep` did not
// make: see the package documentation.
func Open(configFile string) (*World, error) {
	cfg, err := config.Load(configFile)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(filepath.Dir(configFile), KeysDir)
	w := &World{ConfigFile: configFile, KeysDir: dir, cfg: cfg, Now: time.Now}
	data, err := smallfile.Read(filepath.Join(dir, ManifestFile), 64<<10)
	if err != nil {
		return nil, fmt.Errorf("%w: no %s in %s (%v); provost dev mints only for a world kept by 'provost demo --keep DIR'",
			ErrNotDemo, ManifestFile, dir, err)
	}
	if err := json.Unmarshal(data, &w.Manifest); err != nil || w.Manifest.Marker != Marker {
		return nil, fmt.Errorf("%w: %s does not carry the demo-world marker", ErrNotDemo, filepath.Join(dir, ManifestFile))
	}
	if err := w.Manifest.reserved(); err != nil {
		return nil, err
	}
	if w.issuer, err = readECKey(dir, KeyIssuer); err != nil {
		return nil, err
	}
	if err := w.trusted(w.Manifest.Issuer, w.Manifest.IssuerKeyID, &w.issuer.PublicKey, w.issuerJWKS); err != nil {
		return nil, err
	}
	return w, nil
}

// reserved refuses a manifest naming anything outside the reserved .test
// top-level domain (RFC 6761): a demo world names no real issuer or host.
func (m Manifest) reserved() error {
	names := map[string]string{"trust_domain": m.TrustDomain}
	for field, u := range map[string]string{"issuer": m.Issuer, "origin": m.Origin, "attestor_issuer": m.AttestorIssuer} {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return fmt.Errorf("%w: manifest %s %q is not a URL", ErrNotDemo, field, u)
		}
		names[field] = p.Hostname()
	}
	for field, host := range names {
		if !strings.HasSuffix(host, ".test") {
			return fmt.Errorf("%w: manifest %s %q is not in the reserved .test domain; provost dev never mints for a real one", ErrNotDemo, field, host)
		}
	}
	return nil
}

// issuerJWKS is the JWKS file the configuration trusts for the issuer iss.
func (w *World) issuerJWKS(iss string) (string, error) {
	for i, is := range w.cfg.Issuers {
		if is.Issuer == iss {
			if is.JWKSFile == "" {
				return "", fmt.Errorf("%w: %s: issuers[%d] (%s) has no jwks_file", ErrNotDemo, w.ConfigFile, i, iss)
			}
			return w.cfg.Resolve(is.JWKSFile), nil
		}
	}
	return "", fmt.Errorf("%w: %s configures no issuer %q", ErrNotDemo, w.ConfigFile, iss)
}

// attestorJWKS is the JWKS file the configuration trusts for the attestor iss.
func (w *World) attestorJWKS(iss string) (string, error) {
	for _, a := range w.cfg.Trust.Attestors {
		if a.Issuer == iss {
			return w.cfg.Resolve(a.JWKSFile), nil
		}
	}
	return "", fmt.Errorf("%w: %s trusts no posture attestor %q", ErrNotDemo, w.ConfigFile, iss)
}

// jwtBundle is the JWT bundle the configuration trusts for the trust domain td.
func (w *World) jwtBundle(td string) (string, error) {
	for _, s := range w.cfg.Trust.SPIFFE {
		if s.TrustDomain == td && s.JWTBundle != "" {
			return w.cfg.Resolve(s.JWTBundle), nil
		}
	}
	return "", fmt.Errorf("%w: %s has no JWT bundle for trust domain %q", ErrNotDemo, w.ConfigFile, td)
}

// trusted checks that the configuration trusts pub under kid for name:
// the key kept is the key the world's configuration believes.
func (w *World) trusted(name, kid string, pub *ecdsa.PublicKey, jwksOf func(string) (string, error)) error {
	path, err := jwksOf(name)
	if err != nil {
		return err
	}
	data, err := smallfile.Read(path, smallfile.DefaultLimit)
	if err != nil {
		return fmt.Errorf("devworld: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return fmt.Errorf("devworld: %s is not a JWKS: %w", path, err)
	}
	for _, k := range set.Key(kid) {
		if p, ok := k.Key.(*ecdsa.PublicKey); ok && p.Equal(pub) {
			return nil
		}
	}
	return fmt.Errorf("%w: the kept key for %s is not the key %s trusts under kid %q", ErrNotDemo, name, path, kid)
}

// caOf reads the world's SPIFFE CA: the certificate of the configuration's
// x509_bundle for the manifest's trust domain, whose key is the kept one.
func (w *World) caOf() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := readECKey(w.KeysDir, KeyCA)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range w.cfg.Trust.SPIFFE {
		if s.TrustDomain != w.Manifest.TrustDomain || s.X509Bundle == "" {
			continue
		}
		data, err := smallfile.Read(w.cfg.Resolve(s.X509Bundle), smallfile.DefaultLimit)
		if err != nil {
			return nil, nil, fmt.Errorf("devworld: %w", err)
		}
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err == nil && c.IsCA && key.PublicKey.Equal(c.PublicKey) {
				return c, key, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("%w: %s trusts no CA certificate of the kept SPIFFE CA key for %q", ErrNotDemo, w.ConfigFile, w.Manifest.TrustDomain)
}
