package posture

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/reason"
)

var t0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

// testCredential is the credential the fixture attestations are bound to;
// testBinding is the request that presents it to a Provost whose audiences
// are testAudience and one other.
const (
	testCredential = "example-access-token"
	testAudience   = "https://api.example"
)

var testBinding = Binding{
	Audiences:        []string{"https://api.other.example", testAudience},
	CredentialDigest: hop.CredentialDigest(testCredential),
}

type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

type fixture struct {
	ciKey, ciEd, edrKey signingKey
	verifier            *Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ec := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		ciKey:  signingKey{"ci-1", jose.ES256, ec()},
		ciEd:   signingKey{"ci-2", jose.EdDSA, ed},
		edrKey: signingKey{"edr-1", jose.ES256, ec()},
	}
	set := func(keys ...signingKey) *jose.JSONWebKeySet {
		s := &jose.JSONWebKeySet{}
		for _, k := range keys {
			jwk := jose.JSONWebKey{Key: k.key, KeyID: k.kid, Use: "sig"}
			s.Keys = append(s.Keys, jwk.Public())
		}
		return s
	}
	f.verifier = &Verifier{
		Attestors: []Attestor{
			{Name: "ci-attestor", Issuer: "https://attest.ci.example", Keys: set(f.ciKey, f.ciEd)},
			{Name: "edr", Issuer: "https://edr.example", Keys: set(f.edrKey), Algorithms: []string{"ES256"}, MaxAge: time.Minute},
		},
		Now: func() time.Time { return t0 },
	}
	return f
}

