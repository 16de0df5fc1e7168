package devworld

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Manifest names a kept world: what its keys sign as. It holds no key.
type Manifest struct {
	Marker  string    `json:"marker"`
	Created time.Time `json:"created"`
	// Issuer and IssuerKeyID are the token issuer and its key's kid in the
	// configuration's JWKS file; Audience is the aud of its tokens.
	Issuer      string `json:"issuer"`
	IssuerKeyID string `json:"issuer_key_id"`
	Audience    string `json:"audience"`
	// Origin is the external origin of the protected API (external_origins):
	// DPoP proofs and posture attestations name it.
	Origin string `json:"origin"`
	// TrustDomain is the SPIFFE trust domain of the CA and the JWT-SVID key.
	TrustDomain     string `json:"trust_domain"`
	JWTSVIDKeyID    string `json:"jwt_svid_key_id"`
	JWTSVIDAudience string `json:"jwt_svid_audience"`
	AttestorIssuer  string `json:"attestor_issuer"`
	AttestorKeyID   string `json:"attestor_key_id"`
	// Hops are the approved proxies whose hop keys are kept.
	Hops []string `json:"hops"`
}

// Secrets are the private keys Write keeps.
type Secrets struct {
	Issuer, Attestor, CA, JWTSVID, DPoP *ecdsa.PrivateKey
	Hops                                map[string]crypto.Signer
}

// hopName is what a hop's name may hold to become part of a file name.
var hopName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Write keeps s in worldDir/demo-keys (a new folder, mode 0700; each key
// 0600 behind the demo-only banner) with the manifest m (its Marker and
// Created are set here) and a README saying what the folder is.
func Write(worldDir string, m Manifest, s Secrets) error {
	if s.Issuer == nil || s.Attestor == nil || s.CA == nil || s.JWTSVID == nil || s.DPoP == nil {
		return errors.New("devworld: every key of the world is required")
	}
	dir := filepath.Join(worldDir, KeysDir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("devworld: %w", err)
	}
	m.Marker, m.Created = Marker, time.Now().UTC().Truncate(time.Second)
	m.Hops = m.Hops[:0:0]
	keys := map[string]crypto.Signer{KeyIssuer: s.Issuer, KeyAttestor: s.Attestor, KeyCA: s.CA, KeyJWTSVID: s.JWTSVID, KeyDPoP: s.DPoP}
	for name, k := range s.Hops {
		if !hopName.MatchString(name) {
			return fmt.Errorf("devworld: hop name %q cannot name a file", name)
		}
		keys[keyHop+name] = k
		m.Hops = append(m.Hops, name)
	}
	slices.Sort(m.Hops)
	for name, k := range keys {
		if err := writeKey(dir, name, k); err != nil {
			return err
		}
	}
	doc, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("devworld: manifest: %w", err)
	}
	if err := writeNew(filepath.Join(dir, ManifestFile), append(doc, '\n')); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, ReadmeFile), []byte(readme))
}

// JWTBundle is the JWKS of a SPIFFE trust domain's JWT-SVID key (a public
// file, for trust.spiffe[].jwt_bundle).
func JWTBundle(k *ecdsa.PrivateKey, kid string) ([]byte, error) {
	return json.MarshalIndent(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: kid, Use: "jwt-svid", Algorithm: "ES256"}}}, "", "  ")
}

const readme = `DEMO ONLY: NEVER USE THESE KEYS, OR ANYTHING THEY SIGNED, IN PRODUCTION
=========================================================================

'provost demo --keep' made this folder. It holds the PRIVATE keys of the
demo world around it, so that 'provost dev' can mint credentials for it
and you can send requests that work to 'provost serve --config ../provost.yaml':

  DEMO-ONLY-issuer.key.pem      signs access tokens      (provost dev token)
  DEMO-ONLY-dpop.key.pem        a client's DPoP key      (provost dev token --dpop, provost dev dpop)
  DEMO-ONLY-spiffe-ca.key.pem   the SPIFFE CA            (provost dev svid)
  DEMO-ONLY-spiffe-jwt.key.pem  signs JWT-SVIDs          (provost dev svid --jwt)
  DEMO-ONLY-attestor.key.pem    signs posture attestations (provost dev posture)
  DEMO-ONLY-hop-NAME.key.pem    an approved proxy's hop key (provost hop sign --key)
  DEMO-ONLY.json                what the keys sign as; 'provost dev' refuses a folder without it

Anyone who reads these files can mint credentials this world accepts. They
were generated on this machine for this demo and name only the reserved
.test domain (demo.provost.test). 'provost dev' refuses keys that are not
marked like these ones, so it cannot mint with production keys.

Delete the whole world when you are done: rm -rf the folder above this one.
`
