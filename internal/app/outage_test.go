package app_test

// Outages of the shared backends (issue 11): Redis cut during load, then
// PostgreSQL, then a start with Redis down. The machine's shared servers
// are never stopped: a provosttest.FaultProxy stands between Provost and
// each one and plays the outage (Cut resets every connection, live and new;
// Heal forwards again), and each test has its own Redis key prefix and
// PostgreSQL schema.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/config"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/provosttest"
	"github.com/provost-dev/provost/internal/server"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/revocation"
	"github.com/provost-dev/provost/verdict"
)

const outageBindings = `version: 1
networks:
  build-hosts: [10.20.0.0/16]
bindings:
  - name: tools
    match: {subject: "agent:tools"}
    require: {possession: dpop}
  - name: reports
    match: {subject: "svc:reports"}
  - name: builds
    match: {subject: "ci:build"}
    require: {networks: [build-hosts]}
    on_violation: revoke
`

// outageCheck judges one request and holds the engine to its fail-closed
// promise whatever happened: an allow never comes with an error, an error
// is always a denial with an infrastructure reason, and every answered
// decision names its evidence record.
func outageCheck(t *testing.T, a *app.App, r *provost.Request) (*provost.Decision, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := a.Engine.Check(ctx, r)
	if d == nil {
		t.Errorf("no decision (err %v)", err)
		return &provost.Decision{Outcome: verdict.Deny}, err
	}
	if err != nil {
		if d.Outcome != verdict.Deny {
			t.Errorf("FAIL-OPEN: %s with error %v", d.Outcome, err)
		}
		if !d.Has(reason.InternalError) && !d.Has(reason.ReplayCacheFull) {
			t.Errorf("failed closed without an infrastructure reason: %v (error %v)", d.Codes(), err)
		}
	}
	if d.Evidence == nil {
		t.Errorf("decision %s %v answered without an evidence record", d.Outcome, d.Codes())
	}
	return d, err
}

// readyz is the server's /readyz answer for a.
func readyz(a *app.App) (int, string) {
	h := server.New(server.ForApp(a), config.Serve{}, nil).Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, server.PathReadyz, nil))
	return rec.Code, rec.Body.String()
}

// waitFor polls cond every 20ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Load phases of TestOutageRedisDuringLoad. A request is judged strictly
// when it started and ended in the same stable phase; requests that
// overlapped a transition are held to the invariants only.
const (
	phaseHealthy int32 = iota
	phaseCutting
	phaseCut
	phaseHealing
	phaseHealed
)

type loadResult struct {
	worker, iter int
	kind         string // dpop, replay, bearer
	proof        int    // the proof's number, for dpop and replay
	start, end   int32
	took         time.Duration
	d            *provost.Decision
	err          error
}

