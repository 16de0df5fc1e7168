package workload_test

import (
	"crypto/x509"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/provost-dev/provost/internal/workload"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/reason"
)

// cacheWorld is one trust domain, a.example, whose bundles the tests change
// after a verification was cached.
type cacheWorld struct {
	a, rogueA, b *workloadtest.CA
	xb           *x509bundle.Bundle // a.example's X.509 bundle, in xs
	jb           *jwtbundle.Bundle  // a.example's JWT bundle, in js
	xs           *x509bundle.Set
	js           *jwtbundle.Set
	bundles      *workload.Bundles
}

func newCacheWorld(t *testing.T) *cacheWorld {
	t.Helper()
	w := &cacheWorld{
		a:      workloadtest.NewCA(t, "a.example"),
		rogueA: workloadtest.NewCA(t, "a.example"),
		b:      workloadtest.NewCA(t, "b.example"),
	}
	w.xb, w.jb = w.a.X509Bundle(), w.a.JWTBundle()
	w.xs, w.js = x509bundle.NewSet(w.xb), jwtbundle.NewSet(w.jb)
	w.bundles = workload.NewBundles(w.xs, w.js)
	return w
}

var tdA = spiffeid.RequireTrustDomainFromString("a.example")

// TestX509CacheStillJudged verifies a chain once, so that it is cached,
// changes one thing, and verifies it again.
func TestX509CacheStillJudged(t *testing.T) {
	now := time.Now()
	const id = "spiffe://a.example/ns/prod/api"
	leafOutlives := []workloadtest.SVIDOption{workloadtest.WithIntermediate(), workloadtest.WithValidity(now.Add(-3*time.Hour), now.Add(20*time.Hour))}
	cases := []struct {
		name   string
		opts   []workloadtest.SVIDOption
		change func(*cacheWorld)
		at     time.Duration // after now
		source string
		want   reason.Code
		hit    bool
		ttl    time.Duration // of the cache; 0: the default
	}{
		{"again", nil, nil, time.Minute, workload.SourceMTLS, reason.OK, true, 0},
		{"again, from another source", nil, nil, 0, workload.SourceXFCC, reason.OK, true, 0},
		{"bundle replaced by another CA's", nil, func(w *cacheWorld) { w.xs.Add(w.rogueA.X509Bundle()) }, 0, workload.SourceMTLS, reason.WorkloadUntrusted, false, 0},
		{"bundle replaced by an equal one", nil, func(w *cacheWorld) { w.xs.Add(w.a.X509Bundle()) }, 0, workload.SourceMTLS, reason.OK, false, 0},
		{"authority removed in place", nil, func(w *cacheWorld) { w.xb.SetX509Authorities(w.rogueA.Certificates()) }, 0, workload.SourceMTLS, reason.WorkloadUntrusted, false, 0},
		{"authority added in place", nil, func(w *cacheWorld) { w.xb.AddX509Authority(w.rogueA.Certificates()[0]) }, 0, workload.SourceMTLS, reason.OK, false, 0},
		{"trust domain removed", nil, func(w *cacheWorld) { w.xs.Remove(tdA) }, 0, workload.SourceMTLS, reason.WorkloadTrustDomain, false, 0},
		{"reloaded bundles", nil, func(w *cacheWorld) {
			w.bundles = workload.NewBundles(x509bundle.NewSet(w.rogueA.X509Bundle()), nil)
		}, 0, workload.SourceMTLS, reason.WorkloadUntrusted, false, 0},
		{"leaf expired", nil, nil, 2 * time.Hour, workload.SourceMTLS, reason.WorkloadExpired, false, 0},
		// The leaf (-3h, +20h) outlives the intermediate (-1h, +12h): the
		// cached chain must not outlive the intermediate, however long the
		// TTL, nor be used before it.
		{"intermediate expired", leafOutlives, nil, 12*time.Hour + time.Minute, workload.SourceMTLS, reason.WorkloadExpired, false, 24 * time.Hour},
		{"intermediate still valid", leafOutlives, nil, 11 * time.Hour, workload.SourceMTLS, reason.OK, true, 24 * time.Hour},
		{"clock set back before the intermediate", leafOutlives, nil, -2 * time.Hour, workload.SourceMTLS, reason.WorkloadExpired, false, 0},
		{"past the TTL", nil, nil, workload.DefaultCacheTTL, workload.SourceMTLS, reason.OK, false, 0},
		{"within a longer TTL", nil, nil, 50 * time.Minute, workload.SourceMTLS, reason.OK, true, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newCacheWorld(t)
			if c.ttl != 0 {
				w.bundles = w.bundles.WithCache(workload.CacheConfig{TTL: c.ttl})
			}
			chain, _ := w.a.IssueSVID(t, id, c.opts...)
			first, err := w.bundles.VerifyX509(chain, now, workload.SourceMTLS)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			if st, _ := w.bundles.CacheStats(); st.Entries != 1 {
				t.Fatalf("after the first verification: %+v, want one entry", st)
			}
			if c.change != nil {
				c.change(w)
			}
			got, err := w.bundles.VerifyX509(chain, now.Add(c.at), c.source)
			if code := reason.Of(err); code != c.want {
				t.Fatalf("again: %q (%v), want %q", code, err, c.want)
			}
			if st, _ := w.bundles.CacheStats(); (st.Hits == 1) != c.hit {
				t.Errorf("answered from the cache = %v, want %v (%+v)", st.Hits == 1, c.hit, st)
			}
			if err == nil {
				first.Source = c.source
				if got != first {
					t.Errorf("identity %+v, want %+v", got, first)
				}
			}
		})
	}
}

