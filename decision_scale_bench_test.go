package provost_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/smallfile"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// Sizes of BenchmarkDecisionScale. The largest number of credentials can be
// lowered (or raised) with PROVOST_BENCH_MAX_CREDENTIALS, the largest number
// of bindings with PROVOST_BENCH_MAX_BINDINGS: sizes above them are left out.
var (
	scaleBindings    = []int{10, 1000, 100_000, 1_000_000}
	scaleCredentials = []int{1, 1000, 100_000, 10_000_000}
)

// BenchmarkDecisionScale is BenchmarkDecision's cached-bearer request
// (provost only: the same token every time, evidence async, flushed in the
// timed region) as the policy and the origin history grow.
//
//   - bindings=N: N bindings, each matched by a different subject (even
//     ones) or fingerprint (odd ones), each naming a workload and the
//     network; the request matches the last one, the only one with the CEL
//     rule (compiling a million CEL programs would measure CEL, not the
//     engine). The file is generated in memory, written into the world and
//     put in force by the world's reload (provost.LoadPolicy, as SIGHUP
//     does); load-s is how long that took. A file over the size limit
//     (today 1 MiB: about 6 600 of these bindings) is skipped with the
//     loader's error; set PROVOST_BENCH_CONFIG to the setting that lifts it.
//
//   - credentials=N: N credentials known to the SQLite origin history (N-1
//     written in bulk before Provost opens, one origin each, plus the
//     request's own, recorded by its first decision). The request's
//     credential is the same every time, so its lookup is answered by the
//     store's in-memory cache; what grows is the table each decision's use
//     is written into (internal/origin's benchmarks measure cold lookups).
//     fill-s is how long the bulk fill took (ten million: about 40 s of
//     CPU, minutes on a busy machine).
//
//     go test -run '^$' -bench 'BenchmarkDecisionScale' -benchtime 200x -count 1 .
func BenchmarkDecisionScale(b *testing.B) {
	maxB := envInt(b, "PROVOST_BENCH_MAX_BINDINGS", scaleBindings[len(scaleBindings)-1])
	for _, n := range scaleBindings {
		if n <= maxB {
			b.Run(fmt.Sprintf("bindings=%d", n), func(b *testing.B) { benchBindingsScale(b, n) })
		}
	}
	maxC := envInt(b, "PROVOST_BENCH_MAX_CREDENTIALS", scaleCredentials[len(scaleCredentials)-1])
	for _, n := range scaleCredentials {
		if n <= maxC {
			b.Run(fmt.Sprintf("credentials=%d", n), func(b *testing.B) { benchCredentialsScale(b, n) })
		}
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		b.Fatalf("%s: %v", name, err)
	}
	return n
}

// benchCached runs the cached-bearer request against bw's engine, with b.Loop
// (so the setup before it runs once), and flushes the evidence log inside
// the timed region as BenchmarkDecision does.
func benchCached(b *testing.B, bw *benchWorld) {
	ctx := context.Background()
	r := bw.request("Bearer "+bw.tok, "")
	d, err := bw.a.Engine.Check(ctx, r)
	mustAllow(b, d, err)
	if d.Binding != "bench" {
		b.Fatalf("matched binding %q, want bench", d.Binding)
	}
	bw.flush(b)
	b.ReportAllocs()
	for b.Loop() {
		d, err := bw.a.Engine.Check(ctx, r)
		mustAllow(b, d, err)
	}
	b.StartTimer() // b.Loop stopped it: the queued evidence is part of the work
	bw.flush(b)
	b.StopTimer()
}

