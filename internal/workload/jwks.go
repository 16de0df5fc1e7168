package workload

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

const (
	maxBundleKeys = 256  // keys in one JWT bundle
	minRSABits    = 2048 // smallest RSA modulus accepted
)

// parseJWTBundle parses a JWKS into the JWT authorities of td. It accepts the
// SPIFFE bundle format (keys with "use": "jwt-svid" are taken, "x509-svid"
// keys are skipped) and plain JWKS (keys without "use", or "use": "sig").
// Every taken key must be a public asymmetric key with a unique "kid".
func parseJWTBundle(td spiffeid.TrustDomain, data []byte) (*jwtbundle.Bundle, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	if len(doc.Keys) > maxBundleKeys {
		return nil, fmt.Errorf("%d keys, more than %d", len(doc.Keys), maxBundleKeys)
	}
	b := jwtbundle.New(td)
	for i, raw := range doc.Keys {
		var head struct {
			Use string `json:"use"`
			Kid string `json:"kid"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		switch head.Use {
		case "", "sig", "jwt-svid":
		default: // "x509-svid" (SPIFFE bundle) and encryption keys
			continue
		}
		if head.Kid == "" {
			return nil, fmt.Errorf("key %d: no \"kid\"", i)
		}
		if b.HasJWTAuthority(head.Kid) {
			return nil, fmt.Errorf("key %d: duplicate kid %q", i, head.Kid)
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, head.Kid, err)
		}
		if err := checkJWTSVIDKey(jwk); err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, head.Kid, err)
		}
		if err := b.AddJWTAuthority(head.Kid, jwk.Key); err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, head.Kid, err)
		}
	}
	if b.Empty() {
		return nil, errors.New("no JWT-SVID key")
	}
	return b, nil
}

// checkJWTSVIDKey accepts the public keys the JWT-SVID algorithms can use:
// ECDSA, and RSA of at least 2048 bits.
func checkJWTSVIDKey(jwk jose.JSONWebKey) error {
	if !jwk.Valid() || !jwk.IsPublic() {
		return errors.New("not a public asymmetric key")
	}
	switch k := jwk.Key.(type) {
	case *ecdsa.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits, fewer than %d", k.N.BitLen(), minRSABits)
		}
		return nil
	default:
		return fmt.Errorf("key type %T is not usable for JWT-SVIDs (RS*, PS* or ES* only)", jwk.Key)
	}
}
