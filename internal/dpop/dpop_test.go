package dpop

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/reason"
)

const (
	testOrigin = "https://api.example.com"
	testNow    = 1_700_000_000 // Unix seconds of the pinned test clock
)

func testClock() time.Time { return time.Unix(testNow, 0) }

// rfc8792Unwrap undoes the single-backslash line wrapping of RFC 8792 and
// drops the "DPoP: " field name.
func rfc8792Unwrap(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`\\\n[ \t]*`).ReplaceAllString(strings.TrimSpace(string(b)), "")
	return strings.TrimPrefix(s, "DPoP: ")
}

func TestRFC9449Examples(t *testing.T) {
	const rfcJKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I" // RFC 9449 section 6.1
	tests := []struct {
		file, origin, method, path, token string
		iat                               int64
	}{
		{"testdata/rfc9449_sec4.1.txt", "https://server.example.com", "POST", "/token", "", 1562262616},
		{"testdata/rfc9449_sec5_refresh.txt", "https://server.example.com", "POST", "/token", "", 1562265296},
		{"testdata/rfc9449_sec7.1.txt", "https://resource.example.org", "GET", "/protectedresource",
			"Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", 1562262618},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			proof := rfc8792Unwrap(t, tt.file)
			req := Request{Proof: proof, Method: tt.method, Path: tt.path, AccessToken: tt.token}
			cfg := Config{Origins: []string{tt.origin}}

			pinned := func() time.Time { return time.Unix(tt.iat, 0) }
			v, err := New(cfg, newMemCache(), pinned)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), req)
			if err != nil {
				t.Fatalf("RFC example rejected with the clock at its iat: %v", err)
			}
			if p.JKT != rfcJKT {
				t.Errorf("JKT = %q, want %q", p.JKT, rfcJKT)
			}
			if p.IssuedAt.Unix() != tt.iat || p.HTM != tt.method || p.HTU != tt.origin+tt.path {
				t.Errorf("proof = %+v", p)
			}

			real, err := New(cfg, newMemCache(), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = real.Verify(context.Background(), req)
			if got := reason.Of(err); got != reason.DPoPIATWindow {
				t.Fatalf("with the real clock: code %q (%v), want %q", got, err, reason.DPoPIATWindow)
			}
		})
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	raw, err := os.ReadFile("testdata/rfc7638_key.json")
	if err != nil {
		t.Fatal(err)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(&k)
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %q, want %q", got, want)
	}
	if _, err := Thumbprint(nil); err == nil {
		t.Fatal("Thumbprint(nil) succeeded")
	}
	if _, err := Thumbprint(&jose.JSONWebKey{}); err == nil {
		t.Fatal("Thumbprint of an empty key succeeded")
	}
}

func TestATH(t *testing.T) {
	// RFC 9449 section 7.1.
	if got, want := ATH("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Fatalf("ATH = %q, want %q", got, want)
	}
}

// verifyCase is one row of TestVerify: a good proof, changed.
type verifyCase struct {
	name   string
	header func(h map[string]any)
	claims func(c map[string]any)
	req    func(r *Request)
	proof  func(t *testing.T, k *testKey, good string) string
	twice  bool // verify the same proof twice; want is for the second time
	want   reason.Code
}

