package provost

import (
	"context"
	"github.com/provost-dev/provost/verdict"
	"testing"
)

// BenchmarkCheck is the whole decision for one request with the issuer's
// keys loaded: credential (ES256), workload identity (X.509-SVID), network
// path through a trusted proxy, a two-hop signed proxy chain, a posture
// attestation, the binding's checks, origin history and the detectors.
func BenchmarkCheck(b *testing.B) {
	w := newWorld(b)
	w.write("bindings.yaml", `version: 1
networks: {runtime: [10.30.0.0/16]}
bindings:
  - name: full
    match: {subject: "svc:bench"}
    require:
      workloads: ["spiffe://acme.test/bench/*"]
      networks: [runtime]
      proxy_chain: [edge, gw]
      posture: {runner_type: hardened}
    require_evidence: [workload, posture]
`)
	if err := w.reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	tok := w.token("svc:bench", nil)
	r := &Request{Method: "GET", Target: "/v1/data", Authorization: "Bearer " + tok,
		Peer: addr("10.0.0.1"), XForwardedFor: []string{"10.30.4.4"},
		ClientCerts: w.svid("spiffe://acme.test/bench/api"), Posture: w.posture("host-1", "hardened"),
		Hops: w.hops("GET", "/v1/data", tok, "edge", "gw")}
	ctx := context.Background()
	// The bench peer is the trusted proxy, so the client certificate is read
	// from XFCC, as it would be behind Envoy.
	r.XFCC = xfccFor(nil, w, "spiffe://acme.test/bench/api")
	r.ClientCerts = nil
	if d, err := w.eng.Check(ctx, r); err != nil || d.Outcome != verdict.Allow {
		b.Fatalf("setup: %v %s %v", err, d.Outcome, d.Reasons)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := w.eng.Check(ctx, r)
		if err != nil || d.Outcome != verdict.Allow {
			b.Fatal(err, d.Reasons)
		}
	}
}
