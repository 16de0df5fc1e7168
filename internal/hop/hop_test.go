package hop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/reason"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// world is a set of hops with keys, and the verifier that knows them.
type world struct {
	signers map[string]*Signer
	keys    Keys
}

func newWorld(t testing.TB, names ...string) *world {
	t.Helper()
	w := &world{signers: map[string]*Signer{}, keys: Keys{}}
	for i, name := range names {
		var key crypto.Signer
		var err error
		if i%2 == 0 {
			_, key, err = ed25519.GenerateKey(rand.Reader)
		} else {
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.signers[name] = &Signer{Name: name, Key: key, Now: fixedClock(t0)}
		w.keys[name] = Key{Name: name, Public: key.Public()}
	}
	return w
}

func (w *world) verifier() *Verifier {
	return &Verifier{Keys: w.keys, Now: fixedClock(t0.Add(2 * time.Second))}
}

// chain signs r through the named hops in order and returns the attestations.
func (w *world) chain(t testing.TB, r Request, names ...string) []string {
	t.Helper()
	value := ""
	for _, n := range names {
		var err error
		if value, err = w.signers[n].Sign(value, r); err != nil {
			t.Fatalf("sign %s: %v", n, err)
		}
	}
	return strings.Split(value, ",")
}

var testReq = Request{Method: "POST", Target: "/v1/tickets?queue=support", CredentialDigest: CredentialDigest("token-abc")}

func wantCode(t *testing.T, err error, want reason.Code) {
	t.Helper()
	var re *reason.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *reason.Error (want %s)", err, want)
	}
	if re.Code != want {
		t.Fatalf("code = %s (%v), want %s", re.Code, err, want)
	}
}

