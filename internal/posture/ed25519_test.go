package posture

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/reason"
)

// signEd signs an attestation with k's Ed25519 key under the literal alg
// value: go-jose signs only under the name "EdDSA", not RFC 9864's "Ed25519".
func signEd(t testing.TB, k signingKey, alg string, claims map[string]any) string {
	t.Helper()
	hdr, err := json.Marshal(map[string]any{"alg": alg, "typ": Type, "kid": k.kid})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	in := enc(hdr) + "." + enc(body)
	return in + "." + enc(ed25519.Sign(k.key.(ed25519.PrivateKey), []byte(in)))
}

// TestVerifyEd25519Names checks that "EdDSA" and "Ed25519" (RFC 9864) are one
// algorithm for attestors: the default list and a list naming either admit
// attestations under both names; other spellings and Ed448 are refused.
func TestVerifyEd25519Names(t *testing.T) {
	f := newFixture(t)
	toks := map[string]string{
		"EdDSA":   sign(t, f.ciEd, header("ci-2"), ciClaims(nil)),
		"Ed25519": signEd(t, f.ciEd, "Ed25519", ciClaims(nil)),
	}
	for _, algs := range [][]string{nil, {"EdDSA"}, {"Ed25519"}, {"ES256", "Ed25519"}} {
		f.verifier.Attestors[0].Algorithms = algs
		for name, tok := range toks {
			if _, err := f.verifier.Verify(tok, testBinding); err != nil {
				t.Errorf("%s attestation, attestor algorithms %v: %v", name, algs, err)
			}
		}
	}
	f.verifier.Attestors[0].Algorithms = []string{"ES256"}
	for _, tok := range toks {
		_, err := f.verifier.Verify(tok, testBinding)
		wantCode(t, err, reason.PostureBadSignature)
	}
	f.verifier.Attestors[0].Algorithms = nil
	for _, alg := range []string{"Ed448", "ed25519", "EDDSA"} {
		t.Run(alg, func(t *testing.T) {
			_, err := f.verifier.Verify(signEd(t, f.ciEd, alg, ciClaims(nil)), testBinding)
			wantCode(t, err, reason.PostureBadSignature)
		})
	}
	// A JWK whose own alg uses either name fits either header name.
	for _, jwkAlg := range []string{"EdDSA", "Ed25519"} {
		f.verifier.Attestors[0].Keys = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: f.ciEd.key.(ed25519.PrivateKey).Public(), KeyID: "ci-2", Algorithm: jwkAlg, Use: "sig"},
		}}
		for name, tok := range toks {
			if _, err := f.verifier.Verify(tok, testBinding); err != nil {
				t.Errorf("%s attestation, JWK alg %s: %v", name, jwkAlg, err)
			}
		}
	}
}
