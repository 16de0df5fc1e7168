package credential

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/reason"
)

// swapSource is an issuer key source whose set the test replaces, as a JWKS
// refresh would, or makes unavailable.
type swapSource struct {
	set  atomic.Pointer[jose.JSONWebKeySet]
	down atomic.Bool
}

func (s *swapSource) Keys(ctx context.Context, kid string) (*jose.JSONWebKeySet, error) {
	if s.down.Load() {
		return nil, reason.New(reason.IssuerKeysUnavailable, "the test issuer is down")
	}
	return s.set.Load(), nil
}

func (s *swapSource) swap(keys ...jose.JSONWebKey) {
	s.set.Store(&jose.JSONWebKeySet{Keys: keys})
}

var (
	jwkES256 = jose.JSONWebKey{Key: keys.es256.Public(), KeyID: "es256", Algorithm: "ES256", Use: "sig"}
	jwkES384 = jose.JSONWebKey{Key: keys.es384.Public(), KeyID: "es384", Algorithm: "ES384", Use: "sig"}
)

// cacheFixture is a fixture whose issuer keys come from a swapSource.
func cacheFixture(t testing.TB, mutate ...func(*Config)) (*fixture, *swapSource) {
	t.Helper()
	src := &swapSource{}
	src.swap(jwkES256, jwkES384)
	fx := newFixture(t, append([]func(*Config){func(c *Config) { c.Issuers[0].Keys = src }}, mutate...)...)
	return fx, src
}

