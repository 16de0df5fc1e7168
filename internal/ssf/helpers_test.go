package ssf

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/revocation"
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock that only moves when a wait "sleeps" on it, and
// records every wait.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newP256(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fp returns the fingerprint of a made-up credential.
func fp(t testing.TB, raw string) string {
	t.Helper()
	f, err := fingerprint.New([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Of(raw)
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

func randomID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// fixture is a transmitter identity for hand-made SETs.
type fixture struct {
	key      *ecdsa.PrivateKey
	kid      string
	iss, aud string
	clock    *fakeClock
}

func newFixture(t testing.TB) *fixture {
	return &fixture{key: newP256(t), kid: "tx-1", iss: "https://tx.example", aud: "https://rx.example/ssf", clock: newFakeClock()}
}

// jwks is the fixture's public key set.
func (f *fixture) jwks(t testing.TB) []byte {
	return mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: f.kid, Algorithm: "ES256", Use: "sig"}}})
}

func (f *fixture) header() map[string]any {
	return map[string]any{"alg": "ES256", "typ": "secevent+jwt", "kid": f.kid}
}

// claims is a valid credential-change SET revoking a fingerprint.
func (f *fixture) claims(t testing.TB) map[string]any {
	return map[string]any{
		"iss":    f.iss,
		"jti":    randomID(t),
		"iat":    f.clock.Now().Unix(),
		"aud":    f.aud,
		"txn":    "txn-1",
		"sub_id": map[string]any{"format": "opaque", "id": fp(t, "leaked-token")},
		"events": map[string]any{EventCredentialChange: map[string]any{"credential_type": "bearer-token", "change_type": "revoke"}},
	}
}

// sign makes a compact ES256 JWS of header and claims with key.
func sign(t testing.TB, key *ecdsa.PrivateKey, header, claims any) string {
	t.Helper()
	return signRaw(t, key, mustJSON(t, header), mustJSON(t, claims))
}

func signRaw(t testing.TB, key *ecdsa.PrivateKey, header, payload []byte) string {
	t.Helper()
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

func signHS256(t testing.TB, secret []byte, header, claims any) string {
	input := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, claims))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// collector keeps the revocations a Receiver hands over.
type collector struct {
	mu   sync.Mutex
	revs []revocation.Revocation
	fail int // fail this many calls first
	got  chan revocation.Revocation
}

func newCollector() *collector { return &collector{got: make(chan revocation.Revocation, 64)} }

func (c *collector) add(_ context.Context, rev revocation.Revocation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return io.ErrUnexpectedEOF
	}
	c.revs = append(c.revs, rev)
	c.got <- rev
	return nil
}

func (c *collector) list() []revocation.Revocation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]revocation.Revocation(nil), c.revs...)
}

// newReceiver serves a Receiver trusting f over a loopback httptest server.
func newReceiver(t testing.TB, f *fixture, mut func(*ReceiverConfig)) (*Receiver, *httptest.Server, *collector) {
	t.Helper()
	col := newCollector()
	cfg := ReceiverConfig{
		Transmitters: []TrustedTransmitter{{Issuer: f.iss, Audience: f.aud, JWKS: f.jwks(t)}},
		Replay:       replay.NewMemory(replay.MemoryConfig{Now: f.clock.Now}),
		OnRevocation: col.add,
		Now:          f.clock.Now,
	}
	if mut != nil {
		mut(&cfg)
	}
	r, err := NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv, col
}

// answer is a receiver's response.
type answer struct {
	status int
	err    string
	desc   string
	body   string
}

func post(t testing.TB, url, contentType, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, body: string(raw)}
	if len(raw) > 0 {
		var e struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("error answer Content-Type %q, want application/json", ct)
		}
		a.err, a.desc = e.Err, e.Description
	}
	return a
}
