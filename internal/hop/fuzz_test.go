package hop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/provost-dev/provost/reason"
)

// FuzzVerify feeds arbitrary header values and requests to Verify: it must
// never panic, must fail with a hop_* reason, and on success return one iat
// per hop.
func FuzzVerify(f *testing.F) {
	seed := sha256.Sum256([]byte("fuzz edge"))
	edge := ed25519.NewKeyFromSeed(seed[:])
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:])
	if err != nil {
		f.Fatal(err)
	}
	keys := Keys{"edge": {Name: "edge", Public: edge.Public()}, "waf": {Name: "waf", Public: ec.Public()}}
	r := Request{Method: "GET", Target: "/a?b=c", CredentialDigest: CredentialDigest("tok")}
	v1, err := (&Signer{Name: "edge", Key: edge, Now: fixedClock(t0)}).Sign("", r)
	if err != nil {
		f.Fatal(err)
	}
	v2, err := (&Signer{Name: "waf", Key: ec, Now: fixedClock(t0)}).Sign(v1, r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1, "", r.Method, r.Target, r.CredentialDigest)
	f.Add(v2, "", r.Method, r.Target, r.CredentialDigest)
	f.Add(v1, v2[len(v1)+1:], r.Method, r.Target, r.CredentialDigest)
	f.Add(strings.ReplaceAll(v2, ".", ","), "", "POST", "/", "")
	f.Add(" , ", ",", "", "", "")
	f.Add("e30.e30.", "", "GET", "/", "")

	v := &Verifier{Keys: keys, Now: fixedClock(t0)}
	f.Fuzz(func(t *testing.T, h1, h2, method, target, cred string) {
		got, err := v.Verify([]string{h1, h2}, Request{Method: method, Target: target, CredentialDigest: cred})
		if err != nil {
			var re *reason.Error
			if !errors.As(err, &re) || !strings.HasPrefix(string(re.Code), "hop_") {
				t.Fatalf("error %v has no hop_* reason", err)
			}
			if got.Hops != nil {
				t.Fatalf("hops %v returned with error", got.Hops)
			}
			return
		}
		if len(got.Hops) != len(got.IssuedAt) || len(got.Hops) > DefaultMaxHops {
			t.Fatalf("got %d hops and %d times", len(got.Hops), len(got.IssuedAt))
		}
		for _, h := range got.Hops {
			if _, ok := keys[h]; !ok {
				t.Fatalf("verified unknown hop %q", h)
			}
		}
	})
}
