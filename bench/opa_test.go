package bench

import (
	"context"
	"crypto/x509"
	"net/netip"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// A request as both engines see it: Provost gets the bearer token, the TCP
// peer and the workload's X.509-SVID chain (which it verifies); OPA gets the
// input document {token, peer, workload} with the workload's SPIFFE ID
// already verified.
type request struct {
	token string
	peer  string
	certs []*x509.Certificate
	id    string
}

func (r request) provost() *provost.Request {
	return &provost.Request{Method: "GET", Target: "/v1/data", Authorization: "Bearer " + r.token,
		Peer: netip.MustParseAddr(r.peer), ClientCerts: r.certs}
}

// TestOPAAgrees checks that the Provost policy and the Rego policy of
// BenchmarkOPA are the same decision: both allow the approved request and
// both deny the same wrong ones, the token being verified or served from
// OPA's token cache.
func TestOPAAgrees(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	eng := w.provostEngine(t)
	q := w.opaQuery(t)
	if q.cache.GetCache("io_jwt") == nil {
		t.Fatal("OPA's io_jwt token cache is off: the benchmark would measure OPA without it")
	}
	api := w.svid(t, "/bench/api")
	other := w.svid(t, "/other/api")
	parent := w.svid(t, "/bench")
	nested := w.svid(t, "/bench/api/v2")
	tok := w.token(t, subject, time.Hour, nil)
	other1 := newWorld(t) // another issuer key: a forged token
	cases := []struct {
		name  string
		r     request
		allow bool
		code  reason.Code // Provost's reason for a denial
	}{
		{"approved", request{tok, "10.30.4.4", api, workloadID}, true, ""},
		{"approved again (OPA: cached token)", request{tok, "10.30.4.4", api, workloadID}, true, ""},
		{"a workload deeper below the pattern", request{w.token(t, subject, time.Hour, nil), "10.30.4.4", nested, "spiffe://acme.test/bench/api/v2"}, true, ""},
		{"wrong network", request{tok, "198.51.100.23", api, workloadID}, false, reason.NetworkNotApproved},
		{"wrong workload", request{w.token(t, subject, time.Hour, nil), "10.30.4.4", other, "spiffe://acme.test/other/api"}, false, reason.WorkloadNotApproved},
		{"the pattern's parent is not below it", request{w.token(t, subject, time.Hour, nil), "10.30.4.4", parent, "spiffe://acme.test/bench"}, false, reason.WorkloadNotApproved},
		{"claim rule", request{w.token(t, subject, time.Hour, map[string]any{"env": "dev"}), "10.30.4.4", api, workloadID}, false, reason.RuleFailed},
		{"wrong audience", request{w.token(t, subject, time.Hour, map[string]any{"aud": "https://other.test"}), "10.30.4.4", api, workloadID}, false, reason.AudienceMismatch},
		{"expired", request{w.token(t, subject, -time.Hour, nil), "10.30.4.4", api, workloadID}, false, reason.Expired},
		{"forged", request{other1.token(t, subject, time.Hour, nil), "10.30.4.4", api, workloadID}, false, reason.JWSBadSignature},
	}
	for _, c := range cases {
		d, err := eng.Check(ctx, c.r.provost())
		if err != nil {
			t.Fatalf("%s: provost: %v", c.name, err)
		}
		if got := d.Outcome == verdict.Allow; got != c.allow {
			t.Errorf("%s: provost decided %s %v, want allow=%v", c.name, d.Outcome, d.Codes(), c.allow)
		}
		if c.code != "" && !d.Has(c.code) {
			t.Errorf("%s: provost's reasons are %v, want %s among them", c.name, d.Codes(), c.code)
		}
		got, err := q.allow(ctx, c.r.token, c.r.peer, c.r.id)
		if err != nil {
			t.Fatalf("%s: opa: %v", c.name, err)
		}
		if got != c.allow {
			t.Errorf("%s: opa decided allow=%v, want %v", c.name, got, c.allow)
		}
	}
}

// BenchmarkOPA compares, in the same run, one whole decision of Provost and
// of OPA over the equivalent Rego policy (see regoPolicy and
// provostBindings), one request at a time:
//
//   - cached: the same token every iteration. OPA's io_jwt cache then
//     skips the signature check; Provost verifies it on every request.
//   - distinct: a token never seen before every iteration (minted before
//     the timer starts), so neither can reuse a verification.
//
// The work is not the same, and every difference is on Provost's side:
// Provost also verifies the workload's X.509-SVID chain against the SPIFFE
// bundle (one more ECDSA verification; OPA is handed the SPIFFE ID), looks
// the credential up in origin history and records the use there, runs the
// origin detectors, and appends the decision to its evidence log before
// answering. Its stores are stores.Memory: all in memory, the evidence log
// a Merkle tree with signed checkpoints but no disk and no fsync, the
// closest to OPA here, which keeps no decision log. With stores.OpenDir
// (durable evidence, the default of provost serve) each decision would also
// wait for its fsync.
func BenchmarkOPA(b *testing.B) {
	w := newWorld(b)
	api := w.svid(b, "/bench/api")
	const peer = "10.30.4.4"
	ctx := context.Background()

	// Each loop first decides one request with the warm-up token before the
	// timer starts: for cached, that is the loop's own token, so OPA's cache
	// holds it; for distinct, a token of its own, which fills OPA's parsed-key
	// and glob caches as a running server would have them.
	provostLoop := func(b *testing.B, warmup string, tokens []string) {
		b.Helper()
		eng := w.provostEngine(b)
		r := request{token: warmup, peer: peer, certs: api, id: workloadID}
		if d, err := eng.Check(ctx, r.provost()); err != nil || d.Outcome != verdict.Allow {
			b.Fatalf("provost warm-up: %v %s %v", err, d.Outcome, d.Codes())
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := 0; i < b.N; i++ {
			r.token = tokens[i%len(tokens)]
			d, err := eng.Check(ctx, r.provost())
			if err != nil || d.Outcome != verdict.Allow {
				b.Fatalf("provost: %v %s %v", err, d.Outcome, d.Codes())
			}
		}
		report(b, processCPU()-cpu)
	}
	opaLoop := func(b *testing.B, warmup string, tokens []string) {
		b.Helper()
		q := w.opaQuery(b)
		if ok, err := q.allow(ctx, warmup, peer, workloadID); err != nil || !ok {
			b.Fatalf("opa warm-up: allow=%v %v", ok, err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for i := 0; i < b.N; i++ {
			ok, err := q.allow(ctx, tokens[i%len(tokens)], peer, workloadID)
			if err != nil || !ok {
				b.Fatalf("opa: allow=%v %v", ok, err)
			}
		}
		report(b, processCPU()-cpu)
	}

	tok := w.token(b, subject, time.Hour, nil)
	b.Run("cached/provost", func(b *testing.B) {
		provostLoop(b, tok, []string{tok})
	})
	b.Run("cached/opa", func(b *testing.B) {
		opaLoop(b, tok, []string{tok})
	})

	// distinct: b.N tokens minted for each run of the loop (untimed), each
	// decided once.
	fresh := func(b *testing.B) []string {
		toks := make([]string, b.N)
		for i := range toks {
			toks[i] = w.token(b, subject, time.Hour, nil)
		}
		return toks
	}
	b.Run("distinct/provost", func(b *testing.B) {
		provostLoop(b, w.token(b, subject, time.Hour, nil), fresh(b))
	})
	b.Run("distinct/opa", func(b *testing.B) {
		opaLoop(b, w.token(b, subject, time.Hour, nil), fresh(b))
	})
}

// report adds decisions/s (from wall time, as ns/op) and cpu-ns/op: the
// process's CPU time per decision over the timed loop, every thread (the
// garbage collector's included). On this shared 2-core machine the second
// moves far less with the other processes' load than the first.
func report(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
