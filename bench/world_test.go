package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown/cache"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/stores"
)

// The names of the deployment both engines judge for. The Provost policy
// and the Rego policy below say the same thing with them.
const (
	issuerURL   = "https://sts.acme.test"
	audience    = "https://api.acme.test"
	kid         = "k1"
	subject     = "svc:bench"
	trustDomain = "acme.test"
	// approvedNet is the network the binding requires.
	approvedNet = "10.30.0.0/16"
	// approvedWorkloads is the SPIFFE pattern the binding requires:
	// every ID strictly below spiffe://acme.test/bench.
	approvedWorkloads = "spiffe://" + trustDomain + "/bench/*"
	// workloadID is the approved workload the requests come from.
	workloadID = "spiffe://" + trustDomain + "/bench/api"
)

// provostConfig is provost.yaml: one ES256 issuer, the SPIFFE CA of
// acme.test. No trusted proxies: the peer is the client.
const provostConfig = `version: 1
bindings: bindings.yaml
issuers:
  - issuer: ` + issuerURL + `
    audiences: [` + audience + `]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  spiffe:
    - {trust_domain: ` + trustDomain + `, x509_bundle: ca.pem}
`

// provostBindings requires, for the credentials of svc:bench, the approved
// network, a workload below spiffe://acme.test/bench and a claim rule.
const provostBindings = `version: 1
networks:
  runtime: [` + approvedNet + `]
bindings:
  - name: bench
    match: {subject: "` + subject + `"}
    require:
      workloads: ["` + approvedWorkloads + `"]
      networks: [runtime]
      rule: 'signals.credential.claims.env == "prod"'
`

// regoPolicy is the same decision in Rego. io.jwt.decode_verify checks the
// ES256 signature against the JWKS, alg, iss, aud and exp (against the time
// of evaluation); the binding's match is the sub comparison; the network is
// net.cidr_contains; the SPIFFE pattern is glob.match with no delimiters,
// so that * crosses "/" as in Provost's patterns (spiffe://td/bench itself
// does not match: the pattern needs the "/" after it); the claim rule is the
// env comparison.
//
// It is given the workload ID as input, already verified: Provost verifies
// the X.509-SVID chain itself on every request (one more ECDSA signature).
const regoPolicy = `package provost.bench

default allow := false

allow if {
	[valid, _, claims] := io.jwt.decode_verify(input.token, {
		"cert": data.jwks,
		"alg": "ES256",
		"iss": "` + issuerURL + `",
		"aud": "` + audience + `",
	})
	valid
	claims.sub == "` + subject + `"
	net.cidr_contains("` + approvedNet + `", input.peer)
	glob.match("` + approvedWorkloads + `", null, input.workload)
	claims.env == "prod"
}
`

// opaCaching turns on OPA's verified-token cache (the named inter-query
// value cache io_jwt, off by default): a token already verified against the
// same key is not verified again. It is the "caching" section of an OPA
// configuration file.
const opaCaching = `{"inter_query_builtin_value_cache": {"named": {"io_jwt": {"max_num_entries": 100000}}}}`

// world is one issuer key, one SPIFFE CA and the credentials they sign.
type world struct {
	key    *ecdsa.PrivateKey
	jwks   []byte
	caKey  *ecdsa.PrivateKey
	ca     *x509.Certificate
	caPEM  []byte
	serial int64
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{key: mustKey(t), caKey: mustKey(t)}
	pub, err := w.key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	xy := pub.Bytes() // 0x04 || X || Y
	w.jwks, err = json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
		"x": b64(xy[1:33]), "y": b64(xy[33:]),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench SPIFFE CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		URIs:     []*url.URL{{Scheme: "spiffe", Host: trustDomain}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, w.caKey.Public(), w.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if w.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	w.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	w.serial = 1
	return w
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// token mints an ES256 access token for sub, valid from an hour before now
// for ttl, with extra claims over the standard ones. Each has its own jti,
// so two tokens are never the same string.
func (w *world) token(t testing.TB, sub string, ttl time.Duration, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	jti := make([]byte, 12)
	rand.Read(jti)
	claims := map[string]any{"iss": issuerURL, "aud": audience, "sub": sub, "env": "prod",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix(), "jti": b64(jti)}
	for k, v := range extra {
		claims[k] = v
	}
	tok, err := signES256(w.key, kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signES256 is a minimal JWS compact encoder: header and claims as JSON,
// base64url, and the P-256 signature of their SHA-256 as r || s (RFC 7518
// §3.4).
func signES256(k *ecdsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64(h) + "." + b64(p)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig), nil
}

// svid issues an X.509-SVID of the world's CA for a SPIFFE ID of acme.test:
// the client certificate chain a workload presents over mTLS.
func (w *world) svid(t testing.TB, path string) []*x509.Certificate {
	t.Helper()
	k := mustKey(t)
	w.serial++
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(w.serial), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs: []*url.URL{{Scheme: "spiffe", Host: trustDomain, Path: path}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.ca, k.Public(), w.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{c}
}

// provostEngine builds Provost through its public API: ParsePolicy over an
// in-memory file system, and stores.Memory — revocations, origin history, the
// replay cache and the evidence log (a Merkle tree with signed checkpoints)
// all in memory, nothing on disk. Every decision is still appended to the
// evidence log before it is answered, and every accepted credential's use is
// looked up in and written to origin history.
func (w *world) provostEngine(t testing.TB) *provost.Engine {
	t.Helper()
	ctx := context.Background()
	files := fstest.MapFS{
		"issuer.jwks.json": {Data: w.jwks},
		"ca.pem":           {Data: w.caPEM},
		"bindings.yaml":    {Data: []byte(provostBindings)},
	}
	pol, err := provost.ParsePolicy(ctx, []byte(provostConfig), files)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := provost.New(ctx, pol, stores.Memory(stores.Options{}), provost.Options{Secret: stores.NewSecret()})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// opaQuery is the Rego policy compiled once and prepared for evaluation,
// with the inter-query value cache that holds verified tokens (io_jwt),
// parsed keys (io_jwt_keys) and compiled glob patterns.
type opaQuery struct {
	pq    rego.PreparedEvalQuery
	cache cache.InterQueryValueCache
}

func (w *world) opaQuery(t testing.TB) *opaQuery {
	t.Helper()
	ctx := context.Background()
	cfg, err := cache.ParseCachingConfig([]byte(opaCaching))
	if err != nil {
		t.Fatal(err)
	}
	vc := cache.NewInterQueryValueCache(ctx, cfg)
	pq, err := rego.New(
		rego.Query("data.provost.bench.allow"),
		rego.Module("bench.rego", regoPolicy),
		rego.Data(map[string]any{"jwks": string(w.jwks)}), // the same JWKS Provost reads
		rego.InterQueryBuiltinValueCache(vc),
	).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &opaQuery{pq: pq, cache: vc}
}

// allow evaluates the prepared query for one request's input document.
func (q *opaQuery) allow(ctx context.Context, token, peer, workload string) (bool, error) {
	rs, err := q.pq.Eval(ctx,
		rego.EvalInput(map[string]any{"token": token, "peer": peer, "workload": workload}),
		rego.EvalInterQueryBuiltinValueCache(q.cache))
	if err != nil {
		return false, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return false, fmt.Errorf("unexpected result set %v", rs)
	}
	v, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return false, fmt.Errorf("allow is %T, not a bool", rs[0].Expressions[0].Value)
	}
	return v, nil
}
