package provost

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/hop"
	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/workload/workloadtest"
	"github.com/provost-dev/provost/verdict"
)

// world is a complete deployment made in a test: an issuer, a SPIFFE CA,
// two approved proxies, a posture attestor, and a Provost engine whose clock
// the test moves.
type world struct {
	t        testing.TB
	dir      string
	issuer   *ecdsa.PrivateKey
	ca       *workloadtest.CA
	edge     ed25519.PrivateKey
	gw       ed25519.PrivateKey
	attestor *ecdsa.PrivateKey
	eng      *Engine
	// The stores, opened as an embedder would, for tests that break them.
	revocations *revocation.SQLite
	origins     *origin.SQLite
	evidence    *evidencelog.Log

	mu  sync.Mutex
	now time.Time
}

const (
	wIssuer   = "https://sts.acme.test"
	wAudience = "https://api.acme.test"
	wOrigin   = "https://api.acme.test"
	wAttestor = "https://attestor.acme.test"
)

// worldBindings is the bindings file of the scenarios.
const worldBindings = `version: 1
mode: enforce
networks:
  build-hosts: [10.20.0.0/16]
  agent-runtime: [10.30.0.0/16]
  datacenter: [10.40.0.0/16]
  partners: [192.0.2.0/24, 198.51.100.0/24]
detectors:
  concurrent_window: 5m
  dormancy: 720h
bindings:
  - name: ci-deploy
    match: {subject: "repo:acme/deploy:*"}
    require:
      networks: [build-hosts]
      ci: {repository: acme/deploy}
    on_violation: revoke
  - name: support-agent
    match: {subject: "agent:support-bot"}
    require:
      workloads: ["spiffe://acme.test/agents/support-bot"]
      networks: [agent-runtime]
    on_violation: deny
  - name: support-integration
    match: {subject: "integration:helpdesk"}
    require:
      proxy_chain: [edge, gw]
    on_violation: deny
  - name: vendor-sync
    match: {subject: "vendor:sync"}
    require:
      networks: [partners]
    on_violation: step_up
  - name: vendor-sync-strict
    match: {subject: "vendor:sync-strict"}
    require:
      networks: [partners]
    on_violation: revoke
  - name: customer-export
    match: {subject: "svc:customer-export"}
    require:
      possession: dpop
    require_evidence: [workload, posture]
    on_violation: deny
  - name: payments
    match: {subject: "svc:payments"}
    require:
      workloads: ["spiffe://acme.test/payments/*"]
      networks: [datacenter]
    on_violation: revoke
  - name: reports
    match: {subject: "svc:reports"}
    require:
      networks: [datacenter]
  - name: canary
    match: {subject: "svc:legacy-admin"}
    honeytoken: true
`

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), now: time.Now().UTC().Truncate(time.Second)}
	var err error
	w.issuer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	w.attestor, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, w.edge, _ = ed25519.GenerateKey(rand.Reader)
	_, w.gw, _ = ed25519.GenerateKey(rand.Reader)
	w.ca = workloadtest.NewCA(t, "acme.test")
	caFile := w.ca.WritePEM(t, w.dir)
	w.writeJWKS("issuer.jwks.json", "sts-1", w.issuer.Public())
	w.writeJWKS("attestor.jwks.json", "att-1", w.attestor.Public())
	w.writePub("edge.pem", w.edge.Public())
	w.writePub("gw.pem", w.gw.Public())
	w.write("bindings.yaml", worldBindings)
	w.write("provost.yaml", `version: 1
data_dir: data
external_origins: [`+wOrigin+`]
bindings: bindings.yaml
issuers:
  - issuer: `+wIssuer+`
    audiences: [`+wAudience+`]
    algorithms: [ES256]
    jwks_file: issuer.jwks.json
trust:
  proxies: [10.0.0.1/32, 10.0.0.2/32]
  spiffe:
    - trust_domain: acme.test
      x509_bundle: `+caFile+`
  hops:
    - {name: edge, public_key: edge.pem}
    - {name: gw, public_key: gw.pem}
  attestors:
    - {name: hostguard, issuer: `+wAttestor+`, jwks_file: attestor.jwks.json}
`)
	ctx := context.Background()
	data := filepath.Join(w.dir, "data")
	secret, err := fingerprint.LoadOrCreateSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	if w.revocations, err = revocation.OpenSQLite(ctx, filepath.Join(data, "revocations.db"), w.clock); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.revocations.Close() })
	if w.origins, err = origin.OpenSQLite(ctx, filepath.Join(data, "origins.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.origins.Close() })
	if w.evidence, err = evidencelog.Open(ctx, filepath.Join(data, "evidence"), evidencelog.Options{Now: w.clock}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.evidence.Close() })
	stores := Stores{Revocations: w.revocations, Origins: w.origins, Evidence: appender{w.evidence},
		Replay: replay.NewMemory(replay.MemoryConfig{Now: w.clock})}
	pol, err := LoadPolicy(ctx, filepath.Join(w.dir, "provost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if w.eng, err = New(ctx, pol, stores, Options{Secret: secret, Now: w.clock}); err != nil {
		t.Fatal(err)
	}
	return w
}

// reload loads the configuration files again and puts them in force.
func (w *world) reload(ctx context.Context) error {
	pol, err := LoadPolicy(ctx, filepath.Join(w.dir, "provost.yaml"))
	if err != nil {
		return err
	}
	return w.eng.SetPolicy(ctx, pol)
}

// appender is an evidence log as the engine writes to it.
type appender struct{ l *evidencelog.Log }

func (a appender) Append(ctx context.Context, record []byte) (verdict.EvidenceRef, error) {
	ent, err := a.l.Append(ctx, record)
	return verdict.EvidenceRef{Index: ent.Index, LeafHash: base64.StdEncoding.EncodeToString(ent.LeafHash[:])}, err
}

func (w *world) clock() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	w.now = w.now.Add(d)
	w.mu.Unlock()
}

