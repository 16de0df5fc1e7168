package origin

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
)

// benchStore returns a store holding credentials x origins histories, built
// in one transaction, and the credentials' fingerprints.
func benchStore(b *testing.B, credentials, origins int) (*SQLite, []string) {
	b.Helper()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "origin.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	secret := make([]byte, fingerprint.SecretSize)
	rand.Read(secret)
	f, err := fingerprint.New(secret)
	if err != nil {
		b.Fatal(err)
	}
	fps := make([]string, credentials)
	for i := range fps {
		fps[i] = f.Of(fmt.Sprint("credential-", i))
	}
	sorted := slices.Sorted(slices.Values(fps)) // insert in key order: B-tree appends
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
		b.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	seen, err := tx.PrepareContext(ctx, `INSERT INTO origin_seen
		(fingerprint, workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1)`)
	if err != nil {
		b.Fatal(err)
	}
	cred, err := tx.PrepareContext(ctx, `INSERT INTO origin_credential (fingerprint, last_seen, uses) VALUES (?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i, fp := range sorted {
		var last int64
		for j := range origins {
			last = t0.Add(time.Duration(j) * time.Minute).UnixMicro()
			if _, err := seen.ExecContext(ctx, fp, fmt.Sprintf("spiffe://example.org/ns/team%d/sa/svc%d", i%50, i),
				fmt.Sprintf("10.%d.%d.0/24", j, i%256), "edge>mesh", "hardened", last, last); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := cred.ExecContext(ctx, fp, last, origins); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d credentials x %d origins in %s", credentials, origins, time.Since(start).Round(time.Millisecond))
	return s, fps
}

// BenchmarkSQLiteLookup reads 100k credentials in turn: almost every Lookup
// misses the in-memory cache and runs the query.
func BenchmarkSQLiteLookup(b *testing.B) {
	s, fps := benchStore(b, 100_000, 3)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h, err := s.Lookup(ctx, fps[(i*7919)%len(fps)])
		if err != nil || len(h.Origins) != 3 {
			b.Fatalf("Lookup = %d origins, %v", len(h.Origins), err)
		}
		i++
	}
}

func BenchmarkSQLiteLookupParallel(b *testing.B) {
	s, fps := benchStore(b, 100_000, 3)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.Lookup(ctx, fps[(i*7919)%len(fps)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkSQLiteLookupCached reads 1000 of the 100k credentials, which the
// in-memory cache holds after the first pass.
func BenchmarkSQLiteLookupCached(b *testing.B) {
	s, fps := benchStore(b, 100_000, 3)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h, err := s.Lookup(ctx, fps[i%1000])
		if err != nil || len(h.Origins) != 3 {
			b.Fatalf("Lookup = %d origins, %v", len(h.Origins), err)
		}
		i++
	}
}

// BenchmarkSQLiteRecord records uses of known origins: one durable
// transaction (an fsync) each.
func BenchmarkSQLiteRecord(b *testing.B) {
	s, fps := benchStore(b, 1000, 3)
	ctx := context.Background()
	now := time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := Use{
			Fingerprint: fps[i%len(fps)], Binding: "agents", At: now.Add(time.Duration(i) * time.Microsecond), Allowed: true,
			Origin: Origin{Workload: "spiffe://example.org/agent", Network: fmt.Sprintf("10.0.%d.0/24", i%4), ProxyChain: "edge>mesh", Posture: "hardened"},
		}
		if err := s.Record(ctx, u); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSQLiteRecordBatch records the same uses as BenchmarkSQLiteRecord
// through RecordBatch, DefaultMaxBatch to a transaction, as a WriteBehind's
// writer does: ns/use is the writer's cost per decision.
//
//	go test -run '^$' -bench SQLiteRecordBatch -benchtime 50x ./internal/origin/
func BenchmarkSQLiteRecordBatch(b *testing.B) {
	s, fps := benchStore(b, 1000, 3)
	ctx := context.Background()
	now := time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC)
	batch := make([]Use, DefaultMaxBatch)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range batch {
			batch[j] = Use{
				Fingerprint: fps[i%len(fps)], Binding: "agents", At: now.Add(time.Duration(i) * time.Microsecond), Allowed: true,
				Origin: Origin{Workload: "spiffe://example.org/agent", Network: fmt.Sprintf("10.0.%d.0/24", i%4), ProxyChain: "edge>mesh", Posture: "hardened"},
			}
			i++
		}
		if err := s.RecordBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(i), "ns/use")
}
