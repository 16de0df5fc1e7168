package credential

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/reason"
)

// rawEd builds a compact JWS from literal header and payload JSON signed with
// the Ed25519 key, whatever alg the header names: go-jose signs only under
// the name "EdDSA", not RFC 9864's "Ed25519".
func rawEd(header, payload string) string {
	in := b64(header) + "." + b64(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(keys.ed, []byte(in)))
}

// TestEd25519AlgNames checks RFC 9864: "EdDSA" and "Ed25519" are one
// algorithm. An issuer allowing either name accepts Ed25519 tokens under both,
// whatever name the JWK's own alg uses; an issuer allowing neither refuses
// both; the caller's Issuer is not changed.
func TestEd25519AlgNames(t *testing.T) {
	eddsa := sign(t, keys.ed, jose.EdDSA, claims(nil), signOpts{kid: "ed", typ: "at+jwt"})
	ed25519Tok := rawEd(`{"alg":"Ed25519","kid":"ed","typ":"at+jwt"}`, claimsJSON(nil))
	for _, allowed := range []string{"EdDSA", "Ed25519"} {
		for _, jwkAlg := range []string{"", "EdDSA", "Ed25519"} {
			algs := []string{"ES256", allowed}
			fx := newFixture(t, func(c *Config) {
				set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: keys.ed.Public(), KeyID: "ed", Algorithm: jwkAlg, Use: "sig"}}}
				src, err := issuer.NewStatic(set)
				if err != nil {
					t.Fatal(err)
				}
				c.Issuers[0].Algorithms, c.Issuers[0].Keys = algs, src
			})
			for name, tok := range map[string]string{"EdDSA": eddsa, "Ed25519": ed25519Tok} {
				t.Run(fmt.Sprintf("allowed %s, jwk alg %q, header %s", allowed, jwkAlg, name), func(t *testing.T) {
					res, err := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + tok, Method: "GET", Target: "/x"})
					if err != nil || !res.Accepted() {
						t.Fatalf("want accepted, got %s (%s: %s), err %v", res.Verdict, res.Reason, res.Message, err)
					}
					if res.Metadata.Algorithm != name {
						t.Errorf("metadata alg = %q, want the header's %q", res.Metadata.Algorithm, name)
					}
				})
			}
			if len(algs) != 2 || algs[1] != allowed {
				t.Fatalf("New changed the caller's algorithm list: %v", algs)
			}
		}
	}
	fx := newFixture(t, func(c *Config) { c.Issuers[0].Algorithms = []string{"ES256", "RS256"} })
	for name, tok := range map[string]string{"EdDSA": eddsa, "Ed25519": ed25519Tok} {
		res, _ := fx.v.Verify(context.Background(), Presented{Authorization: "Bearer " + tok, Method: "GET", Target: "/x"})
		if res.Verdict != Rejected || res.Reason != reason.JWSAlgNotAllowed {
			t.Errorf("%s with allow-list [ES256, RS256]: got %s (%s: %s), want rejected (%s)", name, res.Verdict, res.Reason, res.Message, reason.JWSAlgNotAllowed)
		}
	}
}
