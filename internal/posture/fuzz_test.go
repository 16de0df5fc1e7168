package posture

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/reason"
)

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, must fail
// with a posture_* reason, and on success name a configured attestor and
// audience and keep the credential digest to itself.
func FuzzVerify(f *testing.F) {
	seed := sha256.Sum256([]byte("fuzz attestor"))
	key := signingKey{"k1", jose.EdDSA, ed25519.NewKeyFromSeed(seed[:])}
	jwk := jose.JSONWebKey{Key: key.key, KeyID: key.kid}
	v := &Verifier{
		Attestors: []Attestor{{Name: "ci", Issuer: "https://attest.ci.example", Keys: &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}}}},
		Now:       func() time.Time { return t0 },
	}
	valid := sign(f, key, header("k1"), ciClaims(nil))
	f.Add(valid)
	f.Add(sign(f, key, header("k1"), ciClaims(map[string]any{"exp": t0.Add(time.Hour).Unix(), "nbf": 1.5})))
	f.Add(sign(f, key, header("k1"), []byte(`{"iss":"https://attest.ci.example","iat":1e400}`)))
	f.Add(sign(f, key, header("k1"), ciClaims(map[string]any{"aud": []any{"x", testAudience}})))
	f.Add(sign(f, key, header("k1"), ciClaims(map[string]any{"aud": nil, "cred": nil})))
	f.Add(sign(f, key, header("k1"), ciClaims(map[string]any{"cred": hop.CredentialDigest("another-access-token")})))
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(tok, testBinding)
		if err != nil {
			var re *reason.Error
			if !errors.As(err, &re) || !strings.HasPrefix(string(re.Code), "posture_") {
				t.Fatalf("error %v has no posture_* reason", err)
			}
			return
		}
		if p.Attestor != "ci" || !strings.HasPrefix(p.Class, "ci/") || p.Claims == nil || !slices.Contains(testBinding.Audiences, p.Audience) {
			t.Fatalf("accepted posture %+v", p)
		}
		if _, ok := p.Claims[ClaimCredential]; ok {
			t.Fatalf("accepted posture passes cred on: %+v", p)
		}
	})
}
