package dpop

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary proof strings through the whole verifier. It
// must never panic, and must never accept a proof it did not see signed.
func FuzzVerify(f *testing.F) {
	k := newTestKey(f, "ES256")
	good := k.sign(f, k.header(), goodClaims(f))
	f.Add(good, "GET", "/res")
	f.Add(good+","+good, "GET", "/res")
	f.Add("", "GET", "/")
	f.Add("e30.e30.AA", "POST", "/token")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7fX0.e30.AA", "GET", "/res")
	if b, err := os.ReadFile("testdata/rfc9449_sec4.1.txt"); err == nil {
		f.Add(strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(string(b), "DPoP: "), "\\\n ", ""), "\n", ""), "POST", "/token")
	}
	v, err := New(Config{
		Origins:  []string{testOrigin, "https://server.example.com"},
		NonceKey: []byte(strings.Repeat("k", 32)),
	}, newMemCache(), func() time.Time { return time.Unix(testNow, 0) })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, proof, method, path string) {
		p, err := v.Verify(context.Background(), Request{Proof: proof, Method: method, Path: path, AccessToken: "tok"})
		if err == nil || p != nil {
			// Nonces are on and no seed carries one: nothing may pass.
			t.Fatalf("accepted: %v %+v", err, p)
		}
	})
}

// FuzzNormalizeURI checks that the htu normal form is stable.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{
		"https://api.example.com/res", "HTTPS://API.Example.COM:443/%7eres/../a?q#f",
		"http://[::1]:80/a/./b/../../c", "https://h/%2f%2E%2e/", "https://h:/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := normalizeURI(s)
		if !ok {
			return
		}
		again, ok := normalizeURI(n)
		if !ok || again != n {
			t.Fatalf("normalizeURI(%q) = %q, but normalizeURI of that = %q, %v", s, n, again, ok)
		}
	})
}

// FuzzVerifyClaims signs arbitrary claim bytes with a real key, so the claim
// checks behind the signature get fuzzed too. An accepted proof must fit the
// request.
func FuzzVerifyClaims(f *testing.F) {
	k := newTestKey(f, "ES256")
	f.Add([]byte(`{"jti":"a","htm":"GET","htu":"https://api.example.com/res","iat":1700000000}`), "GET", "/res")
	f.Add([]byte(`{"jti":"b","htm":"POST","htu":"HTTPS://api.example.com:443/x/../res?q","iat":1.7e9,"ath":"x"}`), "POST", "/res?z")
	f.Add([]byte(`{"jti":"c","htm":"GET","htu":"https://api.example.com/%7e","iat":"1700000000"}`), "GET", "/~")
	hdr := mustJSON(f, k.header())
	f.Fuzz(func(t *testing.T, payload []byte, method, path string) {
		v, err := New(Config{Origins: []string{testOrigin}}, newMemCache(), testClock)
		if err != nil {
			t.Fatal(err)
		}
		proof := k.signRaw(t, k.alg, hdr, payload)
		p, err := v.Verify(context.Background(), Request{Proof: proof, Method: method, Path: path})
		if err != nil {
			return
		}
		if p.HTM != method || p.JTI == "" || len(p.JTI) > maxJTILen || !v.htuMatches(p.HTU, path) {
			t.Fatalf("accepted a proof that does not fit the request: %+v", p)
		}
		if d := p.IssuedAt.Sub(testClock()); d < -DefaultMaxAge || d > DefaultLeeway {
			t.Fatalf("accepted iat %v outside the window", p.IssuedAt)
		}
		if _, err := v.Verify(context.Background(), Request{Proof: proof, Method: method, Path: path}); err == nil {
			t.Fatal("replayed proof accepted")
		}
	})
}