func sign(t testing.TB, k signingKey, hdr map[jose.HeaderKey]any, payload any) string {
	t.Helper()
	body, ok := payload.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	opts := &jose.SignerOptions{}
	for name, v := range hdr {
		opts.WithHeader(name, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(body)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func header(kid string) map[jose.HeaderKey]any {
	return map[jose.HeaderKey]any{"typ": Type, "kid": kid}
}

func ciClaims(changes map[string]any) map[string]any {
	c := map[string]any{
		"iss":          "https://attest.ci.example",
		"sub":          "runner-42",
		"iat":          t0.Add(-time.Minute).Unix(),
		"host_id":      "host-7f3a",
		"image_digest": "sha256:0d5f0e0c",
		"runner_type":  "self-hosted",
		"os":           "linux",
		"repository":   "acme/billing",
		"aud":          testAudience,
		"cred":         hop.CredentialDigest(testCredential),
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

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

func TestVerifyValid(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, f.ciKey, header("ci-1"), ciClaims(nil))
	p, err := f.verifier.Verify(tok, testBinding)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Posture{
		Attestor: "ci-attestor", Subject: "runner-42", Audience: testAudience, IssuedAt: t0.Add(-time.Minute),
		HostID: "host-7f3a", ImageDigest: "sha256:0d5f0e0c", RunnerType: "self-hosted", OS: "linux",
		Class: "ci-attestor/self-hosted/linux",
	}
	claims := p.Claims
	p.Claims = nil
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Verify = %+v\nwant      %+v", p, want)
	}
	p.Claims = claims
	if p.Claims["repository"] != "acme/billing" || p.Claims["host_id"] != "host-7f3a" || p.Claims["aud"] != testAudience {
		t.Errorf("Claims = %v, want all claims", p.Claims)
	}
	if _, ok := p.Claims["cred"]; ok {
		t.Errorf("Claims = %v, want no cred: the unkeyed credential digest is not passed on", p.Claims)
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		tok   string
		class string
	}{
		{"EdDSA key", sign(t, f.ciEd, header("ci-2"), ciClaims(nil)), "ci-attestor/self-hosted/linux"},
		{"typ with application/ prefix", sign(t, f.ciKey, map[jose.HeaderKey]any{"typ": "application/Posture+JWT", "kid": "ci-1"}, ciClaims(nil)), "ci-attestor/self-hosted/linux"},
		{"empty class parts", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"runner_type": nil, "os": ""})), "ci-attestor/-/-"},
		{"escaped class parts", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"runner_type": "a/b", "os": "win 11"})), "ci-attestor/a%2Fb/win%2011"},
		{"fractional iat", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"iat": float64(t0.Unix()) - 0.5})), "ci-attestor/self-hosted/linux"},
		{"exp in the future", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"exp": t0.Add(time.Minute).Unix()})), "ci-attestor/self-hosted/linux"},
		{"nbf in the past", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"nbf": t0.Add(-time.Minute).Unix()})), "ci-attestor/self-hosted/linux"},
		{"at max age", sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{"iat": t0.Add(-DefaultMaxAge).Unix()})), "ci-attestor/self-hosted/linux"},
		{"second attestor", sign(t, f.edrKey, header("edr-1"), ciClaims(map[string]any{"iss": "https://edr.example", "iat": t0.Unix()})), "edr/self-hosted/linux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.verifier.Verify(tt.tok, testBinding)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Class != tt.class {
				t.Errorf("Class = %q, want %q", p.Class, tt.class)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	valid := sign(t, f.ciKey, header("ci-1"), ciClaims(nil))
	seg := strings.Split(valid, ".")
	raw := base64.RawURLEncoding
	forged, _ := json.Marshal(ciClaims(map[string]any{"runner_type": "github-hosted"}))
	sig, _ := raw.DecodeString(seg[2])
	sig[5] ^= 0x10
	// A key under the same kid as ci-1, but not ci-attestor's.
	impostor := signingKey{"ci-1", jose.ES256, f.edrKey.key}
	jwkHdr := header("ci-1")
	jwkHdr["jwk"] = jose.JSONWebKey{Key: f.ciKey.key.(*ecdsa.PrivateKey).Public()}
	ci := func(changes map[string]any) string { return sign(t, f.ciKey, header("ci-1"), ciClaims(changes)) }

	tests := []struct {
		name string
		tok  string
		code reason.Code
	}{
		{"empty", "", reason.PostureMalformed},
		{"garbage", "a.b.c", reason.PostureMalformed},
		{"too large", valid + strings.Repeat("A", DefaultMaxBytes), reason.PostureMalformed},
		{"stale", ci(map[string]any{"iat": t0.Add(-DefaultMaxAge - time.Second).Unix()}), reason.PostureStale},
		{"stale for attestor max age", sign(t, f.edrKey, header("edr-1"), ciClaims(map[string]any{"iss": "https://edr.example", "iat": t0.Add(-2 * time.Minute).Unix()})), reason.PostureStale},
		{"issued in the future", ci(map[string]any{"iat": t0.Add(time.Second).Unix()}), reason.PostureNotYetValid},
		{"nbf in the future", ci(map[string]any{"nbf": t0.Add(time.Second).Unix()}), reason.PostureNotYetValid},
		{"expired", ci(map[string]any{"exp": t0.Unix()}), reason.PostureExpired},
		{"unknown issuer", ci(map[string]any{"iss": "https://evil.example"}), reason.PostureUnknownAttestor},
		{"unknown kid", sign(t, f.ciKey, header("ci-9"), ciClaims(nil)), reason.PostureUnknownAttestor},
		{"no kid", sign(t, f.ciKey, map[jose.HeaderKey]any{"typ": Type}, ciClaims(nil)), reason.PostureUnknownAttestor},
		{"key of another attestor", sign(t, f.edrKey, header("edr-1"), ciClaims(nil)), reason.PostureUnknownAttestor},
		{"other attestor's key under this kid", sign(t, impostor, header("ci-1"), ciClaims(nil)), reason.PostureBadSignature},
		{"tampered claims", seg[0] + "." + raw.EncodeToString(forged) + "." + seg[2], reason.PostureBadSignature},
		{"tampered signature", seg[0] + "." + seg[1] + "." + raw.EncodeToString(sig), reason.PostureBadSignature},
		{"alg not allowed for attestor", sign(t, signingKey{"edr-1", jose.EdDSA, f.ciEd.key}, header("edr-1"), ciClaims(map[string]any{"iss": "https://edr.example"})), reason.PostureBadSignature},
		{"symmetric alg", sign(t, signingKey{"ci-1", jose.HS256, []byte("0123456789abcdef0123456789abcdef")}, header("ci-1"), ciClaims(nil)), reason.PostureBadSignature},
		{"wrong typ", sign(t, f.ciKey, map[jose.HeaderKey]any{"typ": "JWT", "kid": "ci-1"}, ciClaims(nil)), reason.PostureWrongType},
		{"no typ", sign(t, f.ciKey, map[jose.HeaderKey]any{"kid": "ci-1"}, ciClaims(nil)), reason.PostureWrongType},
		{"header jwk", sign(t, f.ciKey, jwkHdr, ciClaims(nil)), reason.PostureMalformed},
		{"claims not JSON", sign(t, f.ciKey, header("ci-1"), []byte("posture")), reason.PostureMalformed},
		{"duplicate claim", sign(t, f.ciKey, header("ci-1"), []byte(`{"iss":"https://attest.ci.example","iss":"x","iat":1}`)), reason.PostureMalformed},
		{"no iss", ci(map[string]any{"iss": nil}), reason.PostureMalformed},
		{"iss not a string", ci(map[string]any{"iss": 7}), reason.PostureMalformed},
		{"no iat", ci(map[string]any{"iat": nil}), reason.PostureMalformed},
		{"iat a string", ci(map[string]any{"iat": "now"}), reason.PostureMalformed},
		{"iat negative", ci(map[string]any{"iat": -1}), reason.PostureMalformed},
		{"iat huge", ci(map[string]any{"iat": 1e300}), reason.PostureMalformed},
		{"exp a string", ci(map[string]any{"exp": "later"}), reason.PostureMalformed},
		{"host_id a number", ci(map[string]any{"host_id": 7}), reason.PostureMalformed},
		{"sub an object", ci(map[string]any{"sub": map[string]any{}}), reason.PostureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.verifier.Verify(tt.tok, testBinding)
			wantCode(t, err, tt.code)
			if p.Attestor != "" || p.Claims != nil {
				t.Fatalf("posture %+v returned with an error", p)
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, f.ciKey, header("ci-1"), ciClaims(map[string]any{
		"iat": t0.Add(-DefaultMaxAge - 3*time.Second).Unix(),
		"exp": t0.Add(-2 * time.Second).Unix(),
	}))
	v := *f.verifier
	if _, err := v.Verify(tok, testBinding); err == nil {
		t.Fatal("Verify without leeway accepted a stale, expired token")
	}
	v.Leeway = 5 * time.Second
	if _, err := v.Verify(tok, testBinding); err != nil {
		t.Fatalf("Verify with 5s leeway: %v", err)
	}
}

func TestVerifyKeySet(t *testing.T) {
	f := newFixture(t)
	tok := sign(t, f.ciKey, header("ci-1"), ciClaims(nil))
	private := jose.JSONWebKey{Key: f.ciKey.key, KeyID: "ci-1"}
	encKey := jose.JSONWebKey{Key: f.ciKey.key.(*ecdsa.PrivateKey).Public(), KeyID: "ci-1", Use: "enc"}
	tests := []struct {
		name string
		keys *jose.JSONWebKeySet
		code reason.Code
	}{
		{"private key used as public", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{private}}, reason.OK},
		{"encryption key skipped", &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{encKey}}, reason.PostureUnknownAttestor},
		{"nil set", nil, reason.PostureUnknownAttestor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{
				Attestors: []Attestor{{Name: "ci", Issuer: "https://attest.ci.example", Keys: tt.keys}},
				Now:       func() time.Time { return t0 },
			}
			_, err := v.Verify(tok, testBinding)
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
