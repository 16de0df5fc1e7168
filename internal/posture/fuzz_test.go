package posture

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/reason"
)

// FuzzVerify feeds arbitrary tokens to Verify: it must never panic, must fail
// with a posture_* reason, and on success name a configured attestor.
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
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(tok)
		if err != nil {
			var re *reason.Error
			if !errors.As(err, &re) || !strings.HasPrefix(string(re.Code), "posture_") {
				t.Fatalf("error %v has no posture_* reason", err)
			}
			return
		}
		if p.Attestor != "ci" || !strings.HasPrefix(p.Class, "ci/") || p.Claims == nil {
			t.Fatalf("accepted posture %+v", p)
		}
	})
}
