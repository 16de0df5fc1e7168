package origin

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
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
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := range fps {
		fps[i] = f.Of(fmt.Sprint("credential-", i))
		for j := range origins {
			u := Use{
				Fingerprint: fps[i], Allowed: true, At: t0.Add(time.Duration(j) * time.Minute),
				Origin: Origin{
					Workload: fmt.Sprintf("spiffe://example.org/ns/team%d/sa/svc%d", i%50, i), Network: fmt.Sprintf("10.%d.%d.0/24", j, i%256),
					ProxyChain: "edge>mesh", Posture: "hardened",
				},
			}
			if err := upsert(ctx, tx, upsertSeenSQL, evictSeenSQL, u.Fingerprint, u.Origin.Key(), u, MaxOrigins); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, upsertCredentialSQL, u.Fingerprint, u.At.UnixMicro()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return s, fps
}

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
