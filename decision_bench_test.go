package provost_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/binding"
	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/verdict"
)

// The request of BenchmarkDecision and BenchmarkDecisionScale: GET /v1/data
// straight from 10.30.4.4 (in the binding's network; not a trusted proxy)
// over mTLS with an X.509-SVID of the world's CA, carrying an ES256 token.
const (
	benchSubject     = "svc:bench"
	benchDPoPSubject = "svc:bench-dpop"
	benchWorkload    = "spiffe://acme.test/bench/api"
	benchWorkloads   = "spiffe://acme.test/bench/*"
	benchNetwork     = "10.30.0.0/16"
	benchPeer        = "10.30.4.4"
	benchMethod      = "GET"
	benchTarget      = "/v1/data"
	// benchRule reads the request and the network, so both sides pay for
	// building what it reads.
	benchRule = `signals.request.method == "GET" && signals.request.path.startsWith("/v1/") && signals.network.client.startsWith("10.30.")`
)

// benchBinding is one binding of the benchmarks' bindings file: network +
// workload + the CEL rule, for the credentials whose subject is subject.
func benchBinding(name, subject, extra string) string {
	return fmt.Sprintf(`  - name: %s
    match: {subject: %q}
    require:
      workloads: [%q]
      networks: [runtime]
      rule: '%s'%s
`, name, subject, benchWorkloads, benchRule, extra)
}

// decisionBindings is the bindings file of BenchmarkDecision: one binding
// for the bearer cases, one for the DPoP case (the same, plus possession).
var decisionBindings = "version: 1\nnetworks: {runtime: [" + benchNetwork + "]}\nbindings:\n" +
	benchBinding("bench", benchSubject, "") +
	benchBinding("bench-dpop", benchDPoPSubject, "\n      possession: dpop")

// benchConfig is appended to the world's provost.yaml: evidence is written
// asynchronously (evidence.mode: async; Append returns once the record is
// queued, and the benchmarks flush the log inside the timed region, so the
// writer's work is counted), plus $PROVOST_BENCH_CONFIG, more top-level
// configuration (for example the setting that lifts the bindings file size
// limit, once it exists).
func benchConfig() string {
	return "evidence:\n  mode: async\n" + os.Getenv("PROVOST_BENCH_CONFIG")
}

// benchWorld is the shared test world (harness_test.go's names and
// trusted proxies) with the benchmarks' bindings and configuration, and
// Provost opened over it as `provost serve` opens it: SQLite origin history
// and revocations, the in-memory replay cache, the SQLite evidence log.
type benchWorld struct {
	w     *provosttest.T
	a     *app.App
	certs []*x509.Certificate // the client's SVID, as TLS verified it
	tok   string              // a bearer token of benchSubject
}

// newBenchWorld builds the world without opening Provost, so a benchmark
// can fill the data directory first; open opens it.
func newBenchWorld(b *testing.B, bindings string) *benchWorld {
	b.Helper()
	o := worldOptions
	o.Bindings = bindings
	o.Config = worldOptions.Config + benchConfig()
	w := provosttest.New(b, o)
	bw := &benchWorld{w: w, certs: svid(b, w, benchWorkload)}
	bw.tok = w.MustToken(benchSubject, nil)
	return bw
}

func (bw *benchWorld) open() *benchWorld {
	bw.a = bw.w.App("")
	return bw
}

// dataDir is the data directory App opens.
func (bw *benchWorld) dataDir() string { return filepath.Join(bw.w.Dir, "data") }

// request is the benchmarks' request with the given credential headers.
func (bw *benchWorld) request(authorization, dpop string) *provost.Request {
	return &provost.Request{Method: benchMethod, Target: benchTarget, Authorization: authorization, DPoP: dpop,
		Peer: addr(benchPeer), ClientCerts: bw.certs}
}

// flush waits until every evidence record appended so far is committed.
func (bw *benchWorld) flush(b *testing.B) {
	flushLog(b, bw.a.Evidence)
}

