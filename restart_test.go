package provost_test

import (
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// A restart of a single embedded Provost does not reopen a window for
// replays: the in-memory replay cache forgets what it saw, so a DPoP proof
// made before the restart is refused after it (the client sends a fresh
// one), and a fresh proof is accepted.
func TestDPoPReplayAfterRestartRefused(t *testing.T) {
	w, a := newWorld(t)
	key := w.NewKey()
	tok := w.MustBoundToken("svc:reports", key)
	req := func(proof string) *provost.Request {
		return &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "DPoP " + tok, DPoP: proof, Peer: addr("10.40.1.1")}
	}
	proof := w.MustDPoPProof(key, "GET", "/v1/reports", tok)
	if d := check(t, a, req(proof)); d.Outcome != verdict.Allow {
		t.Fatalf("before the restart: %s %v", d.Outcome, d.Codes())
	}
	if d := check(t, a, req(proof)); !d.Has(reason.DPoPReplayed) {
		t.Fatalf("a replay before the restart: %s %v", d.Outcome, d.Codes())
	}

	// The process restarts a second later on the same data directory.
	a.Close()
	w.Clock.Advance(time.Second)
	a = w.App("")
	if d := check(t, a, req(proof)); d.Outcome != verdict.Deny || !d.Has(reason.DPoPIATWindow) {
		t.Fatalf("the proof replayed after the restart: %s %v, want deny %s", d.Outcome, d.Codes(), reason.DPoPIATWindow)
	}
	fresh := w.MustDPoPProof(key, "GET", "/v1/reports", tok)
	if d := check(t, a, req(fresh)); d.Outcome != verdict.Allow {
		t.Fatalf("a fresh proof after the restart: %s %v", d.Outcome, d.Codes())
	}
}