// TestX509CacheIsForItsChain: a cached chain is found only for the very
// same certificates, not for a forgery of the same length and SPIFFE ID.
func TestX509CacheIsForItsChain(t *testing.T) {
	w := newCacheWorld(t)
	now := time.Now()
	chain, _ := w.a.IssueSVID(t, "spiffe://a.example/api")
	if _, err := w.bundles.VerifyX509(chain, now, workload.SourceMTLS); err != nil {
		t.Fatal(err)
	}
	der := slices.Clone(chain[0].Raw)
	der[len(der)-1] ^= 1 // in the signature
	forged, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.bundles.VerifyX509([]*x509.Certificate{forged}, now, workload.SourceMTLS); reason.Of(err) != reason.WorkloadUntrusted {
		t.Fatalf("forged leaf: %v, want %s", err, reason.WorkloadUntrusted)
	}
}

// TestJWTCacheStillJudged verifies a JWT-SVID once, so that it is cached,
// changes one thing, and verifies it again.
func TestJWTCacheStillJudged(t *testing.T) {
	now := time.Now()
	const id = "spiffe://a.example/ns/ci/runner"
	exp := now.Add(5 * time.Minute)
	cases := []struct {
		name   string
		change func(*cacheWorld)
		at     time.Duration
		aud    string
		want   reason.Code
		hit    bool // the signature check is answered from the cache
	}{
		{"again", nil, time.Minute, aud, reason.OK, true},
		{"another audience", nil, 0, "https://other.example", reason.WorkloadJWTAudience, true},
		{"expired", nil, 5*time.Minute + workload.JWTClockSkew + time.Second, aud, reason.WorkloadExpired, false},
		{"key removed in place", func(w *cacheWorld) { w.jb.RemoveJWTAuthority(w.a.JWTKeyID()) }, 0, aud, reason.WorkloadJWTKeyUnknown, false},
		{"another key under the kid", func(w *cacheWorld) {
			if err := w.jb.AddJWTAuthority(w.a.JWTKeyID(), w.b.JWTBundle().JWTAuthorities()[w.b.JWTKeyID()]); err != nil {
				panic(err)
			}
		}, 0, aud, reason.WorkloadJWTBadSignature, false},
		{"bundle replaced by another", func(w *cacheWorld) { w.js.Add(w.rogueA.JWTBundle()) }, 0, aud, reason.WorkloadJWTKeyUnknown, false},
		{"bundle replaced by an equal one", func(w *cacheWorld) { w.js.Add(w.a.JWTBundle()) }, 0, aud, reason.OK, false},
		{"trust domain removed", func(w *cacheWorld) { w.js.Remove(tdA) }, 0, aud, reason.WorkloadTrustDomain, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newCacheWorld(t)
			tok := w.a.SignJWTSVID(t, id, aud, exp)
			first, err := w.bundles.VerifyJWT(tok, aud, now)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			if _, st := w.bundles.CacheStats(); st.Entries != 1 {
				t.Fatalf("after the first verification: %+v, want one entry", st)
			}
			if c.change != nil {
				c.change(w)
			}
			got, err := w.bundles.VerifyJWT(tok, c.aud, now.Add(c.at))
			if code := reason.Of(err); code != c.want {
				t.Fatalf("again: %q (%v), want %q", code, err, c.want)
			}
			if _, st := w.bundles.CacheStats(); (st.Hits == 1) != c.hit {
				t.Errorf("answered from the cache = %v, want %v (%+v)", st.Hits == 1, c.hit, st)
			}
			if err == nil && got != first {
				t.Errorf("identity %+v, want %+v", got, first)
			}
		})
	}
}