func flushLog(b *testing.B, l any) {
	if f, ok := l.(interface{ Flush(context.Context) error }); ok {
		if err := f.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// mustAllow fails the benchmark unless d allows with verified provenance,
// every check passing and no finding: the clean path.
func mustAllow(b *testing.B, d *provost.Decision, err error) {
	ok := err == nil && d.Outcome == verdict.Allow && d.Provenance == verdict.Verified && len(d.Findings) == 0 && len(d.Checks) >= 3
	for _, c := range d.Checks {
		ok = ok && c.Status == verdict.StatusPass
	}
	if !ok {
		b.Fatalf("decision: %v %s %s %v", err, d.Outcome, d.Provenance, d.Codes())
	}
}

// bearers mints n distinct bearer tokens (each its own jti), as
// Authorization values.
func bearers(bw *benchWorld, sub string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Bearer " + bw.w.MustToken(sub, nil)
	}
	return out
}

// discardEvidence is an evidence log that keeps nothing.
type discardEvidence struct{}

func (discardEvidence) Append(context.Context, []byte) (verdict.EvidenceRef, error) {
	return verdict.EvidenceRef{}, nil
}

// BenchmarkDecision is the whole decision, Engine.Check on the embedded
// default stores (SQLite origin history and revocations, the in-memory
// replay cache, the SQLite evidence log in async mode), beside a reference:
// the same work written out by hand with the same primitives (refPipeline).
// Each case's provost and reference run one after the other; go test
// -count N repeats each sub-benchmark N times in a row, so scripts/bench.sh
// runs rounds of -count 1 to make them alternate. The request carries an
// ES256 token and an X.509-SVID over mTLS; its binding requires a network,
// a workload and a CEL rule; the origin history is looked up and updated
// and an evidence record appended.
//
//   - cached-bearer: the same token every time (the engine may cache its
//     verification);
//   - es256-bearer: a token never seen before every time (b.N distinct
//     tokens minted before the timer starts);
//   - dpop: the same DPoP-bound token with a fresh DPoP proof every time.
//
// cached-bearer has two more lines for the allocation target
// ("at most 10 allocations outside evidence encoding"):
// provost-no-evidence is the same Check with an evidence log that discards
// (the record is still built and encoded), and evidence-encoding is that
// building and encoding alone (evidence.FromDecision + Marshal of the same
// decision). The allocations outside evidence encoding are
// provost-no-evidence's allocs/op minus evidence-encoding's; scripts/bench.sh
// prints the difference.
//
//	go test -run '^$' -bench 'BenchmarkDecision$' -benchtime 200x -count 1 .
func BenchmarkDecision(b *testing.B) {
	ctx := context.Background()
	bw := newBenchWorld(b, decisionBindings).open()
	ref := newRefPipeline(b, bw)

	b.Run("cached-bearer", func(b *testing.B) {
		authz := "Bearer " + bw.tok
		r := bw.request(authz, "")
		b.Run("provost", func(b *testing.B) {
			d, err := bw.a.Engine.Check(ctx, r) // keys, caches and history warm
			mustAllow(b, d, err)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				d, err := bw.a.Engine.Check(ctx, r)
				mustAllow(b, d, err)
			}
			bw.flush(b)
		})
		b.Run("reference", func(b *testing.B) {
			if err := ref.decide(ctx, authz, benchMethod, benchTarget, addr(benchPeer), bw.certs[0]); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := ref.decide(ctx, authz, benchMethod, benchTarget, addr(benchPeer), bw.certs[0]); err != nil {
					b.Fatal(err)
				}
			}
			ref.flush(b)
		})
		b.Run("provost-no-evidence", func(b *testing.B) {
			a := bw.a
			eng, err := provost.New(ctx, a.Policy(), provost.Stores{Revocations: a.Revocations, Origins: a.Origins,
				Replay: a.Replay, Evidence: discardEvidence{}}, provost.Options{Secret: a.Secret, Now: bw.w.Now})
			if err != nil {
				b.Fatal(err)
			}
			d, err := eng.Check(ctx, r)
			mustAllow(b, d, err)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				d, err := eng.Check(ctx, r)
				mustAllow(b, d, err)
			}
		})
		b.Run("evidence-encoding", func(b *testing.B) {
			// What Engine.record does before Append, for this decision.
			d, err := bw.a.Engine.Check(ctx, r)
			mustAllow(b, d, err)
			meta := evidence.Meta{RequestID: d.RequestID, BindingsDigest: bw.a.Policy().Digest(), Time: bw.w.Now()}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := evidence.FromDecision(*d, d.Signals, d.Origin, meta)
				if _, err := rec.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	b.Run("es256-bearer", func(b *testing.B) {
		b.Run("provost", func(b *testing.B) {
			authz := bearers(bw, benchSubject, b.N)
			r := bw.request("", "")
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r.Authorization = authz[i]
				d, err := bw.a.Engine.Check(ctx, r)
				mustAllow(b, d, err)
			}
			bw.flush(b)
		})
		b.Run("reference", func(b *testing.B) {
			authz := bearers(bw, benchSubject, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := ref.decide(ctx, authz[i], benchMethod, benchTarget, addr(benchPeer), bw.certs[0]); err != nil {
					b.Fatal(err)
				}
			}
			ref.flush(b)
		})
	})

	b.Run("dpop", func(b *testing.B) {
		key := bw.w.NewKey()
		tok := bw.w.MustBoundToken(benchDPoPSubject, key)
		proofs := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = bw.w.MustDPoPProof(key, benchMethod, benchTarget, tok)
			}
			return out
		}
		b.Run("provost", func(b *testing.B) {
			p := proofs(b.N + 1)
			r := bw.request("DPoP "+tok, p[b.N])
			d, err := bw.a.Engine.Check(ctx, r)
			mustAllow(b, d, err)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r.DPoP = p[i]
				d, err := bw.a.Engine.Check(ctx, r)
				mustAllow(b, d, err)
			}
			bw.flush(b)
		})
		b.Run("reference", func(b *testing.B) {
			// The two raw ES256 verifications and nothing else: the token
			// and each proof split and their signatures decoded before the
			// timer; SHA-256 of the signing input and ecdsa.Verify in it.
			t := rawES256(b, tok)
			ps := make([]rawSig, b.N)
			for i, p := range proofs(b.N) {
				ps[i] = rawES256(b, p)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if !t.verify(ref.issuer) || !ps[i].verify(&key.PublicKey) {
					b.Fatal("signature")
				}
			}
		})
	})
}