func verifyCases() []verifyCase {
	setClaim := func(name string, v any) func(map[string]any) {
		return func(c map[string]any) { c[name] = v }
	}
	delClaim := func(name string) func(map[string]any) {
		return func(c map[string]any) { delete(c, name) }
	}
	const token = "an-access-token"
	withToken := func(r *Request) { r.AccessToken = token }
	return []verifyCase{
		{name: "valid", want: reason.OK},
		{name: "replayed", twice: true, want: reason.DPoPReplayed},

		{name: "htm other method", claims: setClaim("htm", "POST"), want: reason.DPoPHTMMismatch},
		{name: "htm lower case", claims: setClaim("htm", "get"), want: reason.DPoPHTMMismatch},
		{name: "htm missing", claims: delClaim("htm"), want: reason.DPoPHTMMismatch},

		{name: "htu other path", claims: setClaim("htu", testOrigin+"/other"), want: reason.DPoPHTUMismatch},
		{name: "htu other host", claims: setClaim("htu", "https://evil.example.com/res"), want: reason.DPoPHTUMismatch},
		{name: "htu http not https", claims: setClaim("htu", "http://api.example.com/res"), want: reason.DPoPHTUMismatch},
		{name: "htu other port", claims: setClaim("htu", "https://api.example.com:8443/res"), want: reason.DPoPHTUMismatch},
		{name: "htu trailing slash", claims: setClaim("htu", testOrigin+"/res/"), want: reason.DPoPHTUMismatch},
		{name: "htu missing", claims: delClaim("htu"), want: reason.DPoPHTUMismatch},
		{name: "htu relative", claims: setClaim("htu", "/res"), want: reason.DPoPHTUMismatch},
		{name: "htu userinfo", claims: setClaim("htu", "https://user@api.example.com/res"), want: reason.DPoPHTUMismatch},
		{name: "htu query only difference", claims: setClaim("htu", testOrigin+"/res?a=1#frag"),
			req: func(r *Request) { r.Path = "/res?b=2" }, want: reason.OK},
		{name: "htu normalized", claims: setClaim("htu", "HTTPS://API.Example.COM:443/%7eres/../res"), want: reason.OK},
		{name: "request path not origin-form", req: func(r *Request) { r.Path = "https://api.example.com/res" },
			want: reason.DPoPHTUMismatch},

		{name: "ath missing", req: withToken, want: reason.DPoPATHMissing},
		{name: "ath wrong", req: withToken, claims: setClaim("ath", ATH("another-token")), want: reason.DPoPATHMismatch},
		{name: "ath right", req: withToken, claims: setClaim("ath", ATH(token)), want: reason.OK},
		{name: "ath without token", claims: setClaim("ath", ATH(token)), want: reason.OK},

		{name: "iat too old", claims: setClaim("iat", testNow-61), want: reason.DPoPIATWindow},
		{name: "iat oldest allowed", claims: setClaim("iat", testNow-60), want: reason.OK},
		{name: "iat too far in the future", claims: setClaim("iat", testNow+6), want: reason.DPoPIATWindow},
		{name: "iat furthest allowed", claims: setClaim("iat", testNow+5), want: reason.OK},
		{name: "iat fraction", claims: setClaim("iat", testNow+0.5), want: reason.OK},
		{name: "iat string", claims: setClaim("iat", "1700000000"), want: reason.DPoPIATWindow},
		{name: "iat missing", claims: delClaim("iat"), want: reason.DPoPIATWindow},
		{name: "iat negative", claims: setClaim("iat", -1), want: reason.DPoPIATWindow},

		{name: "jti missing", claims: delClaim("jti"), want: reason.DPoPJTIMissing},
		{name: "jti empty", claims: setClaim("jti", ""), want: reason.DPoPJTIMissing},
		{name: "jti too long", claims: setClaim("jti", strings.Repeat("j", maxJTILen+1)), want: reason.DPoPMalformed},
		{name: "jti number", claims: setClaim("jti", 42), want: reason.DPoPMalformed},

		{name: "typ JWT", header: func(h map[string]any) { h["typ"] = "JWT" }, want: reason.DPoPType},
		{name: "typ other case", header: func(h map[string]any) { h["typ"] = "DPoP+JWT" }, want: reason.DPoPType},
		{name: "typ missing", header: func(h map[string]any) { delete(h, "typ") }, want: reason.DPoPType},

		{name: "alg HS256", header: func(h map[string]any) { h["alg"] = "HS256" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg none", header: func(h map[string]any) { h["alg"] = "none" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg not in allow-list", header: func(h map[string]any) { h["alg"] = "RS512" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg Ed448", header: func(h map[string]any) { h["alg"] = "Ed448" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg ed25519 (case differs)", header: func(h map[string]any) { h["alg"] = "ed25519" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg EDDSA (case differs)", header: func(h map[string]any) { h["alg"] = "EDDSA" }, want: reason.DPoPAlgNotAllowed},
		{name: "alg does not fit key", header: func(h map[string]any) { h["alg"] = "ES384" }, want: reason.DPoPBadSignature},

		{name: "jwk missing", header: func(h map[string]any) { delete(h, "jwk") }, want: reason.DPoPKeyMissing},
		{name: "jwk null", header: func(h map[string]any) { h["jwk"] = nil }, want: reason.DPoPKeyMissing},
		{name: "jwk not an object", header: func(h map[string]any) { h["jwk"] = "key" }, want: reason.DPoPMalformed},
		{name: "jwk private", proof: func(t *testing.T, k *testKey, _ string) string {
			h := k.header()
			h["jwk"] = k.full
			return k.sign(t, h, goodClaims(t))
		}, want: reason.DPoPPrivateKey},
		{name: "jwk plus x5c", header: func(h map[string]any) { h["x5c"] = []string{"MIIBAA"} }, want: reason.DPoPMalformed},
		{name: "jwk plus jku", header: func(h map[string]any) { h["jku"] = "https://evil.example.com/jwks" }, want: reason.DPoPMalformed},
		{name: "crit header", header: func(h map[string]any) { h["crit"] = []string{"exp"} }, want: reason.DPoPMalformed},

		{name: "bad signature", proof: func(t *testing.T, k *testKey, good string) string {
			other := k.sign(t, k.header(), goodClaims(t)) // same key, other jti
			return good[:strings.LastIndexByte(good, '.')] + other[strings.LastIndexByte(other, '.'):]
		}, want: reason.DPoPBadSignature},
		{name: "two proofs comma-joined", proof: func(_ *testing.T, _ *testKey, good string) string {
			return good + ", " + good
		}, want: reason.DPoPMalformed},
		{name: "empty", proof: func(*testing.T, *testKey, string) string { return "" }, want: reason.DPoPProofMissing},
		{name: "too large", claims: setClaim("pad", strings.Repeat("p", DefaultMaxProofBytes)), want: reason.DPoPMalformed},
		{name: "duplicate claim", proof: func(t *testing.T, k *testKey, _ string) string {
			payload := `{"jti":"a","jti":"b","htm":"GET","htu":"` + testOrigin + `/res","iat":1700000000}`
			return k.signRaw(t, k.alg, mustJSON(t, k.header()), []byte(payload))
		}, want: reason.DPoPMalformed},
		{name: "claims not an object", proof: func(t *testing.T, k *testKey, _ string) string {
			return k.signRaw(t, k.alg, mustJSON(t, k.header()), []byte(`["jti"]`))
		}, want: reason.DPoPMalformed},
	}
}

func goodClaims(t testing.TB) map[string]any {
	return map[string]any{"jti": randomJTI(t), "htm": "GET", "htu": testOrigin + "/res", "iat": testNow}
}

func TestVerify(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "PS256"} {
		k := newTestKey(t, alg)
		for _, tc := range verifyCases() {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				runVerifyCase(t, k, tc)
			})
		}
	}
}

func runVerifyCase(t *testing.T, k *testKey, tc verifyCase) {
	cache := newMemCache()
	v, err := New(Config{Origins: []string{testOrigin}}, cache, testClock)
	if err != nil {
		t.Fatal(err)
	}
	h, c := k.header(), goodClaims(t)
	if tc.header != nil {
		tc.header(h)
	}
	if tc.claims != nil {
		tc.claims(c)
	}
	proof := k.sign(t, h, c)
	if tc.proof != nil {
		proof = tc.proof(t, k, proof)
	}
	req := Request{Proof: proof, Method: "GET", Path: "/res"}
	if tc.req != nil {
		tc.req(&req)
	}
	ctx := context.Background()
	if tc.twice {
		if _, err := v.Verify(ctx, req); err != nil {
			t.Fatalf("first use: %v", err)
		}
	}
	p, err := v.Verify(ctx, req)
	if tc.want != reason.OK {
		if got := reason.Of(err); got != tc.want {
			t.Fatalf("code %q (%v), want %q", got, err, tc.want)
		}
		if p != nil {
			t.Fatal("rejected proof returned a Proof")
		}
		if !tc.twice && len(cache.keys) != 0 {
			t.Fatal("a rejected proof reached the replay cache")
		}
		return
	}
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	if p.JKT != k.thumbprint(t) || p.JTI != c["jti"] || p.HTM != c["htm"] || p.HTU != c["htu"] {
		t.Fatalf("proof = %+v", p)
	}
	if !p.Key.IsPublic() {
		t.Fatal("Proof.Key is not a public key")
	}
	wantKey := "dpop:" + p.JKT + ":" + p.JTI
	if len(cache.keys) != 1 || cache.keys[0] != wantKey {
		t.Fatalf("replay keys %q, want [%q]", cache.keys, wantKey)
	}
	if until := cache.m[wantKey]; !until.Equal(p.IssuedAt.Add(DefaultMaxAge + DefaultLeeway)) {
		t.Fatalf("replay entry until %v, want iat+65s", until)
	}
}

func TestRejectedProofKeepsJTI(t *testing.T) {
	k := newTestKey(t, "ES256")
	v, err := New(Config{Origins: []string{testOrigin}}, newMemCache(), testClock)
	if err != nil {
		t.Fatal(err)
	}
	proof := k.sign(t, k.header(), goodClaims(t))
	ctx := context.Background()
	_, err = v.Verify(ctx, Request{Proof: proof, Method: "POST", Path: "/res"})
	if reason.Of(err) != reason.DPoPHTMMismatch {
		t.Fatalf("wrong method: %v", err)
	}
	if _, err := v.Verify(ctx, Request{Proof: proof, Method: "GET", Path: "/res"}); err != nil {
		t.Fatalf("proof rejected after an earlier rejection: %v", err)
	}
}

func TestReplayCacheErrorFailsClosed(t *testing.T) {
	k := newTestKey(t, "ES256")
	cache := newMemCache()
	cache.err = reason.Wrap(reason.ReplayCacheFull, "full", replay.ErrFull)
	v, err := New(Config{Origins: []string{testOrigin}}, cache, testClock)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), Request{Proof: k.sign(t, k.header(), goodClaims(t)), Method: "GET", Path: "/res"})
	if p != nil || reason.Of(err) != reason.ReplayCacheFull || !errors.Is(err, replay.ErrFull) {
		t.Fatalf("Verify = %v, %v; want ReplayCacheFull wrapping replay.ErrFull", p, err)
	}

	cache.err = errors.New("connection refused")
	_, err = v.Verify(context.Background(), Request{Proof: k.sign(t, k.header(), goodClaims(t)), Method: "GET", Path: "/res"})
	if reason.Of(err) != reason.ReplayCacheFull {
		t.Fatalf("Verify = %v; want ReplayCacheFull", err)
	}
}