// Redis is cut while workers send DPoP requests (each proof sent twice)
// and bearer requests, then healed, without reopening the App. While cut,
// every decision is a denial (the replay cache and origin history are in
// Redis) and is recorded, Ready and /readyz name Redis; no proof is ever
// accepted twice; after Heal requests are allowed again.
func TestOutageRedisDuringLoad(t *testing.T) {
	px := provosttest.NewFaultProxy(t, provosttest.RedisAddr(t))
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings, Config: fmt.Sprintf(`storage:
  redis: {addr: %q, key_prefix: %q}
`, px.Addr(), provosttest.KeyPrefix(t))})
	a := w.App("replica-1")
	ctx := context.Background()
	if err := a.Ready(ctx); err != nil {
		t.Fatalf("not ready before the outage: %v", err)
	}

	const (
		workers   = 6
		maxIter   = 300              // per worker, whatever happens
		perPhase  = 3                // stable iterations per worker per phase
		loadLimit = 60 * time.Second // the whole load
	)
	var (
		phase    atomic.Int32
		proofs   atomic.Int64
		stable   [5][workers]atomic.Int32 // iterations per phase and worker, judged strictly
		mu       sync.Mutex
		results  []loadResult
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		deadline = time.Now().Add(loadLimit)
	)
	size0 := a.Evidence.Size()
	for i := range workers {
		key := w.NewKey()
		dtok := w.MustBoundToken("agent:tools", key)
		btok := w.MustToken("svc:reports", nil)
		peer := netip.AddrFrom4([4]byte{10, 1, byte(i), 1})
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []loadResult
			defer func() { mu.Lock(); results = append(results, mine...); mu.Unlock() }()
			for it := 0; it < maxIter && time.Now().Before(deadline); it++ {
				select {
				case <-stop:
					return
				default:
				}
				start := phase.Load()
				n := int(proofs.Add(1))
				proof := w.MustDPoPProof(key, "POST", "/v1/tools/run", dtok)
				dreq := &provost.Request{Method: "POST", Target: "/v1/tools/run", Authorization: "DPoP " + dtok, DPoP: proof, Peer: peer}
				var got []loadResult
				judge := func(kind string, r *provost.Request) {
					t0 := time.Now()
					d, err := outageCheck(t, a, r)
					got = append(got, loadResult{worker: i, iter: it, kind: kind, proof: n, start: start, took: time.Since(t0), d: d, err: err})
				}
				judge("dpop", dreq)
				judge("replay", dreq) // the same proof again
				judge("bearer", &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + btok, Peer: peer})
				end := phase.Load()
				for k := range got {
					got[k].end = end
				}
				mine = append(mine, got...)
				if start == end {
					stable[start][i].Add(1)
				}
			}
		}()
	}
	// waitPhase waits until every worker has done perPhase iterations that
	// started and ended in p.
	waitPhase := func(p int32, name string) {
		t.Helper()
		ok := waitFor(time.Until(deadline), func() bool {
			for i := range workers {
				if stable[p][i].Load() < perPhase {
					return false
				}
			}
			return true
		})
		if !ok {
			close(stop)
			wg.Wait()
			t.Fatalf("the load did not reach %d iterations per worker %s before its limit", perPhase, name)
		}
	}

	t0 := time.Now()
	waitPhase(phaseHealthy, "before the cut")
	tCut := time.Now()
	phase.Store(phaseCutting)
	px.Cut()
	phase.Store(phaseCut)
	err := a.Ready(ctx)
	if err == nil || !strings.Contains(err.Error(), "redis") {
		t.Errorf("Ready while Redis is cut: %v, want an error naming redis", err)
	}
	if code, body := readyz(a); code != http.StatusServiceUnavailable || !strings.Contains(body, "redis") {
		t.Errorf("/readyz while Redis is cut: %d %s, want 503 naming redis", code, body)
	}
	waitPhase(phaseCut, "while Redis is cut")
	phase.Store(phaseHealing)
	tHeal := time.Now()
	px.Heal()
	if !waitFor(10*time.Second, func() bool { return a.Ready(ctx) == nil }) {
		t.Errorf("Ready 10s after Redis came back: %v", a.Ready(ctx))
	}
	tReady := time.Now()
	phase.Store(phaseHealed)
	if code, body := readyz(a); code != http.StatusOK {
		t.Errorf("/readyz after Redis came back: %d %s", code, body)
	}
	waitPhase(phaseHealed, "after Redis came back")
	close(stop)
	wg.Wait()
	t.Logf("healthy %v, cut %v, Ready again %v after Heal, healed %v",
		tCut.Sub(t0).Round(time.Millisecond), tHeal.Sub(tCut).Round(time.Millisecond),
		tReady.Sub(tHeal).Round(time.Millisecond), time.Since(tReady).Round(time.Millisecond))

	// Judge every answer.
	var (
		allowsOf  = map[int]int{}
		count     [5]map[string]int
		indexes   = map[int64]bool{}
		outcomes  = map[string]int{}
		cutCodes  = map[reason.Code]int{}
		failedErr int
		slowest   [5]time.Duration
	)
	for p := range count {
		count[p] = map[string]int{}
	}
	for _, r := range results {
		d := r.d
		outcomes[string(d.Outcome)]++
		bucket := r.start
		if r.start != r.end {
			bucket = phaseCutting // overlapped a transition
		}
		slowest[bucket] = max(slowest[bucket], r.took)
		// The Redis timeout is 1s (the default): go-redis retries within
		// it, but no decision may wait much longer for a dead backend.
		if r.took > 3*time.Second {
			t.Errorf("worker %d iteration %d %s took %v (phase %d)", r.worker, r.iter, r.kind, r.took, r.start)
		}
		if d.Evidence != nil {
			if indexes[d.Evidence.Index] {
				t.Errorf("two decisions name evidence record %d", d.Evidence.Index)
			}
			indexes[d.Evidence.Index] = true
		}
		if r.err != nil {
			failedErr++
		}
		if d.Outcome == verdict.Allow && r.kind != "bearer" {
			allowsOf[r.proof]++
			if allowsOf[r.proof] > 1 {
				t.Errorf("FAIL-OPEN: worker %d iteration %d: DPoP proof %d allowed twice (%s, phases %d..%d)", r.worker, r.iter, r.proof, r.kind, r.start, r.end)
			}
		}
		if r.start != r.end {
			continue // overlapped a cut or a heal: the invariants only
		}
		count[r.start][r.kind]++
		where := fmt.Sprintf("worker %d iteration %d %s (phase %d)", r.worker, r.iter, r.kind, r.start)
		switch r.start {
		case phaseHealthy, phaseHealed:
			switch want := verdict.Allow; {
			case r.kind == "replay" && (d.Outcome != verdict.Deny || !d.Has(reason.DPoPReplayed)):
				t.Errorf("%s: %s %v, want a denial %s", where, d.Outcome, d.Codes(), reason.DPoPReplayed)
			case r.kind != "replay" && d.Outcome != want:
				t.Errorf("%s: %s %v (error %v), want %s", where, d.Outcome, d.Codes(), r.err, want)
			}
		case phaseCut:
			for _, c := range d.Codes() {
				cutCodes[c]++
			}
			if d.Outcome != verdict.Deny || r.err == nil {
				t.Errorf("FAIL-OPEN: %s while Redis is cut: %s %v (error %v), want a fail-closed denial", where, d.Outcome, d.Codes(), r.err)
			}
			// A DPoP proof the replay cache cannot record is refused with
			// the cache's own infrastructure code (docs/reasons.md); every
			// other decision needs origin history and says internal_error.
			switch {
			case r.kind == "bearer" && !d.Has(reason.InternalError):
				t.Errorf("%s while Redis is cut: %v, want %s", where, d.Codes(), reason.InternalError)
			case r.kind != "bearer" && !d.Has(reason.ReplayCacheFull) && !d.Has(reason.InternalError):
				t.Errorf("%s while Redis is cut: %v, want %s or %s", where, d.Codes(), reason.ReplayCacheFull, reason.InternalError)
			}
		}
	}
	for _, p := range []int32{phaseHealthy, phaseCut, phaseHealed} {
		for _, k := range []string{"dpop", "replay", "bearer"} {
			if count[p][k] < workers*perPhase {
				t.Errorf("phase %d: only %d %s decisions judged strictly, want at least %d", p, count[p][k], k, workers*perPhase)
			}
		}
	}
	// No lost evidence: the log grew by exactly the number of answers.
	if got := a.Evidence.Size() - size0; got != int64(len(results)) {
		t.Errorf("the evidence log grew by %d records for %d answered decisions", got, len(results))
	}
	t.Logf("%d decisions (%v), %d failed closed; while cut: %v; %d connections refused by the proxy; evidence %d -> %d",
		len(results), outcomes, failedErr, cutCodes, px.Refused(), size0, a.Evidence.Size())
	t.Logf("slowest decision: healthy %v, overlapping a transition %v, while cut %v, healed %v",
		slowest[phaseHealthy].Round(time.Millisecond), slowest[phaseCutting].Round(time.Millisecond),
		slowest[phaseCut].Round(time.Millisecond), slowest[phaseHealed].Round(time.Millisecond))
}

