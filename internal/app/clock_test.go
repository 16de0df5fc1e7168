package app_test

// Clock jumps (issue 14): Provost runs on the world's clock
// (provosttest.Clock, app.Options.Now), which the tests move forward and
// back by hours as a wrongly set and then corrected system clock would.

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// clockWorld is a Provost on a clock the test moves.
type clockWorld struct {
	t *testing.T
	w *provosttest.T
	a *app.App
}

func newClockWorld(t *testing.T) *clockWorld {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	return &clockWorld{t: t, w: w, a: w.App("")}
}

// judge asks the engine and requires an answer with an evidence record.
func (c *clockWorld) judge(r *provost.Request) *provost.Decision {
	c.t.Helper()
	d, err := c.a.Engine.Check(context.Background(), r)
	if err != nil || d == nil || d.Evidence == nil {
		c.t.Fatalf("Check: %+v %v, want a recorded decision", d, err)
	}
	return d
}

func (c *clockWorld) bearer(tok string) *provost.Decision {
	c.t.Helper()
	return c.judge(&provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr("10.20.1.1")})
}

func (c *clockWorld) dpop(tok, proof string) *provost.Decision {
	c.t.Helper()
	return c.judge(&provost.Request{Method: "POST", Target: "/v1/tools/run", Authorization: "DPoP " + tok, DPoP: proof, Peer: netip.MustParseAddr("10.20.1.1")})
}

// want fails the test unless d has outcome and, when code is set, code.
func want(t *testing.T, what string, d *provost.Decision, outcome verdict.Outcome, code reason.Code) {
	t.Helper()
	if d.Outcome != outcome || code != "" && !d.Has(code) {
		t.Fatalf("%s: %s %v, want %s %s", what, d.Outcome, d.Codes(), outcome, code)
	}
}

// A forward jump past a token's exp rejects it as expired; back within
// its lifetime it is accepted again.
func TestClockJumpTokenExpiry(t *testing.T) {
	c := newClockWorld(t)
	tok := c.w.MustToken("svc:reports", nil) // valid for an hour
	want(t, "before the jump", c.bearer(tok), verdict.Allow, "")
	c.w.Clock.Advance(3 * time.Hour)
	want(t, "3h forward, past exp", c.bearer(tok), verdict.Deny, reason.Expired)
	c.w.Clock.Advance(-3*time.Hour + time.Minute)
	want(t, "back within its lifetime", c.bearer(tok), verdict.Allow, "")
}