func TestVerifyNonce(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	lifetime := 5 * time.Minute
	k := newTestKey(t, "ES256")
	nonceAt := func(t *testing.T, key []byte, at time.Time) string {
		v, err := New(Config{Origins: []string{testOrigin}, NonceKey: key}, newMemCache(), func() time.Time { return at })
		if err != nil {
			t.Fatal(err)
		}
		return v.Nonce()
	}
	now := testClock()
	tests := []struct {
		name  string
		nonce any // nil: no nonce claim
		want  reason.Code
	}{
		{"valid", nonceAt(t, key, now), reason.OK},
		{"previous step", nonceAt(t, key, now.Add(-lifetime)), reason.OK},
		{"missing", nil, reason.DPoPNonceRequired},
		{"empty", "", reason.DPoPNonceRequired},
		{"expired", nonceAt(t, key, now.Add(-2*lifetime)), reason.DPoPNonceRequired},
		{"from the future", nonceAt(t, key, now.Add(2*lifetime)), reason.DPoPNonceRequired},
		{"forged with another key", nonceAt(t, []byte(strings.Repeat("x", 32)), now), reason.DPoPNonceInvalid},
		{"junk", "not-a-nonce", reason.DPoPNonceInvalid},
		{"junk of the right length", strings.Repeat("A", nonceEncLen), reason.DPoPNonceInvalid},
		{"not a string", 7, reason.DPoPMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Config{Origins: []string{testOrigin}, NonceKey: key, NonceLifetime: lifetime}, newMemCache(), testClock)
			if err != nil {
				t.Fatal(err)
			}
			c := goodClaims(t)
			if tt.nonce != nil {
				c["nonce"] = tt.nonce
			}
			_, err = v.Verify(context.Background(), Request{Proof: k.sign(t, k.header(), c), Method: "GET", Path: "/res"})
			if got := reason.Of(err); got != tt.want {
				t.Fatalf("code %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestNonceOff(t *testing.T) {
	v, err := New(Config{Origins: []string{testOrigin}}, newMemCache(), testClock)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.Nonce(); n != "" {
		t.Fatalf("Nonce() = %q with nonces off", n)
	}
}

func TestNewConfig(t *testing.T) {
	o := []string{testOrigin}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Origins: o}, true},
		{"no origins", Config{}, false},
		{"origin with path", Config{Origins: []string{"https://api.example.com/v1"}}, false},
		{"origin with trailing slash", Config{Origins: []string{"https://api.example.com/"}}, true},
		{"origin with query", Config{Origins: []string{"https://api.example.com?x"}}, false},
		{"origin without scheme", Config{Origins: []string{"api.example.com"}}, false},
		{"origin ftp", Config{Origins: []string{"ftp://api.example.com"}}, false},
		{"origin with port", Config{Origins: []string{"https://api.example.com:8443"}}, true},
		{"alg HS256", Config{Origins: o, Algorithms: []string{"ES256", "HS256"}}, false},
		{"alg none", Config{Origins: o, Algorithms: []string{"none"}}, false},
		{"alg unknown", Config{Origins: o, Algorithms: []string{"ES256K"}}, false},
		{"alg list", Config{Origins: o, Algorithms: []string{"ES384", "PS512"}}, true},
		{"short nonce key", Config{Origins: o, NonceKey: []byte("short")}, false},
		{"empty nonce key", Config{Origins: o, NonceKey: []byte{}}, false},
		{"nonce key", Config{Origins: o, NonceKey: make([]byte, 32)}, true},
		{"negative max age", Config{Origins: o, MaxAge: -time.Second}, false},
		{"tiny nonce lifetime", Config{Origins: o, NonceLifetime: time.Millisecond}, false},
		{"huge proof limit", Config{Origins: o, MaxProofBytes: 1 << 20}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, newMemCache(), nil)
			if (err == nil) != tt.ok {
				t.Fatalf("New: %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, err := New(Config{Origins: o}, nil, nil); err == nil {
		t.Fatal("New without a replay cache succeeded")
	}
}

func TestOriginsAndAlgorithms(t *testing.T) {
	k := newTestKey(t, "ES256")
	v, err := New(Config{
		Origins:    []string{"https://other.example.com", "HTTPS://API.EXAMPLE.COM:443/"},
		Algorithms: []string{"ES256"},
	}, newMemCache(), testClock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), Request{Proof: k.sign(t, k.header(), goodClaims(t)), Method: "GET", Path: "/res"}); err != nil {
		t.Fatalf("second origin not matched: %v", err)
	}
	ed := newTestKey(t, "EdDSA")
	_, err = v.Verify(context.Background(), Request{Proof: ed.sign(t, ed.header(), goodClaims(t)), Method: "GET", Path: "/res"})
	if reason.Of(err) != reason.DPoPAlgNotAllowed {
		t.Fatalf("EdDSA with allow-list [ES256]: %v", err)
	}
}

func BenchmarkVerifyES256(b *testing.B) {
	k := newTestKey(b, "ES256")
	v, err := New(Config{Origins: []string{testOrigin}}, newMemCache(), testClock)
	if err != nil {
		b.Fatal(err)
	}
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = k.sign(b, k.header(), goodClaims(b))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, Request{Proof: proofs[i], Method: "GET", Path: "/res"}); err != nil {
			b.Fatal(err)
		}
	}
}
