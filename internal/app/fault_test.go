package app_test

// Disk faults (issue 14): the data directory, or one store's files, on a
// small tmpfs the test mounts and fills until writes fail with ENOSPC,
// then frees. Provost is served over loopback HTTP as `provost serve`
// serves it; every answer is kept and the evidence log held to them.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/revocation"
)

// faultLimit bounds each wait for a fault to show or to clear.
const faultLimit = 15 * time.Second

// probeEvery is how often a failed store tries a write again: the evidence
// log's retry and the integrity watch's revocation store probe.
var probeEvery = max(evidencelog.DefaultRetryInterval, app.FileCheckInterval)

// TestDiskFull fills the file system of the whole data directory while
// decisions run: every decision is still answered (200, never a 5xx or a
// hang); once writes fail every decision is denied with internal_error
// and /readyz answers 503; when the space is freed, Provost becomes ready
// and allows again without a restart, and the evidence log verifies and
// holds every answered decision's record where its answer said.
func TestDiskFull(t *testing.T) {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	dataDir := filepath.Join(w.Dir, "data")
	mountTmpfs(t, dataDir, 8<<20)
	a := w.App("")
	s := serve(t, a, 0)
	ctx := context.Background()
	decide := func() checkAnswer {
		t.Helper()
		// A new credential each time: its origin history is a new row,
		// so that store needs space too.
		return s.check("GET", "/r", "Bearer "+w.MustToken("svc:reports", nil), "10.20.1.1")
	}
	for range 5 {
		if ans := decide(); ans.decision != "allow" || ans.index < 0 {
			t.Fatalf("before the disk filled: %s, want allow with evidence", ans)
		}
	}

	filler := fill(t, dataDir)
	began, n := time.Now(), 0
	for ; time.Since(began) < faultLimit; n++ {
		ans := decide()
		if ans.decision == "allow" {
			continue // what still fits in pages the stores already hold
		}
		if ans.decision != "deny" || !ans.has(reason.InternalError) {
			t.Fatalf("decision %d on the full disk: %s, want allow or a fail-closed deny with %s", n, ans, reason.InternalError)
		}
		break
	}
	t.Logf("the first denial came %d decisions after the disk filled", n)
	if code, body := s.waitReadyz(503, faultLimit); code != 503 {
		t.Fatalf("/readyz while the disk is full: %d %s, want 503", code, body)
	}
	for i := range 20 {
		if ans := decide(); ans.decision != "deny" || !ans.has(reason.InternalError) {
			t.Fatalf("decision %d while the disk is full: %s, want deny with %s", i, ans, reason.InternalError)
		}
	}
	// The stores' probe writes (every second) fail while the disk is full:
	// readiness does not come back on its own.
	time.Sleep(2 * probeEvery)
	if code, body := s.readyz(); code != 503 || !strings.Contains(body, "evidence log") {
		t.Errorf("/readyz %v into the fault: %d %s, want 503 naming the evidence log", 2*probeEvery, code, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	if code, body := s.waitReadyz(200, faultLimit); code != 200 {
		t.Fatalf("/readyz %v after the space was freed: %d %s, want 200 without a restart", faultLimit, code, body)
	}
	t.Logf("ready again %v after the space was freed", time.Since(freed).Round(time.Millisecond))
	for i := range 10 {
		if ans := decide(); ans.decision != "allow" || ans.index < 0 {
			t.Fatalf("decision %d after the space was freed: %s, want allow with evidence", i, ans)
		}
	}
	named := s.verifyAnswers(ctx)
	t.Logf("%d answers, %d named an evidence record, all in the log", len(s.answers), named)

	// A restart opens the same log: its head matches the checkpoints.
	a.Close()
	b, err := app.Open(ctx, app.Options{ConfigFile: w.ConfigFile(), Now: w.Now})
	if err != nil {
		t.Fatalf("restart after the disk fault: %v", err)
	}
	defer b.Close()
	if size := b.Evidence.Size(); size < int64(named) {
		t.Fatalf("after the restart the log holds %d records, %d answers named one", size, named)
	}
}

// storeFault is one embedded store a test fills, and the decision that
// needs it.
type storeFault struct {
	name string // as /readyz names it
	path func(app.Layout) string
	// decide asks for a decision that writes to the store; healthy says
	// whether its answer is the one a working store gives.
	decide  func(w *provosttest.T, s *served) checkAnswer
	healthy func(checkAnswer) bool
}

// bearerDecision is a decision with a new credential: a new origin history
// row and a new evidence record.
func bearerDecision(w *provosttest.T, s *served) checkAnswer {
	return s.check("GET", "/r", "Bearer "+w.MustToken("svc:reports", nil), "10.20.1.1")
}

// allowedWithEvidence is the healthy answer to bearerDecision.
func allowedWithEvidence(a checkAnswer) bool { return a.decision == "allow" && a.index >= 0 }

// revokingDecision is a build credential used off the build hosts: its
// binding denies and revokes it (on_violation: revoke).
func revokingDecision(w *provosttest.T, s *served) checkAnswer {
	return s.check("POST", "/v1/deploy", "Bearer "+w.MustToken("ci:build", nil), "10.99.0.1")
}

// TestStoreDiskFull puts one embedded store at a time on a small file
// system of its own and fills it, under a running Provost: the decisions
// that need the store are denied with internal_error (never allowed, never
// a 5xx), /readyz answers 503 naming the store, and once space is freed
// Provost is ready and decides as before without a restart. The evidence
// log holds every answered decision's record throughout.
//
// Decisions that only read the revocation store (every one: it is read
// from memory) go on while it cannot be written; the ones that must write
// a revocation are denied, and so is an operator's revocation.
func TestStoreDiskFull(t *testing.T) {
	cases := []storeFault{
		{name: "evidence log", path: func(l app.Layout) string { return l.Evidence }, decide: bearerDecision, healthy: allowedWithEvidence},
		{name: "origin history", path: func(l app.Layout) string { return l.Origins }, decide: bearerDecision, healthy: allowedWithEvidence},
		{name: "revocation store", path: func(l app.Layout) string { return l.Revocations }, decide: revokingDecision,
			healthy: func(a checkAnswer) bool { return a.decision == "deny" && a.revoked != "" && a.index >= 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { testStoreDiskFull(t, c) })
	}
}

func testStoreDiskFull(t *testing.T, c storeFault) {
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
	ctx := context.Background()
	first := w.App("") // creates the stores, then lets them go
	layout := first.Layout
	first.Close()
	mnt := moveToTmpfs(t, c.path(layout), 4<<20)
	a := w.App("")
	s := serve(t, a, 0)
	for i := range 3 {
		if ans := c.decide(w, s); !c.healthy(ans) {
			t.Fatalf("decision %d before the fault: %s", i, ans)
		}
	}

	filler := fill(t, mnt)
	failed := func(ans checkAnswer) bool {
		return ans.decision == "deny" && ans.has(reason.InternalError) && ans.revoked == ""
	}
	began, n := time.Now(), 0
	for ; time.Since(began) < faultLimit; n++ {
		ans := c.decide(w, s)
		if failed(ans) {
			break
		}
		if !c.healthy(ans) {
			t.Fatalf("decision %d on the full %s: %s, want it healthy or failed closed", n, c.name, ans)
		}
	}
	t.Logf("the first fail-closed denial came %d decisions after the %s filled", n, c.name)
	if code, body := s.waitReadyz(503, faultLimit); code != 503 || !strings.Contains(body, c.name) {
		t.Fatalf("/readyz while the %s is full: %d %s, want 503 naming it", c.name, code, body)
	}
	for i := range 10 {
		if ans := c.decide(w, s); !failed(ans) {
			t.Fatalf("decision %d while the %s is full: %s, want deny with %s", i, c.name, ans, reason.InternalError)
		}
	}
	if c.name == "revocation store" {
		if _, err := a.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:other"}); err == nil {
			t.Error("an operator's revocation was written to the full revocation store")
		}
		// A decision that need not write a revocation goes on.
		if ans := bearerDecision(w, s); !allowedWithEvidence(ans) {
			t.Errorf("a decision that revokes nothing, while the revocation store is full: %s, want allowed with its record", ans)
		}
	}
	time.Sleep(2 * probeEvery)
	if code, body := s.readyz(); code != 503 || !strings.Contains(body, c.name) {
		t.Errorf("/readyz %v into the fault: %d %s, want 503 naming the %s", 2*probeEvery, code, body, c.name)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code, body := s.waitReadyz(200, faultLimit); code != 200 {
		t.Fatalf("/readyz after the space was freed: %d %s, want 200 without a restart", code, body)
	}
	for i := range 5 {
		if ans := c.decide(w, s); !c.healthy(ans) {
			t.Fatalf("decision %d after the space was freed: %s", i, ans)
		}
	}
	if c.name == "revocation store" {
		if _, err := a.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:other"}); err != nil {
			t.Errorf("an operator's revocation after the space was freed: %v", err)
		}
	}
	t.Logf("%d answers, %d named an evidence record", len(s.answers), s.verifyAnswers(ctx))
}

// TestBackendCut cuts the shared backend a decision needs, between a
// running Provost and the server (provosttest.FaultProxy), and heals it:
// every decision during the cut is denied with internal_error (never
// allowed, never a 5xx or a hang), /readyz answers 503 naming the
// backend, and after the heal Provost is ready and allows again without
// a restart; the evidence log verifies and holds every answered decision.
// PostgreSQL holds the evidence log here (evidence_key_file), so no
// decision can be recorded while it is cut; Redis holds origin history.
func TestBackendCut(t *testing.T) {
	cases := []struct {
		name   string
		config func(t *testing.T, w *provosttest.T) (*provosttest.FaultProxy, string)
	}{
		{"postgresql", func(t *testing.T, w *provosttest.T) (*provosttest.FaultProxy, string) {
			pg := pgdbtest.FreshSchema(t)
			target, dsnAt := pgViaProxy(t, pg.DSN)
			px := provosttest.NewFaultProxy(t, target)
			if _, err := evidencelog.CreateKeyFile(filepath.Join(w.Dir, "evidence.key"), "provost.test/evidence"); err != nil {
				t.Fatal(err)
			}
			return px, fmt.Sprintf("storage:\n  postgres: {dsn: %q, evidence_key_file: evidence.key, connect_timeout: 2s}\n", dsnAt(px.Addr()))
		}},
		{"redis", func(t *testing.T, w *provosttest.T) (*provosttest.FaultProxy, string) {
			px := provosttest.NewFaultProxy(t, provosttest.RedisAddr(t))
			return px, fmt.Sprintf("storage:\n  redis: {addr: %q, key_prefix: %q}\n", px.Addr(), provosttest.KeyPrefix(t))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := provosttest.New(t, provosttest.Options{Bindings: outageBindings})
			px, cfg := c.config(t, w)
			base, err := os.ReadFile(w.ConfigFile())
			if err != nil {
				t.Fatal(err)
			}
			w.Write("provost.yaml", string(base)+cfg)
			a := w.App("")
			s := serve(t, a, 0)
			for i := range 3 {
				if ans := bearerDecision(w, s); !allowedWithEvidence(ans) {
					t.Fatalf("decision %d before the cut: %s", i, ans)
				}
			}

			px.Cut()
			for i := range 10 {
				if ans := bearerDecision(w, s); ans.decision != "deny" || !ans.has(reason.InternalError) {
					t.Fatalf("FAIL-OPEN? decision %d while %s is cut: %s, want deny with %s", i, c.name, ans, reason.InternalError)
				}
			}
			if code, body := s.readyz(); code != 503 || !strings.Contains(body, c.name) {
				t.Errorf("/readyz while %s is cut: %d %s, want 503 naming it", c.name, code, body)
			}

			px.Heal()
			if code, body := s.waitReadyz(200, faultLimit); code != 200 {
				t.Fatalf("/readyz after %s came back: %d %s, want 200 without a restart", c.name, code, body)
			}
			// The first decisions after the heal may still meet a pooled
			// connection the cut reset (denied, as above); within a few
			// they are allowed.
			allowed := 0
			for i := 0; i < 20 && allowed < 5; i++ {
				ans := bearerDecision(w, s)
				switch {
				case allowedWithEvidence(ans):
					allowed++
				case allowed > 0 || ans.decision != "deny" || !ans.has(reason.InternalError):
					t.Fatalf("decision %d after %s came back: %s", i, c.name, ans)
				}
			}
			if allowed < 5 {
				t.Fatalf("only %d of 20 decisions allowed after %s came back", allowed, c.name)
			}
			t.Logf("%d answers, %d named an evidence record; %d connections refused during the cut",
				len(s.answers), s.verifyAnswers(context.Background()), px.Refused())
		})
	}
}