// rawSig is a compact JWS split for a bare signature check.
type rawSig struct {
	signingInput string
	r, s         *big.Int
}

func rawES256(b *testing.B, jws string) rawSig {
	i := strings.LastIndexByte(jws, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
	if err != nil || len(sig) != 64 {
		b.Fatalf("signature: %v", err)
	}
	return rawSig{jws[:i], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])}
}

func (s rawSig) verify(k *ecdsa.PublicKey) bool {
	h := sha256.Sum256([]byte(s.signingInput))
	return ecdsa.Verify(k, h[:], s.r, s.s)
}

// refPipeline is the reference decision: what BenchmarkDecision's request
// needs, written out by hand with the primitives Provost uses and no
// abstraction. Used by one goroutine at a time (the HMAC state is reused);
// the origin history has its mutex as a shared one would.
//
//  1. Split the compact JWS (strings.Cut).
//  2. Fingerprint it: HMAC-SHA256 under the server secret, "fp1:" +
//     base64url.
//  3. Look the fingerprint up in a plain map of verified claims. On a miss
//     (a token never seen): one raw ecdsa.Verify of the signature
//     (SHA-256 of the signing input; one issuer key, so the header is not
//     read), then the payload decoded (base64url + encoding/json into a
//     struct), iss and aud compared, and the claims put in the map.
//  4. exp and nbf against the clock.
//  5. A map lookup standing in for the revocations.
//  6. The binding by subject (a map), its network (netip.Prefix.Contains)
//     and workload (the SPIFFE ID from the verified leaf, strings.HasPrefix).
//  7. The same CEL rule, compiled once in the same environment with the
//     same options, evaluated over nested maps of what it reads.
//  8. The origin history: a map of credential → origins under a mutex,
//     updated in place.
//  9. An evidence record of similar content and size (encoding/json of
//     refRecord) appended to an evidence log of the same kind and mode as
//     the engine's (internal/evidencelog, through app.EvidenceAppender as
//     the engine's is), flushed at the end of the timed loop like it.
type refPipeline struct {
	now      func() time.Time
	mac      hash.Hash
	issuer   *ecdsa.PublicKey
	iss, aud string
	digest   string

	verified map[string]refClaims // fingerprint → verified claims
	revoked  map[string]struct{}  // fingerprint → revoked
	bindings map[string]*refBinding

	mu      sync.Mutex
	origins map[string]*refHistory // fingerprint → history

	logStore evidencelog.Store
	log      app.EvidenceAppender
}

type refClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Nbf int64  `json:"nbf"`
	Iat int64  `json:"iat"`
	Jti string `json:"jti"`
}

type refBinding struct {
	name     string
	network  netip.Prefix
	workload string // prefix
	rule     cel.Program
}

type refHistory struct {
	last time.Time
	uses int
	seen map[string]*refSeen // origin key → use
}

