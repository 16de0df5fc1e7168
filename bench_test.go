package provost_test

import (
	"context"
	"testing"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/verdict"
)

// BenchmarkCheck is the whole decision for one request with the issuer's
// keys loaded: credential (ES256), workload identity (X.509-SVID), network
// path through a trusted proxy, a two-hop signed proxy chain, a posture
// attestation, the binding's checks, origin history and the detectors.
func BenchmarkCheck(b *testing.B) {
	w, a := newWorld(b)
	w.Write("bindings.yaml", `version: 1
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
	if err := a.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	tok := w.MustToken("svc:bench", nil)
	r := &provost.Request{Method: "GET", Target: "/v1/data", Authorization: "Bearer " + tok,
		Peer: addr("10.0.0.1"), XForwardedFor: []string{"10.30.4.4"},
		ClientCerts: svid(b, w, "spiffe://acme.test/bench/api"), Posture: w.MustPosture("host-1", "hardened", tok),
		Hops: hops(w, "GET", "/v1/data", tok, "edge", "gw")}
	ctx := context.Background()
	// The bench peer is the trusted proxy, so the client certificate is read
	// from XFCC, as it would be behind Envoy.
	r.XFCC = xfccFor(b, w, "spiffe://acme.test/bench/api")
	r.ClientCerts = nil
	if d, err := a.Engine.Check(ctx, r); err != nil || d.Outcome != verdict.Allow {
		b.Fatalf("setup: %v %s %v", err, d.Outcome, d.Reasons)
	}
	b.ReportAllocs()
	for b.Loop() {
		d, err := a.Engine.Check(ctx, r)
		if err != nil || d.Outcome != verdict.Allow {
			b.Fatal(err, d.Reasons)
		}
	}
}