func TestCredentialDigest(t *testing.T) {
	// RFC 9449 section 7.1: the access token and its "ath".
	got := CredentialDigest("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
	if want := "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"; got != want {
		t.Errorf("CredentialDigest = %s, want %s", got, want)
	}
	if got := CredentialDigest(""); got != "" {
		t.Errorf("CredentialDigest(\"\") = %q, want empty", got)
	}
}

func TestVerifyValidChains(t *testing.T) {
	w := newWorld(t, "edge", "waf", "gateway")
	noCred := Request{Method: "GET", Target: "/healthz"}
	tests := []struct {
		name string
		req  Request
		hops []string
	}{
		{"one hop EdDSA", testReq, []string{"edge"}},
		{"one hop ES256", testReq, []string{"waf"}},
		{"two hops", testReq, []string{"edge", "waf"}},
		{"three hops", testReq, []string{"edge", "waf", "gateway"}},
		{"no credential", noCred, []string{"edge", "waf", "gateway"}},
		{"same hop twice", testReq, []string{"edge", "edge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			atts := w.chain(t, tt.req, tt.hops...)
			got, err := w.verifier().Verify([]string{strings.Join(atts, ",")}, tt.req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !MatchChain(tt.hops, got.Hops) {
				t.Errorf("Hops = %v, want %v", got.Hops, tt.hops)
			}
			if len(got.IssuedAt) != len(tt.hops) || !got.IssuedAt[0].Equal(t0) {
				t.Errorf("IssuedAt = %v, want %d times equal to %v", got.IssuedAt, len(tt.hops), t0)
			}
		})
	}
}

func TestVerifyHeaderLines(t *testing.T) {
	w := newWorld(t, "edge", "waf", "gateway")
	atts := w.chain(t, testReq, "edge", "waf", "gateway")
	tests := []struct {
		name   string
		values []string
		hops   []string
		code   reason.Code
	}{
		{"none", nil, nil, reason.OK},
		{"one blank line", []string{" "}, nil, reason.OK},
		{"lines joined in order", []string{atts[0], atts[1] + " , " + atts[2]}, []string{"edge", "waf", "gateway"}, reason.OK},
		{"optional whitespace", []string{" " + atts[0] + ",\t" + atts[1] + " "}, []string{"edge", "waf"}, reason.OK},
		{"lines in wrong order", []string{atts[1], atts[0]}, nil, reason.HopChainBroken},
		{"empty element", []string{atts[0] + ",," + atts[1]}, nil, reason.HopMalformed},
		{"trailing comma", []string{atts[0] + ","}, nil, reason.HopMalformed},
		{"blank line among others", []string{atts[0], "", atts[1]}, nil, reason.HopMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.verifier().Verify(tt.values, testReq)
			if tt.code != reason.OK {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !MatchChain(tt.hops, got.Hops) {
				t.Errorf("Hops = %v, want %v", got.Hops, tt.hops)
			}
		})
	}
}

func TestVerifyChainAttacks(t *testing.T) {
	w := newWorld(t, "edge", "waf", "gateway")
	a := w.chain(t, testReq, "edge", "waf", "gateway")
	other := w.chain(t, Request{Method: "POST", Target: "/v1/other", CredentialDigest: testReq.CredentialDigest}, "edge", "waf", "gateway")
	tests := []struct {
		name string
		atts []string
		code reason.Code
	}{
		{"missing middle hop", []string{a[0], a[2]}, reason.HopChainBroken},
		{"missing first hop", []string{a[1], a[2]}, reason.HopChainBroken},
		{"reordered", []string{a[1], a[0], a[2]}, reason.HopChainBroken},
		{"last two swapped", []string{a[0], a[2], a[1]}, reason.HopChainBroken},
		{"duplicated hop", []string{a[0], a[0], a[1]}, reason.HopChainBroken},
		{"spliced from another request", []string{a[0], a[1], other[2]}, reason.HopRequestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.verifier().Verify([]string{strings.Join(tt.atts, ",")}, testReq)
			wantCode(t, err, tt.code)
		})
	}
}

func TestVerifyRequestBinding(t *testing.T) {
	w := newWorld(t, "edge", "waf")
	value := strings.Join(w.chain(t, testReq, "edge", "waf"), ",")
	tests := []struct {
		name string
		req  Request
	}{
		{"other target", Request{testReq.Method, "/v1/tickets?queue=billing", testReq.CredentialDigest}},
		{"other method", Request{"GET", testReq.Target, testReq.CredentialDigest}},
		{"other credential", Request{testReq.Method, testReq.Target, CredentialDigest("token-xyz")}},
		{"no credential", Request{testReq.Method, testReq.Target, ""}},
		{"method case", Request{"post", testReq.Target, testReq.CredentialDigest}},
		{"newline smuggling", Request{testReq.Method + "\n" + testReq.Target, "", testReq.CredentialDigest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.verifier().Verify([]string{value}, tt.req)
			wantCode(t, err, reason.HopRequestMismatch)
		})
	}
}

// signRaw signs any header and payload, to build attestations Sign refuses to.
func signRaw(t testing.TB, key any, alg jose.SignatureAlgorithm, hdr map[jose.HeaderKey]any, payload any) string {
	t.Helper()
	body, ok := payload.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	opts := &jose.SignerOptions{}
	for k, v := range hdr {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	c, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyRejects(t *testing.T) {
	w := newWorld(t, "edge", "waf")
	edgeKey := w.signers["edge"].Key
	req, _ := requestDigest(testReq)
	hdr := func(kid string) map[jose.HeaderKey]any {
		return map[jose.HeaderKey]any{"typ": Type, "kid": kid}
	}
	good := map[string]any{"v": 1, "hop": "edge", "iat": t0.Unix(), "req": req}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k2, v2 := range good {
			m[k2] = v2
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	valid := w.chain(t, testReq, "edge")[0]
	seg := strings.Split(valid, ".")
	tamperedPayload := seg[0] + "." + b64.EncodeToString([]byte(`{"v":1,"hop":"edge","iat":`+
		"1767323046"+`,"req":"`+req+`"}`)) + "." + seg[2]
	sig, _ := b64.DecodeString(seg[2])
	sig[0] ^= 1
	tamperedSig := seg[0] + "." + seg[1] + "." + b64.EncodeToString(sig)
	otherKey := signRaw(t, w.signers["waf"].Key, jose.ES256, hdr("edge"), good)
	jwkHdr := hdr("edge")
	jwkHdr["jwk"] = jose.JSONWebKey{Key: edgeKey.Public()}

	tests := []struct {
		name string
		att  string
		code reason.Code
	}{
		{"valid control", valid, reason.OK},
		{"garbage", "not-a-jws", reason.HopMalformed},
		{"tampered payload", tamperedPayload, reason.HopBadSignature},
		{"tampered signature", tamperedSig, reason.HopBadSignature},
		{"signed with another hop's key", otherKey, reason.HopBadSignature},
		{"unknown kid", signRaw(t, edgeKey, jose.EdDSA, hdr("rogue"), with("hop", "rogue")), reason.HopUnknownKey},
		{"empty kid", signRaw(t, edgeKey, jose.EdDSA, map[jose.HeaderKey]any{"typ": Type}, good), reason.HopUnknownKey},
		{"payload hop differs from kid", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("hop", "waf")), reason.HopUnknownKey},
		{"wrong typ", signRaw(t, edgeKey, jose.EdDSA, map[jose.HeaderKey]any{"typ": "JWT", "kid": "edge"}, good), reason.HopMalformed},
		{"no typ", signRaw(t, edgeKey, jose.EdDSA, map[jose.HeaderKey]any{"kid": "edge"}, good), reason.HopMalformed},
		{"header jwk", signRaw(t, edgeKey, jose.EdDSA, jwkHdr, good), reason.HopMalformed},
		{"symmetric alg", signRaw(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, hdr("edge"), good), reason.HopMalformed},
		{"version 2", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("v", 2)), reason.HopMalformed},
		{"no iat", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("iat", nil)), reason.HopMalformed},
		{"iat not a number", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("iat", "now")), reason.HopMalformed},
		{"req not a digest", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("req", "abc")), reason.HopMalformed},
		{"payload not JSON", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), []byte("hello")), reason.HopMalformed},
		{"duplicate member", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), []byte(`{"v":1,"hop":"edge","hop":"edge","iat":1,"req":"`+req+`"}`)), reason.HopMalformed},
		{"first hop with prev", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("prev", req)), reason.HopChainBroken},
		{"stale", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("iat", t0.Add(-40*time.Second).Unix())), reason.HopStale},
		{"in the future", signRaw(t, edgeKey, jose.EdDSA, hdr("edge"), with("iat", t0.Add(10*time.Second).Unix())), reason.HopStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.verifier().Verify([]string{tt.att}, testReq)
			if tt.code == reason.OK {
				if err != nil || !MatchChain([]string{"edge"}, got.Hops) {
					t.Fatalf("Verify = %v, %v; want [edge]", got.Hops, err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestVerifyKeyConfig(t *testing.T) {
	w := newWorld(t, "edge")
	value := w.chain(t, testReq, "edge")[0]
	pub := w.keys["edge"].Public
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys Keys
		code reason.Code
	}{
		{"name matches", Keys{"edge": {Name: "edge", Public: pub}}, reason.OK},
		{"name empty", Keys{"edge": {Public: pub}}, reason.OK},
		{"name differs from map key", Keys{"edge": {Name: "other", Public: pub}}, reason.HopUnknownKey},
		{"no keys", nil, reason.HopUnknownKey},
		{"unsupported key type", Keys{"edge": {Name: "edge", Public: &p384.PublicKey}}, reason.HopUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: tt.keys, Now: fixedClock(t0)}
			_, err := v.Verify([]string{value}, testReq)
			if tt.code == reason.OK {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestVerifyAge(t *testing.T) {
	w := newWorld(t, "edge")
	value := w.chain(t, testReq, "edge")[0] // iat = t0
	tests := []struct {
		name   string
		now    time.Time
		maxAge time.Duration
		leeway time.Duration
		code   reason.Code
	}{
		{"fresh", t0, 0, 0, reason.OK},
		{"at default max age", t0.Add(30 * time.Second), 0, 0, reason.OK},
		{"past default max age", t0.Add(31 * time.Second), 0, 0, reason.HopStale},
		{"past max age within leeway", t0.Add(33 * time.Second), 0, 5 * time.Second, reason.OK},
		{"custom max age", t0.Add(61 * time.Second), time.Minute, 0, reason.HopStale},
		{"future", t0.Add(-time.Second), 0, 0, reason.HopStale},
		{"future within leeway", t0.Add(-time.Second), 0, 2 * time.Second, reason.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Keys: w.keys, Now: fixedClock(tt.now), MaxAge: tt.maxAge, Leeway: tt.leeway}
			_, err := v.Verify([]string{value}, testReq)
			if tt.code == reason.OK {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestVerifyLimits(t *testing.T) {
	names := []string{"h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8", "h9"}
	w := newWorld(t, names...)
	nine := w.chain(t, testReq, names...)
	eight := strings.Join(nine[:8], ",")
	tests := []struct {
		name   string
		v      Verifier
		values []string
		code   reason.Code
	}{
		{"eight hops by default", Verifier{}, []string{eight}, reason.OK},
		{"nine hops by default", Verifier{}, []string{strings.Join(nine, ",")}, reason.HopTooMany},
		{"nine hops over lines", Verifier{}, []string{eight, nine[8]}, reason.HopTooMany},
		{"three hops over a max of two", Verifier{MaxHops: 2}, []string{strings.Join(nine[:3], ",")}, reason.HopTooMany},
		{"many empty elements", Verifier{}, []string{strings.Repeat(",", 100)}, reason.HopTooMany},
		{"too large", Verifier{MaxHeaderBytes: 1000}, []string{eight}, reason.HopMalformed},
		{"too large over lines", Verifier{MaxHeaderBytes: len(eight)}, []string{eight, ""}, reason.HopMalformed},
		{"default size limit", Verifier{}, []string{strings.Repeat("a", DefaultMaxHeaderBytes+1)}, reason.HopMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			v.Keys, v.Now = w.keys, fixedClock(t0)
			got, err := v.Verify(tt.values, testReq)
			if tt.code == reason.OK {
				if err != nil || !MatchChain(names[:8], got.Hops) {
					t.Fatalf("Verify = %v, %v", got.Hops, err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestTruncatedLastHopFailsMatchChain(t *testing.T) {
	w := newWorld(t, "edge", "waf", "gateway")
	required := []string{"edge", "waf", "gateway"}
	atts := w.chain(t, testReq, required...)
	got, err := w.verifier().Verify([]string{strings.Join(atts[:2], ",")}, testReq)
	if err != nil {
		t.Fatalf("a chain cut at its end still verifies, got %v", err)
	}
	if MatchChain(required, got.Hops) {
		t.Fatalf("MatchChain(%v, %v) = true, want false", required, got.Hops)
	}
}

func TestMatchChain(t *testing.T) {
	tests := []struct {
		required, got []string
		want          bool
	}{
		{nil, nil, true},
		{[]string{}, nil, true},
		{[]string{"a", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "b"}, []string{"a"}, false},
		{[]string{"a"}, []string{"a", "b"}, false},
		{[]string{"a", "b"}, []string{"b", "a"}, false},
		{[]string{"a"}, nil, false},
	}
	for _, tt := range tests {
		if got := MatchChain(tt.required, tt.got); got != tt.want {
			t.Errorf("MatchChain(%q, %q) = %v, want %v", tt.required, tt.got, got, tt.want)
		}
	}
}

func TestSignErrors(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		s     Signer
		prior string
		req   Request
	}{
		{"no name", Signer{Key: edKey}, "", testReq},
		{"no key", Signer{Name: "edge"}, "", testReq},
		{"P-384 key", Signer{Name: "edge", Key: p384}, "", testReq},
		{"no method", Signer{Name: "edge", Key: edKey}, "", Request{Target: "/"}},
		{"no target", Signer{Name: "edge", Key: edKey}, "", Request{Method: "GET"}},
		{"newline in target", Signer{Name: "edge", Key: edKey}, "", Request{Method: "GET", Target: "/a\nb"}},
		{"malformed prior", Signer{Name: "edge", Key: edKey}, "garbage", testReq},
		{"empty element in prior", Signer{Name: "edge", Key: edKey}, " , ", testReq},
		{"huge prior", Signer{Name: "edge", Key: edKey}, strings.Repeat("a", DefaultMaxHeaderBytes+1), testReq},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := tt.s.Sign(tt.prior, tt.req); err == nil {
				t.Fatalf("Sign = %q, want an error", got)
			}
		})
	}
}

func TestSignAppendsToPrior(t *testing.T) {
	w := newWorld(t, "edge", "waf")
	first, err := w.signers["edge"].Sign("  ", testReq) // blank prior: first hop
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.signers["waf"].Sign(" "+first+" ", testReq)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(second, first+",") || strings.Count(second, ",") != 1 {
		t.Fatalf("second value %q does not extend %q", second, first)
	}
	got, err := w.verifier().Verify([]string{second}, testReq)
	if err != nil || !MatchChain([]string{"edge", "waf"}, got.Hops) {
		t.Fatalf("Verify = %v, %v", got.Hops, err)
	}
}
