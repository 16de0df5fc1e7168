package config

import (
	"slices"
	"strings"
	"testing"
)

// TestEd25519Algorithms checks that RFC 9864's fully-specified "Ed25519"
// loads wherever "EdDSA" does: issuer, DPoP and attestor algorithm lists.
func TestEd25519Algorithms(t *testing.T) {
	doc := strings.Replace(good, "algorithms: [ES256, EdDSA]", "algorithms: [Ed25519]", 1) + `dpop:
  algorithms: [ES256, Ed25519, EdDSA]
trust:
  attestors:
    - name: ci
      issuer: https://ci.example.com
      jwks_file: ci.jwks
      algorithms: [Ed25519]
`
	c, err := Parse("p.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Issuers[0].Algorithms; !slices.Equal(got, []string{"Ed25519"}) {
		t.Errorf("issuers[0].algorithms = %v", got)
	}
	if got := c.DPoP.Algorithms; !slices.Equal(got, []string{"ES256", "Ed25519", "EdDSA"}) {
		t.Errorf("dpop.algorithms = %v", got)
	}
	if got := c.Trust.Attestors[0].Algorithms; !slices.Equal(got, []string{"Ed25519"}) {
		t.Errorf("trust.attestors[0].algorithms = %v", got)
	}
}

// TestEd25519AlgorithmsRefused checks names that are not Provost's: Ed448
// (not supported) and wrong-case spellings (JWS alg values are case-sensitive).
func TestEd25519AlgorithmsRefused(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"issuer Ed448", strings.Replace(good, "[ES256, EdDSA]", "[ES256, Ed448]", 1),
			`p.yaml:7: issuers[0].algorithms[1]: "Ed448" is not allowed: Provost takes asymmetric JWS algorithms only (ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA, Ed25519)`},
		{"issuer ed25519", strings.Replace(good, "[ES256, EdDSA]", "[ed25519]", 1), `issuers[0].algorithms[0]: "ed25519" is not allowed`},
		{"issuer EDDSA", strings.Replace(good, "[ES256, EdDSA]", "[EDDSA]", 1), `issuers[0].algorithms[0]: "EDDSA" is not allowed`},
		{"dpop Ed448", "version: 1\ndpop:\n  algorithms: [Ed25519, Ed448]\n", `p.yaml:3: dpop.algorithms[1]: "Ed448" is not an asymmetric JWS algorithm`},
		{"dpop ed25519", "version: 1\ndpop:\n  algorithms: [ed25519]\n", `dpop.algorithms[0]: "ed25519" is not an asymmetric JWS algorithm`},
		{"attestor Ed448", "version: 1\ntrust:\n  attestors:\n    - {name: ci, issuer: i, jwks_file: f, algorithms: [Ed448]}\n", `trust.attestors[0].algorithms[0]: "Ed448" is not an asymmetric JWS algorithm`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