func benchBindingsScale(b *testing.B, n int) {
	bw := newBenchWorld(b, decisionBindings).open()
	file := scaleBindingsFile(n)
	start := time.Now()
	bw.w.Write("bindings.yaml", file)
	if err := bw.a.Reload(context.Background()); err != nil {
		var tooLarge *smallfile.TooLargeError
		if errors.As(err, &tooLarge) || strings.Contains(err.Error(), "larger than") {
			b.Skipf("%d bindings (%d bytes) cannot be loaded: %v", n, len(file), err)
		}
		b.Fatal(err)
	}
	load := time.Since(start)
	b.Logf("%d bindings, %d bytes, loaded in %s", n, len(file), load.Round(time.Millisecond))
	benchCached(b, bw)
	b.ReportMetric(load.Seconds(), "load-s")
}

// scaleBindingsFile is a bindings file of n bindings, the last one the
// request's (benchBinding "bench").
func scaleBindingsFile(n int) string {
	var s strings.Builder
	s.Grow(n * 140)
	s.WriteString("version: 1\nnetworks: {runtime: [" + benchNetwork + "]}\nbindings:\n")
	for i := range n - 1 {
		var match string
		if i%2 == 0 {
			match = fmt.Sprintf(`subject: "svc:scale-%d"`, i)
		} else {
			sum := sha256.Sum256([]byte("scale-" + strconv.Itoa(i)))
			match = "fingerprints: [fp1:" + base64.RawURLEncoding.EncodeToString(sum[:]) + "]"
		}
		fmt.Fprintf(&s, "  - {name: scale-%d, match: {%s}, require: {workloads: [\"spiffe://acme.test/scale/%d\"], networks: [runtime]}}\n",
			i, match, i)
	}
	s.WriteString(benchBinding("bench", benchSubject, ""))
	return s.String()
}

func benchCredentialsScale(b *testing.B, n int) {
	ctx := context.Background()
	bw := newBenchWorld(b, decisionBindings)
	// Open Provost once and close it, so the data directory is complete
	// (as after a restart) when its origin history is filled.
	a, err := app.Open(ctx, app.Options{ConfigFile: bw.w.ConfigFile(), Now: bw.w.Now})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Close(); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	fillOrigins(b, app.LayoutOf(bw.dataDir()).Origins, n-1, bw.w.Now())
	fill := time.Since(start)
	b.Logf("%d credentials written in %s", n-1, fill.Round(time.Millisecond))
	bw.open()
	benchCached(b, bw)
	b.ReportMetric(fill.Seconds(), "fill-s")
}

// fillOrigins adds n credentials' histories (one origin each, last seen an
// hour before now) to the origin store at path while Provost is closed.
// They are written by SQLite itself (a recursive CTE), in one transaction,
// in key order, with the journal off: no API of the store writes in bulk,
// and a Record each would take hours for ten million. The synthetic
// fingerprints have the length of real ones ("fp1:" and 43 characters) but
// are decimal.
func fillOrigins(b *testing.B, path string, n int, now time.Time) {
	b.Helper()
	if n == 0 {
		return
	}
	ctx := context.Background()
	db, err := sqlitedb.OpenWith(ctx, path, sqlitedb.Relaxed)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx) // one connection: the pragmas and the transaction
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	at := now.Add(-time.Hour).UnixMicro()
	const series = `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?1) `
	for _, q := range []string{
		`PRAGMA journal_mode = OFF`,
		`PRAGMA synchronous = OFF`,
		`PRAGMA cache_size = -262144`,
		`BEGIN`,
		series + `INSERT INTO origin_credential (fingerprint, last_seen, uses)
			SELECT printf('fp1:%043d', i), ?2, 1 FROM c`,
		series + `INSERT INTO origin_seen
			(fingerprint, workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed)
			SELECT printf('fp1:%043d', i), printf('spiffe://acme.test/scale/%d', i % 1000),
				printf('10.%d.%d.0/24', (i / 256) % 256, i % 256), '', '', ?2, ?2, 1, 1 FROM c`,
		`COMMIT`,
		`PRAGMA journal_mode = WAL`,
	} {
		var args []any
		if strings.HasPrefix(q, series) {
			args = []any{n, at}
		}
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("filling origin history: %v", err)
		}
	}
}
