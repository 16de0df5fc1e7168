package provost_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/provosttest"
)

// The names of the scenarios' deployment.
const (
	wIssuer      = "https://sts.acme.test"
	wAudience    = "https://api.acme.test"
	wOrigin      = "https://api.acme.test"
	wAttestor    = "https://attestor.acme.test"
	wTrustDomain = "acme.test"
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

// worldOptions name the scenarios' deployment: an issuer, a SPIFFE CA for
// acme.test, two trusted proxies, the approved hops edge and gw, a posture
// attestor.
var worldOptions = provosttest.Options{
	Origin:      wOrigin,
	Issuer:      wIssuer,
	Audience:    wAudience,
	TrustDomain: wTrustDomain,
	AttestorIss: wAttestor,
	Proxies:     []string{"10.0.0.1/32", "10.0.0.2/32"},
	Hops:        []string{"edge", "gw"},
	Bindings:    worldBindings,
}

// newWorld builds the shared test world under the scenarios' names and
// opens Provost over it as `provost serve` does (the embedded stores in the
// world's data directory, on the world's clock, which the test moves).
func newWorld(t testing.TB) (*provosttest.T, *app.App) {
	t.Helper()
	w := provosttest.New(t, worldOptions)
	return w, w.App("")
}

// check judges r, failing the test on an error.
func check(t testing.TB, a *app.App, r *provost.Request) *provost.Decision {
	t.Helper()
	d, err := a.Engine.Check(context.Background(), r)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

// svid issues an X.509-SVID of the world's CA for the SPIFFE ID id (in
// acme.test): the chain a client presents.
func svid(t testing.TB, w *provosttest.T, id string) []*x509.Certificate {
	t.Helper()
	path, ok := strings.CutPrefix(id, "spiffe://"+wTrustDomain+"/")
	if !ok {
		t.Fatalf("%s is not in the trust domain %s", id, wTrustDomain)
	}
	cert, _ := w.MustSVID("/" + path)
	return []*x509.Certificate{cert}
}

// hops signs the Provost-Hop header of a chain of the world's proxies.
func hops(w *provosttest.T, method, target, token string, names ...string) []string {
	return []string{w.MustHops(method, target, token, names...)}
}

// xfccFor is the x-forwarded-client-cert element Envoy sends for an SVID
// of the world's CA with the SPIFFE ID id.
func xfccFor(t testing.TB, w *provosttest.T, id string) string {
	t.Helper()
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: svid(t, w, id)[0].Raw})
	return `By=spiffe://acme.test/envoy;Cert="` + url.PathEscape(string(p)) + `";URI=` + id
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }
