package signal

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/workload"
)

// Anchors are what a policy believes: which peers are proxies, which
// CAs issue workload identities, which keys sign hop and posture
// attestations. The verifiers that need a clock are built from them by the
// engine.
type Anchors struct {
	proxies   *network.CIDRSet
	fwdHeader network.Header
	bundles   *workload.Bundles // nil: no SPIFFE trust configured
	svidAud   string
	// live are the trust domains of trust.workload_api, whose bundles
	// come from the engine's bundle source (WithBundleSource).
	live []string
	// HopKeys, HopMaxAge and Attestors verify hop and posture
	// attestations; the verifiers are built with the engine's clock.
	HopKeys   hop.Keys
	HopMaxAge time.Duration
	Attestors []posture.Attestor
	// PostureAudiences are the values a posture attestation's "aud" may
	// name: external_origins, then every issuer's audiences, without
	// repeats.
	PostureAudiences []string
}

// CompileAnchors loads the trust anchors of cfg, reading files with read.
func CompileAnchors(cfg *config.Config, read func(string) ([]byte, error)) (*Anchors, error) {
	t := cfg.Trust
	ta := &Anchors{svidAud: t.JWTSVIDAudience, HopMaxAge: t.HopMaxAge.D(), HopKeys: hop.Keys{}, live: t.WorkloadAPI.TrustDomains}
	var err error
	if ta.proxies, err = network.ParseCIDRSet("trust.proxies", t.Proxies); err != nil {
		return nil, err
	}
	switch t.ForwardedHeader {
	case "forwarded":
		ta.fwdHeader = network.HeaderForwarded
	case "auto":
		ta.fwdHeader = network.HeaderAuto
	default:
		ta.fwdHeader = network.HeaderXFF
	}
	if len(t.SPIFFE) > 0 {
		bcs := make([]workload.BundleConfig, len(t.SPIFFE))
		for i, s := range t.SPIFFE {
			bcs[i] = workload.BundleConfig{TrustDomain: s.TrustDomain, X509CAFile: s.X509Bundle, JWTBundleFile: s.JWTBundle}
		}
		if ta.bundles, err = workload.ReadBundles(bcs, read); err != nil {
			return nil, fmt.Errorf("trust.spiffe: %w", err)
		}
	}
	if ta.svidAud == "" {
		ta.svidAud = "provost"
	}
	for i, h := range t.Hops {
		pub, err := readPublicKey(h.PublicKey, read)
		if err != nil {
			return nil, fmt.Errorf("trust.hops[%d] (%s): %w", i, h.Name, err)
		}
		ta.HopKeys[h.Name] = hop.Key{Name: h.Name, Public: pub}
	}
	for i, a := range t.Attestors {
		data, err := read(a.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("trust.attestors[%d] (%s): JWKS file: %w", i, a.Name, err)
		}
		src, err := issuer.ParseStatic(a.JWKSFile, data)
		if err != nil {
			return nil, fmt.Errorf("trust.attestors[%d] (%s): %w", i, a.Name, err)
		}
		set, _ := src.Keys(context.Background(), "") // a static source neither blocks nor fails
		ta.Attestors = append(ta.Attestors, posture.Attestor{Name: a.Name, Issuer: a.Issuer, Keys: set, Algorithms: a.Algorithms, MaxAge: a.MaxAge.D()})
	}
	ta.PostureAudiences = postureAudiences(cfg)
	return ta, nil
}

// postureAudiences names this Provost to posture attestors: the origins the
// protected API is reached at and the audiences its credentials are for.
func postureAudiences(cfg *config.Config) []string {
	var out []string
	add := func(a string) {
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, o := range cfg.ExternalOrigins {
		add(o)
	}
	for _, is := range cfg.Issuers {
		for _, a := range is.Audiences {
			add(a)
		}
	}
	return out
}

// WithBundleSource returns the anchors with the trust domains of
// trust.workload_api verified against the bundles src gives at each
// verification. Without such trust domains it returns ta; with them and no
// src it fails: those SVIDs would have no bundle.
func (ta *Anchors) WithBundleSource(src workload.BundleSource) (*Anchors, error) {
	if len(ta.live) == 0 {
		return ta, nil
	}
	if src == nil {
		return nil, fmt.Errorf("trust.workload_api: trust domains %v take their bundles from the Workload API, but this engine has no bundle source (provost.Options.SPIFFEBundles)", ta.live)
	}
	base := ta.bundles
	if base == nil {
		base = workload.NewBundles(nil, nil)
	}
	bundles, err := base.WithSource(src, ta.live)
	if err != nil {
		return nil, fmt.Errorf("trust.workload_api: %w", err)
	}
	c := *ta
	c.bundles = bundles
	return &c, nil
}

// TrustsProxy reports whether a is a trusted proxy (trust.proxies).
func (ta *Anchors) TrustsProxy(a netip.Addr) bool {
	return a.IsValid() && ta.proxies.Contains(a.Unmap())
}

// readPublicKey reads a PEM public key (PKIX "PUBLIC KEY"), a certificate,
// or a JWK file.
func readPublicKey(path string, read func(string) ([]byte, error)) (crypto.PublicKey, error) {
	data, err := read(path)
	if err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(data); b != nil {
		switch b.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(b.Bytes)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c.PublicKey, nil
		}
		return nil, fmt.Errorf("%s: a %q PEM block is not a public key", path, b.Type)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("%s: neither PEM nor a JWK: %w", path, err)
	}
	if !jwk.IsPublic() {
		return nil, fmt.Errorf("%s: holds a private key; Provost takes public keys only", path)
	}
	return jwk.Key, nil
}