type refSeen struct {
	first, last time.Time
	uses        int
}

// refRecord is the reference's evidence record: the fields an allow
// decision's record carries (internal/evidence.Record), flattened a little.
type refRecord struct {
	V              int         `json:"v"`
	Time           time.Time   `json:"time"`
	RequestID      string      `json:"request_id"`
	Method         string      `json:"method"`
	Path           string      `json:"path"`
	Decision       string      `json:"decision"`
	Provenance     string      `json:"provenance"`
	Mode           string      `json:"mode"`
	Binding        string      `json:"binding"`
	BindingsDigest string      `json:"bindings_digest"`
	Verdict        string      `json:"verdict"`
	Reason         string      `json:"reason"`
	Message        string      `json:"message"`
	Kind           string      `json:"kind"`
	Fingerprint    string      `json:"fingerprint"`
	Issuer         string      `json:"iss"`
	Subject        string      `json:"sub"`
	Audience       []string    `json:"aud"`
	KeyID          string      `json:"kid"`
	Algorithm      string      `json:"alg"`
	Type           string      `json:"typ"`
	JTI            string      `json:"jti"`
	IssuedAt       time.Time   `json:"iat"`
	ExpiresAt      time.Time   `json:"exp"`
	AgeSeconds     int64       `json:"age_seconds"`
	Workload       string      `json:"workload"`
	WorkloadSource string      `json:"workload_source"`
	NotAfter       time.Time   `json:"not_after"`
	Peer           string      `json:"peer"`
	Client         string      `json:"client"`
	NetworkOrigin  string      `json:"network_origin"`
	Sets           []string    `json:"sets"`
	TokenAgeNanos  int64       `json:"token_age_ns"`
	LastSeen       time.Time   `json:"last_seen"`
	Checks         [3]refCheck `json:"checks"`
	Reasons        [1]refCheck `json:"reasons"`
	OriginWorkload string      `json:"origin_workload"`
	OriginNetwork  string      `json:"origin_network"`
}

