package workloadtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SignJWTSVID signs a JWT-SVID (ES256, with the CA's kid) with sub spiffeID,
// aud audience and exp. iat is now, or five minutes before exp when exp is
// already past.
func (ca *CA) SignJWTSVID(t testing.TB, spiffeID, audience string, exp time.Time) string {
	t.Helper()
	iat := time.Now()
	if !exp.After(iat) {
		iat = exp.Add(-5 * time.Minute)
	}
	return ca.SignJWTClaims(t, map[string]any{
		"sub": spiffeID,
		"aud": []string{audience},
		"exp": exp.Unix(),
		"iat": iat.Unix(),
	})
}

// SignJWTClaims signs arbitrary claims with the CA's JWT key, for tests of
// malformed JWT-SVIDs.
func (ca *CA) SignJWTClaims(t testing.TB, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: ca.jwtKey, KeyID: ca.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		t.Fatalf("workloadtest: signer: %v", err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("workloadtest: sign JWT-SVID: %v", err)
	}
	return tok
}

// JWTBundleFile writes the CA's trust bundle in the SPIFFE bundle format (the
// JWT-SVID key and the X.509 root as an "x509-svid" key) to dir and returns
// the file path.
func (ca *CA) JWTBundleFile(t testing.TB, dir string) string {
	t.Helper()
	doc := struct {
		Keys     []jose.JSONWebKey `json:"keys"`
		Sequence int               `json:"spiffe_sequence"`
	}{
		Keys: []jose.JSONWebKey{
			{Key: ca.cert.PublicKey, Certificates: ca.Certificates(), Use: "x509-svid"},
			{Key: ca.jwtKey.Public(), KeyID: ca.kid, Use: "jwt-svid"},
		},
		Sequence: 1,
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("workloadtest: marshal bundle: %v", err)
	}
	path := filepath.Join(dir, ca.td.Name()+"-bundle.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("workloadtest: %v", err)
	}
	return path
}