// TestCacheKeepsOnlyVerified: rejected chains and tokens are not kept.
func TestCacheKeepsOnlyVerified(t *testing.T) {
	w := newCacheWorld(t)
	now := time.Now()
	rogue, _ := w.rogueA.IssueSVID(t, "spiffe://a.example/api")
	expired, _ := w.a.IssueSVID(t, "spiffe://a.example/api", workloadtest.WithExpiredIntermediate())
	for _, chain := range [][]*x509.Certificate{rogue, expired} {
		if _, err := w.bundles.VerifyX509(chain, now, workload.SourceMTLS); err == nil {
			t.Fatal("a bad chain was accepted")
		}
	}
	for _, tok := range []string{
		w.rogueA.SignJWTSVID(t, "spiffe://a.example/api", aud, now.Add(time.Minute)),
		w.a.SignJWTSVID(t, "spiffe://a.example/api", "https://other.example", now.Add(time.Minute)),
	} {
		if _, err := w.bundles.VerifyJWT(tok, aud, now); err == nil {
			t.Fatal("a bad JWT-SVID was accepted")
		}
	}
	if chains, svids := w.bundles.CacheStats(); chains.Entries != 0 || svids.Entries != 0 {
		t.Fatalf("cached: chains %+v, JWT-SVIDs %+v; want none", chains, svids)
	}
}

// TestCacheBoundedAndOff: the caches hold at most their size; a negative
// size turns them off, and verification works the same.
func TestCacheBoundedAndOff(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name string
		cfg  workload.CacheConfig
		max  int
	}{
		{"bounded", workload.CacheConfig{Size: 4}, 4},
		{"off", workload.CacheConfig{Size: -1}, 0},
		{"off by TTL", workload.CacheConfig{TTL: -1}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newCacheWorld(t)
			b := w.bundles.WithCache(c.cfg)
			for i := range 40 {
				sid := fmt.Sprintf("spiffe://a.example/w/%d", i)
				chain, _ := w.a.IssueSVID(t, sid)
				for range 2 {
					if _, err := b.VerifyX509(chain, now, workload.SourceMTLS); err != nil {
						t.Fatal(err)
					}
					if _, err := b.VerifyJWT(w.a.SignJWTSVID(t, sid, aud, now.Add(time.Minute)), aud, now); err != nil {
						t.Fatal(err)
					}
				}
				chains, svids := b.CacheStats()
				if chains.Entries > c.max || svids.Entries > c.max {
					t.Fatalf("after %d: chains %+v, JWT-SVIDs %+v; want at most %d entries", i+1, chains, svids, c.max)
				}
			}
			if chains, _ := b.CacheStats(); (chains.Hits > 0) != (c.max > 0) {
				t.Errorf("chains %+v", chains)
			}
		})
	}
}

// TestCacheConcurrent verifies from many goroutines while the bundles are
// replaced; run it with -race.
func TestCacheConcurrent(t *testing.T) {
	w := newCacheWorld(t)
	w.bundles = w.bundles.WithCache(workload.CacheConfig{Size: 2})
	now := time.Now()
	chains := make([][]*x509.Certificate, 4)
	toks := make([]string, 4)
	for i := range chains {
		sid := fmt.Sprintf("spiffe://a.example/w/%d", i)
		chains[i], _ = w.a.IssueSVID(t, sid)
		toks[i] = w.a.SignJWTSVID(t, sid, aud, now.Add(time.Minute))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := w.bundles.VerifyX509(chains[(g+i)%4], now, workload.SourceMTLS); err != nil {
					t.Errorf("chain: %v", err)
				}
				if _, err := w.bundles.VerifyJWT(toks[(g+i)%4], aud, now); err != nil {
					t.Errorf("JWT-SVID: %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			w.xs.Add(w.a.X509Bundle())
			w.js.Add(w.a.JWTBundle())
		}
	})
	wg.Wait()
	w.xs.Add(w.rogueA.X509Bundle())
	if _, err := w.bundles.VerifyX509(chains[0], now, workload.SourceMTLS); reason.Of(err) != reason.WorkloadUntrusted {
		t.Fatalf("after the bundle changed: %v", err)
	}
}
