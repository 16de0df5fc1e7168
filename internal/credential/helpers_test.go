package credential

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
)

const (
	testIss    = "https://issuer.test"
	testAud    = "https://api.test"
	testOrigin = "https://api.test"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// keys made once per test binary: real keys of every supported kind.
type testKeys struct {
	es256   *ecdsa.PrivateKey
	es384   *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsa     *rsa.PrivateKey
	client  *ecdsa.PrivateKey // DPoP key
	client2 *ecdsa.PrivateKey // another DPoP key
}

var keys = func() testKeys {
	es256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	c1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return testKeys{es256, es384, ed, r, c1, c2}
}()

type fixture struct {
	v    *Verifier
	fp   *fingerprint.Fingerprinter
	revs *revocation.SQLite
	now  time.Time
}

func newFixture(t testing.TB, mutate ...func(*Config)) *fixture {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: keys.es256.Public(), KeyID: "es256", Algorithm: "ES256", Use: "sig"},
		{Key: keys.es384.Public(), KeyID: "es384", Algorithm: "ES384", Use: "sig"},
		{Key: keys.ed.Public(), KeyID: "ed", Algorithm: "EdDSA", Use: "sig"},
		{Key: keys.rsa.Public(), KeyID: "rsa", Use: "sig"},
	}}
	src, err := issuer.NewStatic(set)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{now: testNow}
	clock := func() time.Time { return fx.now }
	fx.fp, err = fingerprint.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	fx.revs, err = revocation.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "rev.db"), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.revs.Close() })
	dv, err := dpop.New(dpop.Config{Origins: []string{testOrigin}}, replay.NewMemory(replay.MemoryConfig{Now: clock, Since: testNow.Add(-time.Hour)}), clock)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Issuers: []Issuer{{
			Issuer: testIss, Audiences: []string{testAud},
			Algorithms: []string{"ES256", "ES384", "EdDSA", "RS256", "PS256"}, Keys: src,
		}},
		APIKeys:      []APIKey{{Name: "billing", Fingerprint: fx.fp.Of("sk_live_billing"), Subject: "billing-sync"}},
		Fingerprints: fx.fp,
		DPoP:         dv,
		Revocations:  fx.revs,
		Now:          clock,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	fx.v, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

// claims returns valid claims with overrides; a nil value deletes a claim.
func claims(over map[string]any) map[string]any {
	c := map[string]any{
		"iss": testIss, "aud": testAud, "sub": "svc-1", "jti": "j-1",
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

type signOpts struct {
	kid    string
	typ    string
	header map[string]any // extra protected header members
}

func sign(t testing.TB, key any, alg jose.SignatureAlgorithm, c map[string]any, o signOpts) string {
	t.Helper()
	so := &jose.SignerOptions{}
	if o.typ != "" {
		so = so.WithType(jose.ContentType(o.typ))
	}
	if o.kid != "" {
		so = so.WithHeader("kid", o.kid)
	}
	for k, v := range o.header {
		so = so.WithHeader(jose.HeaderKey(k), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, so)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func es256(t testing.TB, c map[string]any) string {
	return sign(t, keys.es256, jose.ES256, c, signOpts{kid: "es256", typ: "at+jwt"})
}

// raw builds a compact JWS from literal header and payload JSON and a
// signature made over them with the ES256 key (or sig when given).
func raw(t testing.TB, header, payload string, sig []byte) string {
	t.Helper()
	in := b64(header) + "." + b64(payload)
	if sig == nil {
		h := sha256.Sum256([]byte(in))
		r, s, err := ecdsa.Sign(rand.Reader, keys.es256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func claimsJSON(over map[string]any) string {
	b, _ := json.Marshal(claims(over))
	return string(b)
}

func thumb(t testing.TB, k crypto.Signer) string {
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof makes a DPoP proof for a request.
func proof(t testing.TB, k *ecdsa.PrivateKey, method, target, token, jti string, iat time.Time) string {
	t.Helper()
	c := map[string]any{"jti": jti, "htm": method, "htu": testOrigin + strings.SplitN(target, "?", 2)[0], "iat": iat.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}}}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := obj.CompactSerialize()
	return out
}
