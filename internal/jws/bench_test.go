package jws

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// BenchmarkVerifyES256 measures Parse+Verify of a small ES256 token.
func BenchmarkVerifyES256(b *testing.B) {
	k := keys()
	compact := signed(b, "ES256", k.p256, `{"alg":"ES256","typ":"at+jwt","kid":"k1"}`, payload)
	allowed := []string{"ES256"}
	pub := &k.p256.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		tok, err := Parse(compact, 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := Verify(tok, allowed, pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256 measures ecdsa.Verify alone over the same hash and
// signature, the floor for BenchmarkVerifyES256.
func BenchmarkRawES256(b *testing.B) {
	k := keys()
	compact := signed(b, "ES256", k.p256, `{"alg":"ES256","typ":"at+jwt","kid":"k1"}`, payload)
	tok, err := Parse(compact, 0)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(tok.SigningInput))
	r := new(big.Int).SetBytes(tok.Signature[:32])
	s := new(big.Int).SetBytes(tok.Signature[32:])
	pub := &k.p256.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(pub, digest[:], r, s) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkParse measures Parse alone.
func BenchmarkParse(b *testing.B) {
	k := keys()
	compact := signed(b, "ES256", k.p256, `{"alg":"ES256","typ":"at+jwt","kid":"k1"}`, payload)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(compact, 0); err != nil {
			b.Fatal(err)
		}
	}
}
