package origin

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchPairUse is the use a decision records for credential i of fps: from
// one origin per credential, so after its first use it is a known origin.
func benchPairUse(fps []string, i int64, at time.Time) Use {
	n := i % int64(len(fps))
	return Use{
		Fingerprint: fps[n], Binding: "agents", At: at, Allowed: true,
		Origin: Origin{Workload: fmt.Sprintf("spiffe://example.org/ns/team%d/sa/svc%d", n%50, n),
			Network: fmt.Sprintf("10.200.%d.0/24", n%256), ProxyChain: "edge>mesh", Posture: "hardened"},
	}
}

// benchPair runs what every decision asks of origin history, a Lookup then
// a Record of the same credential, over fps in turn (each looked up once
// before, as credentials in use are), serially and from GOMAXPROCS
// goroutines (b.RunParallel). Besides ns/op (wall time per pair, including
// writing what a WriteBehind still has queued at the end) it reports
// pair-ns/op, the mean time a decision spends in the two calls, and
// cpu-ns/op, the process's CPU time per pair, the background writer's
// included.
func benchPair(b *testing.B, s Store, fps []string) {
	ctx := context.Background()
	now := time.Date(2031, 2, 1, 0, 0, 0, 0, time.UTC)
	for _, fp := range fps { // warm: decisions are of credentials in use
		if _, err := s.Lookup(ctx, fp); err != nil {
			b.Fatal(err)
		}
	}
	var next, inPair atomic.Int64
	pair := func() error {
		i := next.Add(1)
		u := benchPairUse(fps, i, now.Add(time.Duration(i)*time.Microsecond))
		start := time.Now()
		defer func() { inPair.Add(int64(time.Since(start))) }()
		h, err := s.Lookup(ctx, u.Fingerprint)
		if err != nil {
			return err
		}
		if h.Uses == 0 {
			return fmt.Errorf("credential %d has no history", i%int64(len(fps)))
		}
		return s.Record(ctx, u)
	}
	measure := func(b *testing.B, loop func()) {
		b.ReportAllocs()
		cpu0, cpuOK := processCPU()
		inPair.Store(0)
		b.ResetTimer()
		loop()
		if f, ok := s.(interface{ Flush(context.Context) error }); ok {
			if err := f.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(inPair.Load())/float64(b.N), "pair-ns/op")
		if cpu1, ok := processCPU(); ok && cpuOK {
			b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("serial", func(b *testing.B) {
		measure(b, func() {
			for range b.N {
				if err := pair(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("parallel", func(b *testing.B) {
		measure(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := pair(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	})
}

// BenchmarkWriteBehind compares the Lookup+Record pair of a decision on the
// SQLite store alone (one transaction per Record, with a read-back) and on
// a WriteBehind over it (memory, then batched transactions in the
// background), for 1000 credentials of 3 origins each:
//
//	go test -run '^$' -bench 'BenchmarkWriteBehind' -benchtime 2000x -count 3 ./internal/origin/
//
// Run it on an idle machine: cpu-ns/op is the steadiest figure on a busy
// one.
func BenchmarkWriteBehind(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, fps := benchStore(b, 1000, 3)
		benchPair(b, s, fps)
	})
	b.Run("writebehind", func(b *testing.B) {
		sq, fps := benchStore(b, 1000, 3)
		s := NewWriteBehind(sq, WriteBehindConfig{})
		b.Cleanup(func() {
			st := s.Stats()
			if err := s.Close(); err != nil {
				b.Error(err)
			}
			if st.Batches > 0 {
				b.Logf("%d uses written in %d batches (%.1f a batch)", st.Written, st.Batches, float64(st.Written)/float64(st.Batches))
			}
		})
		benchPair(b, s, fps)
	})
}