type refCheck struct {
	Signal   string `json:"signal,omitempty"`
	Status   string `json:"status,omitempty"`
	Observed string `json:"observed,omitempty"`
	Expected string `json:"expected,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
}

func newRefPipeline(b *testing.B, bw *benchWorld) *refPipeline {
	b.Helper()
	ctx := context.Background()
	env, err := cel.NewEnv(cel.Variable("signals", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		b.Fatal(err)
	}
	ast, iss := env.Compile(benchRule)
	if iss.Err() != nil {
		b.Fatal(iss.Err())
	}
	prg, err := env.Program(ast, cel.CostLimit(binding.RuleCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		b.Fatal(err)
	}
	jwks, err := os.ReadFile(filepath.Join(bw.w.Dir, "issuer.jwks.json"))
	if err != nil {
		b.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		b.Fatal(err)
	}
	issuer, ok := set.Keys[0].Key.(*ecdsa.PublicKey)
	if !ok {
		b.Fatalf("issuer key is %T", set.Keys[0].Key)
	}
	// An evidence log of the same kind and mode as the engine's.
	l, err := evidencelog.Open(ctx, b.TempDir(), evidencelog.Options{Async: !bw.a.Evidence.Durable(), Now: bw.w.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	p := &refPipeline{
		now: bw.w.Now, mac: hmac.New(sha256.New, bw.a.Secret), issuer: issuer, iss: wIssuer, aud: wAudience,
		digest:   bw.a.Policy().Digest(),
		verified: map[string]refClaims{}, revoked: map[string]struct{}{"fp1:someone-else": {}},
		bindings: map[string]*refBinding{benchSubject: {name: "bench", network: netip.MustParsePrefix(benchNetwork),
			workload: strings.TrimSuffix(benchWorkloads, "*"), rule: prg}},
		origins:  map[string]*refHistory{},
		logStore: l, log: app.EvidenceAppender{Log: l},
	}
	return p
}

func (p *refPipeline) flush(b *testing.B) { flushLog(b, p.logStore) }

func (p *refPipeline) fingerprint(tok string) string {
	p.mac.Reset()
	p.mac.Write([]byte(tok))
	var sum [sha256.Size]byte
	var out [4 + 43]byte
	copy(out[:], "fp1:")
	base64.RawURLEncoding.Encode(out[4:], p.mac.Sum(sum[:0]))
	return string(out[:])
}

// verify checks a token never seen: its ES256 signature, then its claims.
func (p *refPipeline) verify(signingInput, payload, sig string) (refClaims, error) {
	var c refClaims
	var raw [66]byte
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(sig)); err != nil || n != 64 {
		return c, errors.New("bad signature encoding")
	}
	h := sha256.Sum256([]byte(signingInput))
	if !ecdsa.Verify(p.issuer, h[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:64])) {
		return c, errors.New("bad signature")
	}
	pl, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(pl, &c); err != nil {
		return c, err
	}
	if c.Iss != p.iss || c.Aud != p.aud {
		return c, errors.New("wrong issuer or audience")
	}
	return c, nil
}

// decide is the reference decision for one bearer request.
func (p *refPipeline) decide(ctx context.Context, authorization, method, path string, peer netip.Addr, leaf *x509.Certificate) error {
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return errors.New("not a bearer token")
	}
	header, rest, ok1 := strings.Cut(tok, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || header == "" || payload == "" || strings.IndexByte(sig, '.') >= 0 {
		return errors.New("not a compact JWS")
	}
	fp := p.fingerprint(tok)
	c, ok := p.verified[fp]
	if !ok {
		var err error
		if c, err = p.verify(tok[:len(header)+1+len(payload)], payload, sig); err != nil {
			return err
		}
		p.verified[fp] = c
	}
	now := p.now()
	if t := now.Unix(); t >= c.Exp || t < c.Nbf {
		return errors.New("expired or not yet valid")
	}
	if _, revoked := p.revoked[fp]; revoked {
		return errors.New("revoked")
	}
	bd := p.bindings[c.Sub]
	if bd == nil {
		return errors.New("no binding")
	}
	if !bd.network.Contains(peer) {
		return errors.New("network not approved")
	}
	id := leaf.URIs[0].String()
	if !strings.HasPrefix(id, bd.workload) {
		return errors.New("workload not approved")
	}
	client := peer.String()
	out, _, err := bd.rule.Eval(map[string]any{"signals": map[string]any{
		"request": map[string]any{"method": method, "path": path},
		"network": map[string]any{"client": client},
	}})
	if err != nil || out != types.True {
		return fmt.Errorf("rule: %v %v", out, err)
	}

	netOrigin := netip.PrefixFrom(peer, 24).Masked().String()
	key := id + "|" + netOrigin
	p.mu.Lock()
	h := p.origins[fp]
	if h == nil {
		h = &refHistory{seen: map[string]*refSeen{}}
		p.origins[fp] = h
	}
	lastSeen := h.last
	s := h.seen[key]
	if s == nil {
		s = &refSeen{first: now}
		h.seen[key] = s
	}
	s.last, h.last = now, now
	s.uses++
	h.uses++
	p.mu.Unlock()

	var rid [12]byte
	rand.Read(rid[:])
	rec := refRecord{V: 1, Time: now, RequestID: base64.RawURLEncoding.EncodeToString(rid[:]),
		Method: method, Path: path, Decision: "allow", Provenance: "verified", Mode: "enforce",
		Binding: bd.name, BindingsDigest: p.digest, Verdict: "accepted",
		Reason: "ok", Message: "the credential was accepted", Kind: "jwt", Fingerprint: fp,
		Issuer: c.Iss, Subject: c.Sub, Audience: []string{c.Aud}, KeyID: "sts-1", Algorithm: "ES256", Type: "at+jwt",
		JTI: c.Jti, IssuedAt: time.Unix(c.Iat, 0), ExpiresAt: time.Unix(c.Exp, 0), AgeSeconds: now.Unix() - c.Iat,
		Workload: id, WorkloadSource: "mtls", NotAfter: leaf.NotAfter, Peer: client, Client: client,
		NetworkOrigin: netOrigin, Sets: []string{"runtime"}, TokenAgeNanos: int64(now.Sub(time.Unix(c.Iat, 0))),
		LastSeen: lastSeen,
		Checks: [3]refCheck{
			{Signal: "workload", Status: "pass", Observed: id, Expected: benchWorkloads},
			{Signal: "network", Status: "pass", Observed: client, Expected: "runtime"},
			{Signal: "rule", Status: "pass", Observed: "true", Expected: benchRule},
		},
		Reasons:        [1]refCheck{{Code: "provenance_verified", Message: "the credential was accepted and the request came from its approved context"}},
		OriginWorkload: id, OriginNetwork: netOrigin,
	}
	data, err := json.Marshal(&rec)
	if err != nil {
		return err
	}
	_, err = p.log.Append(ctx, data)
	return err
}