func (w *world) write(name, body string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) writeJWKS(name, kid string, pub crypto.PublicKey) {
	w.t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Use: "sig"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name, string(b))
}

func (w *world) writePub(name string, pub crypto.PublicKey) {
	w.t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// token issues an access token for sub, valid for an hour from now unless
// claims say otherwise.
func (w *world) token(sub string, claims map[string]any) string {
	w.t.Helper()
	now := w.clock()
	c := map[string]any{"iss": wIssuer, "aud": wAudience, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	return w.sign(w.issuer, "sts-1", "at+jwt", c, nil)
}

func (w *world) sign(key crypto.Signer, kid, typ string, claims map[string]any, extra map[jose.HeaderKey]any) string {
	w.t.Helper()
	opts := (&jose.SignerOptions{ExtraHeaders: extra}).WithType(jose.ContentType(typ))
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// dpopProof signs a DPoP proof with k for one request.
func (w *world) dpopProof(k *ecdsa.PrivateKey, method, target, token, jti string) string {
	sum := sha256.Sum256([]byte(token))
	return w.sign(k, "", "dpop+jwt", map[string]any{
		"jti": jti, "htm": method, "htu": wOrigin + target, "iat": w.clock().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:]),
	}, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: k.Public()}})
}

// posture signs a fresh posture attestation.
func (w *world) posture(host, runner string) string {
	return w.sign(w.attestor, "att-1", "posture+jwt", map[string]any{
		"iss": wAttestor, "sub": host, "iat": w.clock().Unix(), "host_id": host, "runner_type": runner, "os": "linux",
	}, nil)
}

// hops signs the Provost-Hop header of the approved chain edge > gw.
func (w *world) hops(method, target, token string, names ...string) []string {
	w.t.Helper()
	keys := map[string]ed25519.PrivateKey{"edge": w.edge, "gw": w.gw}
	value := ""
	for _, n := range names {
		s := &hop.Signer{Name: n, Key: keys[n], Now: w.clock}
		var err error
		value, err = s.Sign(value, hop.Request{Method: method, Target: target, CredentialDigest: hop.CredentialDigest(token)})
		if err != nil {
			w.t.Fatal(err)
		}
	}
	return []string{value}
}

func (w *world) svid(id string) []*x509.Certificate {
	chain, _ := w.ca.IssueSVID(w.t, id)
	return chain
}

func (w *world) check(r *Request) *Decision {
	w.t.Helper()
	d, err := w.eng.Check(context.Background(), r)
	if err != nil {
		w.t.Fatalf("Check: %v", err)
	}
	return d
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func jkt(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}