// pgViaProxy returns the host:port of the PostgreSQL server dsn names and
// a function giving dsn with another address in its place.
func pgViaProxy(t *testing.T, dsn string) (string, func(addr string) string) {
	t.Helper()
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(pc.Host, "/") {
		t.Skipf("the test PostgreSQL is reached through a Unix socket (%s): no TCP proxy can be put in front of it", pc.Host)
	}
	target := net.JoinHostPort(pc.Host, fmt.Sprint(pc.Port))
	return target, func(addr string) string {
		if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			u.Host = addr
			return u.String()
		}
		host, port, _ := net.SplitHostPort(addr)
		return dsn + " host=" + host + " port=" + port
	}
}

// openReplica opens a second App over w with its own configuration file
// (cfg: the world's, edited) and data directory, sharing the server secret
// of replica-1 so both name credentials alike.
func openReplica(t *testing.T, w *provosttest.T, first *app.App, name, cfg string) *app.App {
	t.Helper()
	w.Write(name+".yaml", cfg)
	dir := filepath.Join(w.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	secret, err := os.ReadFile(first.Layout.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app.LayoutOf(dir).Secret, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), app.Options{ConfigFile: filepath.Join(w.Dir, name+".yaml"), DataDir: dir, Now: w.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// PostgreSQL is cut between replica 1 and the database; replica 2 still
// reaches it. Replica 1 keeps deciding from its in-memory revocation index
// (a revoked credential stays denied, others are allowed), Ready and
// /readyz name PostgreSQL, writing a revocation fails (the admin API would
// answer 5xx) and so does removing one (which leaves the credential
// revoked here), and a decision whose binding says revoke is denied, not
// allowed. After Heal, without reopening, replica 1 sees what replica 2
// revoked during the outage and after it (Follow reconnects), and writes
// revocations again.
func TestOutagePostgres(t *testing.T) {
	pg := pgdbtest.FreshSchema(t)
	target, dsnAt := pgViaProxy(t, pg.DSN)
	px := provosttest.NewFaultProxy(t, target)
	proxied := dsnAt(px.Addr())
	w := provosttest.New(t, provosttest.Options{Bindings: outageBindings, Config: fmt.Sprintf(`storage:
  postgres: {dsn: %q, connect_timeout: 2s}
`, proxied)})
	one := w.App("replica-1")
	cfg, err := os.ReadFile(w.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	direct := strings.Replace(string(cfg), fmt.Sprintf("%q", proxied), fmt.Sprintf("%q", pg.DSN), 1)
	if direct == string(cfg) {
		t.Fatal("could not point replica 2 at PostgreSQL directly")
	}
	two := openReplica(t, w, one, "replica-2", direct)
	ctx := context.Background()
	for _, a := range []*app.App{one, two} {
		if err := a.Ready(ctx); err != nil {
			t.Fatalf("not ready before the outage: %v", err)
		}
	}

	peer := netip.MustParseAddr("10.2.2.2")
	bearer := func(tok string) *provost.Request {
		return &provost.Request{Method: "GET", Target: "/v1/reports", Authorization: "Bearer " + tok, Peer: peer}
	}
	answers := 0
	judge := func(r *provost.Request) (*provost.Decision, error) {
		t.Helper()
		answers++
		return outageCheck(t, one, r)
	}
	revokeOnTwo := func(tok string) revocation.Revocation {
		t.Helper()
		rev, err := two.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: two.Fingerprint(tok), Reason: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	// revokedAtOne waits (bounded) until replica 1 denies tok as revoked.
	revokedAtOne := func(tok, what string, limit time.Duration) {
		t.Helper()
		start := time.Now()
		ok := waitFor(limit, func() bool {
			d, _ := judge(bearer(tok))
			return d.Outcome == verdict.Deny && d.Has(reason.Revoked)
		})
		if !ok {
			t.Fatalf("%s: replica 1 does not see replica 2's revocation %v later", what, limit)
		}
		t.Logf("%s: replica 1 saw replica 2's revocation after %v", what, time.Since(start).Round(time.Millisecond))
	}
	size0 := one.Evidence.Size()

	good, leaked := w.MustToken("svc:reports", nil), w.MustToken("svc:reports", nil)
	if d, err := judge(bearer(good)); d.Outcome != verdict.Allow || err != nil {
		t.Fatalf("before the outage: %s %v %v", d.Outcome, d.Codes(), err)
	}
	leakedRev := revokeOnTwo(leaked)
	revokedAtOne(leaked, "before the outage", 10*time.Second)

	// The outage.
	px.Cut()
	if err := one.Ready(ctx); err == nil || !strings.Contains(err.Error(), "postgresql") {
		t.Errorf("Ready while PostgreSQL is cut: %v, want an error naming postgresql", err)
	}
	if code, body := readyz(one); code != http.StatusServiceUnavailable || !strings.Contains(body, "postgresql") {
		t.Errorf("/readyz while PostgreSQL is cut: %d %s, want 503 naming postgresql", code, body)
	}
	// Decisions keep working from the in-memory revocation index: the
	// revoked credential stays denied, the other is allowed.
	for i := range 20 {
		if d, err := judge(bearer(good)); d.Outcome != verdict.Allow || err != nil {
			t.Fatalf("request %d while PostgreSQL is cut: %s %v %v, want allow (from the in-memory index)", i, d.Outcome, d.Codes(), err)
		}
		if d, _ := judge(bearer(leaked)); d.Outcome != verdict.Deny || !d.Has(reason.Revoked) {
			t.Fatalf("FAIL-OPEN: the revoked credential while PostgreSQL is cut: %s %v", d.Outcome, d.Codes())
		}
	}
	// Writing a revocation fails, within a bound, and says so.
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	start := time.Now()
	_, err = one.Revocations.Add(wctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: one.Fingerprint(good), Reason: "test"})
	cancel()
	if err == nil {
		t.Fatal("a revocation was added while PostgreSQL is cut")
	}
	t.Logf("Add while cut failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if d, err := judge(bearer(good)); d.Outcome != verdict.Allow || err != nil {
		t.Errorf("the failed Add changed the index: %s %v %v", d.Outcome, d.Codes(), err)
	}
	// Removing one fails too, and the credential stays revoked here.
	wctx, cancel = context.WithTimeout(ctx, 15*time.Second)
	err = one.Revocations.Remove(wctx, leakedRev.ID)
	cancel()
	if err == nil || errors.Is(err, revocation.ErrNotFound) {
		t.Errorf("Remove while PostgreSQL is cut: %v, want a failure", err)
	}
	if d, _ := judge(bearer(leaked)); d.Outcome != verdict.Deny || !d.Has(reason.Revoked) {
		t.Errorf("FAIL-OPEN: a failed Remove un-revoked the credential: %s %v", d.Outcome, d.Codes())
	}
	// The engine's own revoke action fails closed: the build token used off
	// the build hosts is denied although its revocation cannot be written.
	build := w.MustToken("ci:build", nil)
	offHosts := &provost.Request{Method: "POST", Target: "/v1/deploy", Authorization: "Bearer " + build, Peer: netip.MustParseAddr("10.99.0.1")}
	d, err := judge(offHosts)
	if d.Outcome != verdict.Deny || err == nil || !d.Has(reason.InternalError) || d.RevocationID != "" {
		t.Errorf("FAIL-OPEN: a decision that should revoke, while PostgreSQL is cut: %s %v revocation %q error %v, want a denial with %s",
			d.Outcome, d.Codes(), d.RevocationID, err, reason.InternalError)
	}
	// Meanwhile replica 2, which still reaches PostgreSQL, revokes another
	// credential. Replica 1 cannot hear of it until PostgreSQL is back: it
	// is why /readyz takes it out of rotation.
	during := w.MustToken("svc:reports", nil)
	revokeOnTwo(during)
	d, _ = judge(bearer(during))
	t.Logf("while cut, replica 1 answers %s %v for a credential replica 2 revoked during the outage (its index is stale until PostgreSQL is back)", d.Outcome, d.Codes())

	// Back, without reopening replica 1.
	px.Heal()
	if !waitFor(10*time.Second, func() bool { return one.Ready(ctx) == nil }) {
		t.Errorf("Ready 10s after PostgreSQL came back: %v", one.Ready(ctx))
	}
	if code, body := readyz(one); code != http.StatusOK {
		t.Errorf("/readyz after PostgreSQL came back: %d %s", code, body)
	}
	// Follow reconnects: the revocation made during the outage arrives,
	// then one made after it, each well within the reconcile interval.
	revokedAtOne(during, "made during the outage", 10*time.Second)
	after := w.MustToken("svc:reports", nil)
	revokeOnTwo(after)
	revokedAtOne(after, "made after the outage", 10*time.Second)
	if app.Reconcile <= 10*time.Second {
		t.Logf("note: Reconcile (%v) is within the wait, so the waits above do not prove LISTEN is back", app.Reconcile)
	}
	// Replica 1 writes again: its own Add, and the engine's revoke action.
	if _, err := one.Revocations.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: one.Fingerprint(good), Reason: "test"}); err != nil {
		t.Errorf("Add after PostgreSQL came back: %v", err)
	}
	d, err = judge(offHosts)
	if d.Outcome != verdict.Deny || err != nil || d.RevocationID == "" {
		t.Errorf("the build token off the build hosts after PostgreSQL came back: %s %v revocation %q error %v, want a denial that revokes", d.Outcome, d.Codes(), d.RevocationID, err)
	}
	if d, _ := judge(&provost.Request{Method: "POST", Target: "/v1/deploy", Authorization: "Bearer " + build, Peer: netip.MustParseAddr("10.20.0.5")}); d.Outcome != verdict.Deny || !d.Has(reason.Revoked) {
		t.Errorf("the revoked build token from a build host: %s %v, want revoked", d.Outcome, d.Codes())
	}
	if got := one.Evidence.Size() - size0; got != int64(answers) {
		t.Errorf("replica 1's evidence log grew by %d records for %d answered decisions", got, answers)
	}
}

// Provost started while Redis is down does not start: it pings Redis at
// open and says which backend failed, whether nothing listens on the port
// or every connection is reset (the proxy cut). Once Redis answers, the
// same configuration starts.
func TestOutageRedisDownAtStart(t *testing.T) {
	open := func(t *testing.T, addr string) (*app.App, time.Duration, error) {
		w := provosttest.New(t, provosttest.Options{Bindings: outageBindings, Config: fmt.Sprintf(`storage:
  redis: {addr: %q, key_prefix: %q, timeout: 500ms}
`, addr, provosttest.KeyPrefix(t))})
		start := time.Now()
		a, err := app.Open(context.Background(), app.Options{ConfigFile: w.ConfigFile(), Now: w.Now})
		if a != nil {
			t.Cleanup(func() { a.Close() })
		}
		return a, time.Since(start), err
	}
	refused := func(t *testing.T, addr string, took time.Duration, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("Provost started while Redis is down")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "redis") || !strings.Contains(err.Error(), addr) {
			t.Errorf("the start error does not name Redis and its address: %v", err)
		}
		if took > 10*time.Second {
			t.Errorf("refusing to start took %v", took)
		}
		t.Logf("start refused after %v: %v", took.Round(time.Millisecond), err)
	}

	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // a port nothing listens on
		_, took, err := open(t, addr)
		refused(t, addr, took, err)
	})
	t.Run("cut, then healed", func(t *testing.T) {
		px := provosttest.NewFaultProxy(t, provosttest.RedisAddr(t))
		px.Cut()
		_, took, err := open(t, px.Addr())
		refused(t, px.Addr(), took, err)
		px.Heal()
		a, _, err := open(t, px.Addr())
		if err != nil {
			t.Fatalf("start once Redis answers: %v", err)
		}
		if err := a.Ready(context.Background()); err != nil {
			t.Fatalf("Ready once Redis answers: %v", err)
		}
	})
}