// TestCachedTokenStillJudged verifies a token once, so that it is cached,
// changes one thing, and presents it again: everything that depends on the
// moment or the request is judged again on a cache hit.
func TestCachedTokenStillJudged(t *testing.T) {
	ctx := context.Background()
	bearer := es256(t, claims(map[string]any{"sub": "svc-c", "jti": "jti-c", "nbf": testNow.Unix(), "exp": testNow.Add(5 * time.Minute).Unix()}))
	bound := es256(t, claims(map[string]any{"cnf": map[string]any{"jkt": thumb(t, keys.client)}}))
	cert, other := selfSigned(t, keys.client), selfSigned(t, keys.client2)
	sum := sha256.Sum256(cert.Raw)
	mtls := es256(t, claims(map[string]any{"cnf": map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}}))
	iat := testNow.Add(-time.Second)
	dpopReq := func(k string, jti string) Presented {
		key := keys.client
		if k == "client2" {
			key = keys.client2
		}
		return Presented{Authorization: "DPoP " + bound, DPoP: proof(t, key, "POST", "/tools", bound, jti, iat), Method: "POST", Target: "/tools"}
	}
	revoke := func(r revocation.Revocation) func(*testing.T, *fixture, *swapSource) {
		return func(t *testing.T, fx *fixture, _ *swapSource) {
			if r.Kind == revocation.KindFingerprint {
				r.Value = fx.fp.Of(bearer)
			}
			if _, err := fx.revs.Add(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	pBearer := Presented{Authorization: "Bearer " + bearer}
	cases := []struct {
		name   string
		first  Presented
		change func(*testing.T, *fixture, *swapSource)
		again  Presented
		want   reason.Code
		hit    bool // the second verification is answered from the cache
	}{
		{"unchanged", pBearer, nil, pBearer, reason.OK, true},
		{"clock moved, still valid", pBearer, func(_ *testing.T, fx *fixture, _ *swapSource) { fx.now = fx.now.Add(4 * time.Minute) }, pBearer, reason.OK, true},
		{"key set refreshed, key kept", pBearer, func(_ *testing.T, _ *fixture, s *swapSource) { s.swap(jwkES384, jwkES256) }, pBearer, reason.OK, true},

		{"revoked by fingerprint", pBearer, revoke(revocation.Revocation{Kind: revocation.KindFingerprint}), pBearer, reason.Revoked, true},
		{"revoked by jti", pBearer, revoke(revocation.Revocation{Kind: revocation.KindJTI, Value: "jti-c", Issuer: testIss}), pBearer, reason.Revoked, true},
		{"revoked by subject issued before", pBearer, revoke(revocation.Revocation{Kind: revocation.KindSubject, Value: "svc-c", IssuedBefore: testNow}), pBearer, reason.Revoked, true},
		{"revoked by issuer", pBearer, revoke(revocation.Revocation{Kind: revocation.KindIssuer, Value: testIss}), pBearer, reason.Revoked, true},

		{"expired", pBearer, func(_ *testing.T, fx *fixture, _ *swapSource) { fx.now = testNow.Add(5*time.Minute + DefaultLeeway) }, pBearer, reason.Expired, false},
		{"clock set back before nbf", pBearer, func(_ *testing.T, fx *fixture, _ *swapSource) { fx.now = testNow.Add(-DefaultLeeway - time.Second) }, pBearer, reason.NotYetValid, false},

		{"key removed from the JWKS", pBearer, func(_ *testing.T, _ *fixture, s *swapSource) { s.swap(jwkES384) }, pBearer, reason.JWSKeyNotFound, false},
		{"another key under the same kid", pBearer, func(_ *testing.T, _ *fixture, s *swapSource) {
			s.swap(jose.JSONWebKey{Key: keys.client.Public(), KeyID: "es256", Algorithm: "ES256", Use: "sig"})
		}, pBearer, reason.JWSBadSignature, false},
		{"same key under another alg", pBearer, func(_ *testing.T, _ *fixture, s *swapSource) {
			s.swap(jose.JSONWebKey{Key: keys.es256.Public(), KeyID: "es256", Algorithm: "ES384", Use: "sig"})
		}, pBearer, reason.JWSKeyAlgMismatch, false},
		{"issuer keys unavailable", pBearer, func(_ *testing.T, _ *fixture, s *swapSource) { s.down.Store(true) }, pBearer, reason.IssuerKeysUnavailable, false},

		{"DPoP proof from another key", dpopReq("client", "p1"), nil, dpopReq("client2", "p2"), reason.DPoPKeyMismatch, true},
		{"DPoP proof replayed", dpopReq("client", "p1"), nil, dpopReq("client", "p1"), reason.DPoPReplayed, true},
		{"DPoP proof missing", dpopReq("client", "p1"), nil, Presented{Authorization: "DPoP " + bound, Method: "POST", Target: "/tools"}, reason.DPoPProofMissing, true},
		{"DPoP-bound token as bearer", dpopReq("client", "p1"), nil, Presented{Authorization: "Bearer " + bound}, reason.DPoPBearerScheme, true},
		{"DPoP fresh proof", dpopReq("client", "p1"), nil, dpopReq("client", "p2"), reason.OK, true},

		{"mTLS another certificate", Presented{Authorization: "Bearer " + mtls, ClientCert: cert}, nil, Presented{Authorization: "Bearer " + mtls, ClientCert: other}, reason.MTLSThumbprintFailed, true},
		{"mTLS no certificate", Presented{Authorization: "Bearer " + mtls, ClientCert: cert}, nil, Presented{Authorization: "Bearer " + mtls}, reason.MTLSCertMissing, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx, src := cacheFixture(t)
			if res, err := fx.v.Verify(ctx, c.first); err != nil || !res.Accepted() {
				t.Fatalf("first: %s (%s), err %v", res.Reason, res.Message, err)
			}
			if st := fx.v.CacheStats(); st.Entries != 1 || st.Hits != 0 {
				t.Fatalf("after the first verification: %+v, want one entry", st)
			}
			if c.change != nil {
				c.change(t, fx, src)
			}
			res, _ := fx.v.Verify(ctx, c.again)
			if res.Reason != c.want {
				t.Fatalf("again: %s (%s), want %s", res.Reason, res.Message, c.want)
			}
			if hit := fx.v.CacheStats().Hits == 1; hit != c.hit {
				t.Errorf("answered from the cache = %v, want %v", hit, c.hit)
			}
		})
	}
}

// TestCacheHitSameResult: a result answered from the cache is the result a
// verifier without a cache gives, age included.
func TestCacheHitSameResult(t *testing.T) {
	ctx := context.Background()
	cached := newFixture(t)
	uncached := newFixture(t, func(c *Config) { c.CacheSize = -1 })
	tok := es256(t, claims(map[string]any{"act": map[string]any{"sub": "agent"}, "aud": []string{"x", testAud}}))
	p := Presented{Authorization: "Bearer " + tok}
	for i, step := range []time.Duration{0, 3 * time.Minute, 7 * time.Minute} {
		cached.now, uncached.now = testNow.Add(step), testNow.Add(step)
		got, err1 := cached.v.Verify(ctx, p)
		want, err2 := uncached.v.Verify(ctx, p)
		if err1 != nil || err2 != nil || !got.Accepted() {
			t.Fatalf("step %d: %s %v %v", i, got.Reason, err1, err2)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: cached result\n%+v\nwant\n%+v", i, got, want)
		}
	}
	if st := cached.v.CacheStats(); st.Hits != 2 {
		t.Errorf("cache %+v, want 2 hits", st)
	}
	if st := uncached.v.CacheStats(); st.Entries != 0 || st.Hits != 0 {
		t.Errorf("disabled cache %+v, want empty", st)
	}
}

// TestCacheKeepsOnlyAccepted: nothing refused is kept, so refused tokens
// cannot fill the cache.
func TestCacheKeepsOnlyAccepted(t *testing.T) {
	ctx := context.Background()
	valid := es256(t, claims(nil))
	cases := []struct {
		name string
		p    func(*fixture) Presented
	}{
		{"bad signature", func(*fixture) Presented { return Presented{Authorization: "Bearer " + valid[:len(valid)-4] + "AAAA"} }},
		{"other audience", func(*fixture) Presented {
			return Presented{Authorization: "Bearer " + es256(t, claims(map[string]any{"aud": "other"}))}
		}},
		{"expired", func(*fixture) Presented {
			return Presented{Authorization: "Bearer " + es256(t, claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}))}
		}},
		{"revoked", func(fx *fixture) Presented {
			if _, err := fx.revs.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fx.fp.Of(valid)}); err != nil {
				t.Fatal(err)
			}
			return Presented{Authorization: "Bearer " + valid}
		}},
		{"DPoP-bound without proof", func(*fixture) Presented {
			return Presented{Authorization: "DPoP " + es256(t, claims(map[string]any{"cnf": map[string]any{"jkt": thumb(t, keys.client)}}))}
		}},
		{"API key", func(*fixture) Presented { return Presented{Authorization: "Bearer sk_live_billing"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.v.Verify(ctx, c.p(fx))
			if st := fx.v.CacheStats(); st.Entries != 0 {
				t.Fatalf("cache %+v, want empty", st)
			}
		})
	}
}

