package provost

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/network"
	"github.com/provost-dev/provost/internal/pemfile"
	"github.com/provost-dev/provost/internal/posture"
	"github.com/provost-dev/provost/internal/workload"
)

// buildTrust loads the trust anchors: proxies, SPIFFE bundles, hop keys and
// posture attestors.
func buildTrust(cfg *config.Config, st *state, now func() time.Time) error {
	t := cfg.Trust
	var err error
	if st.trusted, err = network.ParseCIDRSet("trust.proxies", t.Proxies); err != nil {
		return err
	}
	switch t.ForwardedHeader {
	case "forwarded":
		st.fwdHeader = network.HeaderForwarded
	case "auto":
		st.fwdHeader = network.HeaderAuto
	default:
		st.fwdHeader = network.HeaderXFF
	}
	if len(t.SPIFFE) > 0 {
		bcs := make([]workload.BundleConfig, len(t.SPIFFE))
		for i, s := range t.SPIFFE {
			bcs[i] = workload.BundleConfig{TrustDomain: s.TrustDomain, X509CAFile: cfg.Resolve(s.X509Bundle), JWTBundleFile: cfg.Resolve(s.JWTBundle)}
		}
		if st.bundles, err = workload.LoadBundles(bcs); err != nil {
			return fmt.Errorf("trust.spiffe: %w", err)
		}
	}
	st.svidAud = t.JWTSVIDAudience
	if st.svidAud == "" {
		st.svidAud = "provost"
	}
	keys := hop.Keys{}
	for i, h := range t.Hops {
		pub, err := loadPublicKey(cfg.Resolve(h.PublicKey))
		if err != nil {
			return fmt.Errorf("trust.hops[%d] (%s): %w", i, h.Name, err)
		}
		keys[h.Name] = hop.Key{Name: h.Name, Public: pub}
	}
	st.hops = &hop.Verifier{Keys: keys, MaxAge: t.HopMaxAge.D(), Now: now}
	atts := make([]posture.Attestor, 0, len(t.Attestors))
	for i, a := range t.Attestors {
		src, err := issuer.LoadFile(cfg.Resolve(a.JWKSFile))
		if err != nil {
			return fmt.Errorf("trust.attestors[%d] (%s): %w", i, a.Name, err)
		}
		set, _ := src.Keys(context.Background(), "") // a static source neither blocks nor fails
		atts = append(atts, posture.Attestor{Name: a.Name, Issuer: a.Issuer, Keys: set, Algorithms: a.Algorithms, MaxAge: a.MaxAge.D()})
	}
	st.posture = &posture.Verifier{Attestors: atts, Now: now}
	return nil
}

// loadPublicKey reads a PEM public key (PKIX "PUBLIC KEY"), a certificate,
// or a JWK file.
func loadPublicKey(path string) (crypto.PublicKey, error) {
	data, err := pemfile.Read(path)
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
