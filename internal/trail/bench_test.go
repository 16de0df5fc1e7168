package trail

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkIndex1M indexes 1,000,000 synthetic records (10,000 credentials,
// 100 uses each, interleaved) through Add, then times Show by fingerprint
// and Timeline. Indexing is done once and is not timed; it takes minutes
// (run with -v to see its rate).
func BenchmarkIndex1M(b *testing.B) {
	if testing.Short() {
		b.Skip("indexes 1M records")
	}
	const total, creds = 1_000_000, 10_000
	ctx := context.Background()
	x := openIndex(b)
	start := time.Now()
	for next := 0; next < total; next += BatchSize {
		batch := make([][]byte, 0, BatchSize)
		for i := next; i < next+BatchSize; i++ {
			s := spec{fp: fmt.Sprintf("fp1:%05d", i%creds), workload: fmt.Sprintf("spiffe://x/w%d", i%97),
				client: fmt.Sprintf("10.%d.%d.%d", i%200, i%250, i%251), method: "GET", path: fmt.Sprintf("/p%d", i%50),
				reasons: []string{"provenance_verified"}, at: time.Duration(i) * time.Second}
			if i%10 == 0 {
				s.decision, s.reasons, s.nhi = "deny", []string{"network_not_approved"}, "NHI2:2025"
			}
			batch = append(batch, s.record(b))
		}
		if _, err := x.Add(ctx, int64(next), batch); err != nil {
			b.Fatal(err)
		}
	}
	took := time.Since(start)
	if err := x.Optimize(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("indexed %d records in %v (%.0f records/s); statistics in %v", total, took, total/took.Seconds(), time.Since(start)-took)
	b.Run("Show/fingerprint", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			es, err := x.Show(ctx, Filter{Fingerprint: fmt.Sprintf("fp1:%05d", i%creds)})
			if err != nil || len(es) != total/creds {
				b.Fatalf("%d records, %v", len(es), err)
			}
		}
	})
	b.Run("Show/fingerprint+reason", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := x.Show(ctx, Filter{Fingerprint: fmt.Sprintf("fp1:%05d", i%creds), Reason: "network_not_approved"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Timeline", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			tl, err := x.Timeline(ctx, Filter{Fingerprint: fmt.Sprintf("fp1:%05d", i%creds)})
			if err != nil || len(tl) != total/creds {
				b.Fatalf("%d uses, %v", len(tl), err)
			}
		}
	})
	b.Run("Show/network", func(b *testing.B) {
		for b.Loop() {
			if _, err := x.Show(ctx, Filter{Network: "10.7.0.0/16", Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
