package issuer

import (
	"crypto/rsa"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzParseJWKS checks that parsing never panics and that whatever it keeps
// obeys the rules: public signing keys only, no weak RSA, unique kids.
func FuzzParseJWKS(f *testing.F) {
	f.Add(jwksJSON(f, ecJWK(f, "ec", false), edJWK(f, "ed")))
	f.Add(jwksJSON(f, ecJWK(f, "priv", true), octJWK("hmac")))
	f.Add(jwksJSON(f, jose.JSONWebKey{Key: &rsaKey(f, 2048).PublicKey, KeyID: "rsa"}))
	f.Add([]byte(`{"keys":[{"kty":"EC","use":"enc","crv":"P-256","x":"x","y":"y"},{"kty":"XYZ"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQ","e":"AQAB"},{"kty":"OKP","crv":"Ed25519","x":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct"},{"kty":"EC","crv":"P-256","x":"AA","y":"AA","x5c":["AAAA"]}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, strict := range []bool{true, false} {
			set, dropped, err := parseJWKS(data, strict)
			if err != nil {
				if len(set.Keys) != 0 || len(dropped) != 0 {
					t.Fatalf("strict=%v: error %v with a result", strict, err)
				}
				continue
			}
			if len(set.Keys)+len(dropped) > maxKeys {
				t.Fatalf("strict=%v: %d keys kept, %d dropped: over the bound", strict, len(set.Keys), len(dropped))
			}
			seen := map[string]bool{}
			for i, k := range set.Keys {
				if !k.IsPublic() || !k.Valid() {
					t.Fatalf("strict=%v: key %d kept but not a valid public key: %T", strict, i, k.Key)
				}
				if k.Use != "" && k.Use != "sig" {
					t.Fatalf("strict=%v: key %d kept with use %q", strict, i, k.Use)
				}
				if rk, ok := k.Key.(*rsa.PublicKey); ok && rk.N.BitLen() < minRSABits {
					t.Fatalf("strict=%v: key %d kept with %d-bit RSA", strict, i, rk.N.BitLen())
				}
				if k.KeyID != "" && seen[k.KeyID] {
					t.Fatalf("strict=%v: duplicate kid %q kept", strict, k.KeyID)
				}
				seen[k.KeyID] = true
			}
			for _, p := range dropped {
				if strict && p.fatal() {
					t.Fatalf("strict mode dropped a key it should have rejected: %v", p)
				}
			}
		}
	})
}
