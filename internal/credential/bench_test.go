package credential

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/jws"
)

// BenchmarkVerifyBearer is one bearer JWT (ES256) with the issuer's keys
// already loaded: strict parse, signature, claims, revocation lookup. The
// verified-token cache is off: every verification is a full one.
func BenchmarkVerifyBearer(b *testing.B) {
	benchmarkVerifyBearer(b, -1)
}

// BenchmarkVerifyBearerCached is BenchmarkVerifyBearer with the cache on,
// as served: the same token again is a cache hit (fingerprint, SHA-256 of
// the token, time claims, the issuer's key still held), then the revocation
// lookup.
func BenchmarkVerifyBearerCached(b *testing.B) {
	benchmarkVerifyBearer(b, 0)
}

func benchmarkVerifyBearer(b *testing.B, cacheSize int) {
	fx := newFixture(b, func(c *Config) { c.CacheSize = cacheSize })
	tok := es256(b, claims(nil))
	p := Presented{Authorization: "Bearer " + tok, Method: "GET", Target: "/x"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := fx.v.Verify(ctx, p); !res.Accepted() {
			b.Fatal(res.Reason)
		}
	}
	if st := fx.v.CacheStats(); cacheSize >= 0 && st.Hits == 0 {
		b.Fatalf("no cache hit: %+v", st)
	}
}

// BenchmarkVerifyDPoP is one DPoP-bound request (ES256 token, ES256 proof):
// two signature checks, the proof's checks and the replay cache. The
// verified-token cache is off.
func BenchmarkVerifyDPoP(b *testing.B) {
	benchmarkVerifyDPoP(b, -1)
}

// BenchmarkVerifyDPoPCached is BenchmarkVerifyDPoP with the cache on: the
// token's signature comes from the cache, the proof (new every request) is
// verified in full.
func BenchmarkVerifyDPoPCached(b *testing.B) {
	benchmarkVerifyDPoP(b, 0)
}

func benchmarkVerifyDPoP(b *testing.B, cacheSize int) {
	fx := newFixture(b, func(c *Config) { c.CacheSize = cacheSize })
	tok := es256(b, claims(map[string]any{"cnf": map[string]any{"jkt": thumb(b, keys.client)}}))
	const n = 4096
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = proof(b, keys.client, "POST", "/tools", tok, fmt.Sprint("jti-", i), testNow)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			// Fresh proofs are needed once the pre-made ones are used up:
			// move the clock so their jti are no longer live.
			b.StopTimer()
			fx.now = fx.now.Add(10 * time.Minute)
			for j := range proofs {
				proofs[j] = proof(b, keys.client, "POST", "/tools", tok, fmt.Sprint("jti-", i+j), fx.now)
			}
			i = 0
			b.StartTimer()
		}
		res, _ := fx.v.Verify(ctx, Presented{Authorization: "DPoP " + tok, DPoP: proofs[i], Method: "POST", Target: "/tools"})
		if !res.Accepted() {
			b.Fatal(res.Reason, res.Message)
		}
		i++
	}
}

// BenchmarkRawES256 is one bare ecdsa.Verify of the same kind of token: the
// floor the two benchmarks above are compared with.
func BenchmarkRawES256(b *testing.B) {
	tok := es256(b, claims(nil))
	parsed, err := jws.Parse(tok, 0)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte(parsed.SigningInput))
	r := new(big.Int).SetBytes(parsed.Signature[:32])
	s := new(big.Int).SetBytes(parsed.Signature[32:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.Verify(&keys.es256.PublicKey, h[:], r, s) {
			b.Fatal("verify")
		}
	}
}
