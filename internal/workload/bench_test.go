package workload_test

import (
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
)

// BenchmarkVerifyX509 verifies one X.509-SVID chain (leaf and intermediate,
// as an XFCC header relays it) in full, with the cache off.
func BenchmarkVerifyX509(b *testing.B) { benchmarkVerifyX509(b, -1) }

// BenchmarkVerifyX509Cached is BenchmarkVerifyX509 with the cache on, as
// served: the leaf's checks, the chain's SHA-256 and the bundle check.
func BenchmarkVerifyX509Cached(b *testing.B) { benchmarkVerifyX509(b, 0) }

func benchmarkVerifyX509(b *testing.B, size int) {
	w := newBenchWorld(b, size)
	chain, _ := w.a.IssueSVID(b, "spiffe://a.example/ns/prod/api", workloadtest.WithIntermediate())
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.bundles.VerifyX509(chain, now, workload.SourceXFCC); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyJWTSVID verifies one JWT-SVID (ES256) in full, with the
// cache off.
func BenchmarkVerifyJWTSVID(b *testing.B) { benchmarkVerifyJWTSVID(b, -1) }

// BenchmarkVerifyJWTSVIDCached is BenchmarkVerifyJWTSVID with the cache on:
// the token's SHA-256, the key check and the claims.
func BenchmarkVerifyJWTSVIDCached(b *testing.B) { benchmarkVerifyJWTSVID(b, 0) }

func benchmarkVerifyJWTSVID(b *testing.B, size int) {
	w := newBenchWorld(b, size)
	now := time.Now()
	tok := w.a.SignJWTSVID(b, "spiffe://a.example/ns/ci/runner", aud, now.Add(5*time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.bundles.VerifyJWT(tok, aud, now); err != nil {
			b.Fatal(err)
		}
	}
}

type benchWorld struct {
	a       *workloadtest.CA
	bundles *workload.Bundles
}

func newBenchWorld(b *testing.B, size int) benchWorld {
	a := workloadtest.NewCA(b, "a.example")
	bundles := workload.NewBundles(x509bundle.NewSet(a.X509Bundle()), jwtbundle.NewSet(a.JWTBundle()))
	return benchWorld{a: a, bundles: bundles.WithCache(workload.CacheConfig{Size: size})}
}
