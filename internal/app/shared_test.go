package app_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/revocation"
	"github.com/provost-dev/provost/verdict"
)

const sharedBindings = `version: 1
bindings:
  - name: tools
    match: {subject: "agent:tools"}
    require: {possession: dpop}
  - name: reports
    match: {subject: "svc:reports"}
`

// Two replicas, each with its own data directory, configured with the same
// PostgreSQL and Redis, behave as one Provost: a DPoP proof accepted by one
// is a replay at the other, a revocation made on one is enforced by the
// other, and each sees the other's origins.
func TestReplicasShareStores(t *testing.T) {
	pg := pgdbtest.FreshSchema(t)
	redisAddr := provosttest.RedisAddr(t)
	w := provosttest.New(t, provosttest.Options{Bindings: sharedBindings, Config: fmt.Sprintf(`storage:
  postgres: {dsn: %q}
  redis: {addr: %q, key_prefix: %q}
`, pg.DSN, redisAddr, provosttest.KeyPrefix(t))})
	one, two := w.App("replica-1"), w.App("replica-2")
	ctx := context.Background()
	for _, a := range []*app.App{one, two} {
		if err := a.Ready(ctx); err != nil {
			t.Fatalf("not ready: %v", err)
		}
	}

	// A DPoP proof is used once across replicas.
	key := w.NewKey()
	tok := w.MustBoundToken("agent:tools", key)
	proof := w.MustDPoPProof(key, "POST", "/v1/tools/run", tok)
	req := func(a *app.App, peer string) *provost.Decision {
		d, err := a.Engine.Check(ctx, &provost.Request{Method: "POST", Target: "/v1/tools/run", Authorization: "DPoP " + tok,
			DPoP: proof, Peer: netip.MustParseAddr(peer)})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := req(one, "10.1.1.1"); d.Outcome != verdict.Allow {
		t.Fatalf("replica 1: %s %v", d.Outcome, d.Codes())
	}
	if d := req(two, "10.1.1.1"); !d.Has(reason.DPoPReplayed) {
		t.Fatalf("the same proof at replica 2: %s %v, want %s", d.Outcome, d.Codes(), reason.DPoPReplayed)
	}

	// Origin history is shared: replica 2 knows where replica 1 saw the
	// credential.
	rtok := w.MustToken("svc:reports", nil)
	d, err := one.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/r", Authorization: "Bearer " + rtok, Peer: netip.MustParseAddr("10.2.2.2")})
	if err != nil || d.Outcome != verdict.Allow {
		t.Fatalf("replica 1: %+v %v", d, err)
	}
	h, err := two.Origins.Lookup(ctx, d.Credential.Fingerprint)
	if err != nil || len(h.Origins) != 1 || h.Origins[0].Origin.Network != "10.2.2.0/24" {
		t.Fatalf("replica 2's view of the origins: %+v %v", h, err)
	}

	// A revocation on replica 1 is enforced by replica 2.
	if _, err := one.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: d.Credential.Fingerprint, Reason: "leaked"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := two.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/r", Authorization: "Bearer " + rtok, Peer: netip.MustParseAddr("10.2.2.2")})
		if err != nil {
			t.Fatal(err)
		}
		if d.Has(reason.Revoked) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 still answers %s %v 10s after the revocation", d.Outcome, d.Codes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A reload on one replica (SIGHUP or the admin API) reloads every replica
// that shares the PostgreSQL storage; a reload that fails on a replica
// keeps its configuration in force.
func TestReplicasReloadTogether(t *testing.T) {
	pg := pgdbtest.FreshSchema(t)
	w := provosttest.New(t, provosttest.Options{Bindings: sharedBindings, Config: fmt.Sprintf("storage:\n  postgres: {dsn: %q}\n", pg.DSN)})
	one, two := w.App("replica-1"), w.App("replica-2")
	before := two.Policy().Digest()
	w.Write("bindings.yaml", sharedBindings+`  - name: added
    match: {subject: "svc:added"}
`)
	if err := one.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := one.Policy().Digest()
	if after == before {
		t.Fatal("the reload did not change replica 1's bindings")
	}
	deadline := time.Now().Add(10 * time.Second)
	for two.Policy().Digest() != after {
		if time.Now().After(deadline) {
			t.Fatalf("replica 2 still has bindings %s 10s after replica 1 reloaded to %s", two.Policy().Digest(), after)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