// TestCacheBounded: however many distinct tokens are accepted, the cache
// holds at most its size.
func TestCacheBounded(t *testing.T) {
	ctx := context.Background()
	const size, tokens = 8, 300
	fx := newFixture(t, func(c *Config) { c.CacheSize = size })
	for i := range tokens {
		tok := es256(t, claims(map[string]any{"jti": fmt.Sprint("jti-", i)}))
		if res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tok}); !res.Accepted() {
			t.Fatalf("token %d: %s", i, res.Reason)
		}
		if st := fx.v.CacheStats(); st.Entries > size {
			t.Fatalf("after %d tokens the cache holds %d entries, more than %d", i+1, st.Entries, size)
		}
	}
	if st := fx.v.CacheStats(); st.Evictions < tokens-size {
		t.Errorf("cache %+v: want at least %d evictions", st, tokens-size)
	}
}

// TestCacheTTL: an entry is kept no longer than the TTL, even for a token
// valid much longer; the token is then verified again, and kept again.
func TestCacheTTL(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, func(c *Config) { c.CacheTTL = time.Minute })
	p := Presented{Authorization: "Bearer " + es256(t, claims(nil))}
	steps := []struct {
		after time.Duration
		hits  uint64
	}{{0, 0}, {30 * time.Second, 1}, {90 * time.Second, 1}, {100 * time.Second, 2}}
	for _, s := range steps {
		fx.now = testNow.Add(s.after)
		if res, _ := fx.v.Verify(ctx, p); !res.Accepted() {
			t.Fatalf("at +%s: %s", s.after, res.Reason)
		}
		if st := fx.v.CacheStats(); st.Hits != s.hits {
			t.Fatalf("at +%s: %+v, want %d hits", s.after, st, s.hits)
		}
	}
}

// TestCacheEntryIsForItsToken: an entry found under a token's fingerprint
// is used only for the exact bytes it was made from.
func TestCacheEntryIsForItsToken(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	good := es256(t, claims(nil))
	forged := good[:len(good)-4] + "AAAA"
	if res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + good}); !res.Accepted() {
		t.Fatal(res.Reason)
	}
	e, ok := fx.v.cache.Get(Fingerprint(fx.fp, good), fx.now, nil)
	if !ok {
		t.Fatal("the accepted token is not cached")
	}
	// As if the forged token's fingerprint collided with the good one's.
	fx.v.cache.Put(Fingerprint(fx.fp, forged), e, testNow.Add(time.Hour), fx.now)
	if res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + forged}); res.Reason != reason.JWSBadSignature {
		t.Fatalf("forged token: %s (%s), want %s", res.Reason, res.Message, reason.JWSBadSignature)
	}
}

// TestCacheConcurrent verifies tokens from many goroutines while keys are
// refreshed and a token is revoked; run it with -race.
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	fx, src := cacheFixture(t, func(c *Config) { c.CacheSize = 4 })
	toks := make([]string, 6)
	for i := range toks {
		toks[i] = es256(t, claims(map[string]any{"jti": fmt.Sprint("c-", i)}))
	}
	revoked := toks[0]
	var revokedDone atomic.Bool
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 150 {
				tok := toks[(g+i)%len(toks)]
				after := revokedDone.Load()
				res, err := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + tok})
				switch {
				case err != nil:
					t.Errorf("internal error: %v", err)
				case tok == revoked && after && res.Reason != reason.Revoked:
					t.Errorf("revoked token: %s", res.Reason)
				case tok != revoked && !res.Accepted():
					t.Errorf("token %d: %s", (g+i)%len(toks), res.Reason)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			src.swap(jwkES256, jwkES384)
			if i == 25 {
				if _, err := fx.revs.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "c-0", Issuer: testIss}); err != nil {
					t.Error(err)
				}
				revokedDone.Store(true)
			}
		}
	})
	wg.Wait()
	if res, _ := fx.v.Verify(ctx, Presented{Authorization: "Bearer " + revoked}); res.Reason != reason.Revoked {
		t.Fatalf("revoked token: %s", res.Reason)
	}
	if st := fx.v.CacheStats(); st.Entries > 4 || st.Hits == 0 {
		t.Errorf("cache %+v", st)
	}
}