// The replay cache keeps refusing a DPoP proof it has seen, whatever the
// clock does: after a jump back (within the proof's leeway, the replay
// itself is caught; further, the proof's iat is in the future), and after
// a jump forward, during which the cache swept the proof's entry as
// expired, and back again, when the proof is within its window once more.
func TestClockJumpDPoPReplay(t *testing.T) {
	cases := []struct {
		name    string
		forward time.Duration // first jump, during which other proofs are recorded
		back    time.Duration // then this jump back
		code    reason.Code
	}{
		{"back 3s (within the leeway)", 0, 3 * time.Second, reason.DPoPReplayed},
		{"back 1h", 0, time.Hour, reason.DPoPIATWindow},
		{"forward 2h then back", 2 * time.Hour, 2*time.Hour - 10*time.Second, reason.DPoPReplayed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClockWorld(t)
			key := c.w.NewKey()
			// A token from 2h ago, valid 6h: none of the jumps makes it
			// expired or issued in the future, so the proof is what is judged.
			c.w.Clock.Advance(-2 * time.Hour)
			tok, err := c.w.Token("agent:tools", 6*time.Hour, map[string]any{"cnf": map[string]any{"jkt": c.w.MustJKT(key)}})
			if err != nil {
				t.Fatal(err)
			}
			// Provost has been up a minute when the proof is made.
			c.w.Clock.Advance(2*time.Hour + time.Minute)
			proof := c.w.MustDPoPProof(key, "POST", "/v1/tools/run", tok)
			want(t, "the proof, first use", c.dpop(tok, proof), verdict.Allow, "")
			want(t, "the proof replayed at once", c.dpop(tok, proof), verdict.Deny, reason.DPoPReplayed)
			if tc.forward > 0 {
				c.w.Clock.Advance(tc.forward)
				want(t, "the proof replayed after the forward jump", c.dpop(tok, proof), verdict.Deny, reason.DPoPIATWindow)
				// Other clients' proofs keep the cache busy meanwhile: each
				// sweeps expired entries, the first proof's among them.
				for i := range 2000 {
					until := c.w.Clock.Now().Add(time.Minute)
					if _, err := c.a.Replay.Seen(context.Background(), fmt.Sprintf("dpop:other:%d", i), until); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.w.Clock.Advance(-tc.back)
			want(t, "the proof replayed after the jump back", c.dpop(tok, proof), verdict.Deny, tc.code)
			if tc.back < time.Minute {
				// A fresh proof is still accepted: the clock is where it was.
				fresh := c.w.MustDPoPProof(key, "POST", "/v1/tools/run", tok)
				want(t, "a fresh proof after the jump back", c.dpop(tok, fresh), verdict.Allow, "")
			}
		})
	}
}

// Dormancy is judged on the clock without being set off by a jump of
// hours either way, nor hidden by a jump back: a credential unused for
// longer than detectors.dormancy (720h) is flagged when it comes back,
// even on a clock that was just set back an hour.
func TestClockJumpDormancy(t *testing.T) {
	c := newClockWorld(t)
	const life = 60 * 24 * time.Hour
	active, err := c.w.Token("svc:reports", life, nil)
	if err != nil {
		t.Fatal(err)
	}
	dormant, err := c.w.Token("svc:reports", life, nil)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "active, first use", c.bearer(active), verdict.Allow, "")
	want(t, "dormant, first use", c.bearer(dormant), verdict.Allow, "")

	c.w.Clock.Advance(6 * time.Hour)
	d := c.bearer(active)
	want(t, "active, 6h forward", d, verdict.Allow, "")
	c.w.Clock.Advance(-6*time.Hour + time.Minute)
	d2 := c.bearer(active)
	want(t, "active, back again (its last use is in the future)", d2, verdict.Allow, "")
	for _, x := range []*provost.Decision{d, d2} {
		if x.Has(reason.DormantRevival) {
			t.Fatalf("a jump of hours flagged dormancy: %v", x.Codes())
		}
	}

	// 31 days pass; the clock is then set back an hour: still past 720h.
	c.w.Clock.Advance(31 * 24 * time.Hour)
	c.w.Clock.Advance(-time.Hour)
	if d := c.bearer(dormant); !d.Has(reason.DormantRevival) {
		t.Fatalf("a credential unused for 31 days less an hour: %s %v, want %s", d.Outcome, d.Codes(), reason.DormantRevival)
	}
}

// Checkpoints are signed and the log verifies across jumps: records made
// on a clock hours ahead and then set back, a checkpoint signed at each,
// a restart (its head checked against the last checkpoint) and a receipt
// of a record from after the jump back, checked with the verifier key
// alone.
func TestClockJumpCheckpoints(t *testing.T) {
	c := newClockWorld(t)
	ctx := context.Background()
	tok := func() string { return c.w.MustToken("svc:reports", nil) }
	c.bearer(tok())
	c.w.Clock.Advance(5 * time.Hour)
	c.bearer(tok())
	if _, err := c.a.Evidence.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint 5h ahead: %v", err)
	}
	c.w.Clock.Advance(-5*time.Hour - time.Hour)
	last := c.bearer(tok())
	vkey := c.a.Evidence.VerifierKey()
	c.a.Close() // signs a last checkpoint, on the clock set back

	b, err := app.Open(ctx, app.Options{ConfigFile: c.w.ConfigFile(), Now: c.w.Now})
	if err != nil {
		t.Fatalf("restart after the jumps: %v", err)
	}
	defer b.Close()
	l, ok := b.Evidence.(*evidencelog.Log)
	if !ok {
		t.Fatalf("evidence log %T", b.Evidence)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("the log after the jumps: %v", err)
	}
	r, err := l.Receipt(ctx, last.Evidence.Index)
	if err != nil {
		t.Fatalf("receipt of the record made after the jump back: %v", err)
	}
	if err := evidencelog.VerifyReceipt(r, vkey); err != nil {
		t.Fatalf("the receipt does not verify: %v", err)
	}
}
