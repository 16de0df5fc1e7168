package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// memCache is a replay.Cache for tests: a map, or a fixed error.
type memCache struct {
	mu   sync.Mutex
	m    map[string]time.Time
	err  error
	keys []string // every key asked about, in order
}

func newMemCache() *memCache { return &memCache{m: map[string]time.Time{}} }

func (c *memCache) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, key)
	if c.err != nil {
		return false, c.err
	}
	if _, ok := c.m[key]; ok {
		return true, nil
	}
	c.m[key] = until
	return false, nil
}

// testKey is a proof signing key generated in the test.
type testKey struct {
	alg  string
	priv crypto.Signer
	pub  json.RawMessage // public JWK
	full json.RawMessage // JWK with the private members
}

func newTestKey(t testing.TB, alg string) *testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA", "Ed25519": // RFC 9864: two names of one algorithm
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "PS256", "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jose.JSONWebKey{Key: priv.Public()}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	full, err := jose.JSONWebKey{Key: priv}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{alg: alg, priv: priv, pub: pub, full: full}
}

func (k *testKey) thumbprint(t testing.TB) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: k.priv.Public()}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// header returns the header of a well-formed proof.
func (k *testKey) header() map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.pub}
}

// sign makes a compact JWS of header and claims, signed for header["alg"]
// (HS256 with a fixed secret, anything else with k).
func (k *testKey) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	return k.signRaw(t, header["alg"], mustJSON(t, header), mustJSON(t, claims))
}

func (k *testKey) signRaw(t testing.TB, alg any, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "ES256":
		key := k.priv.(*ecdsa.PrivateKey)
		r, s, e := ecdsa.Sign(rand.Reader, key, sum[:])
		sig, err = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), e
	case "EdDSA", "Ed25519":
		sig = ed25519.Sign(k.priv.(ed25519.PrivateKey), []byte(input))
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, sum[:],
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	case "HS256":
		m := hmac.New(sha256.New, []byte("a shared secret that must never work"))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	default:
		sig = []byte("not a signature")
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomJTI(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return b64(b[:])
}
