package evidencelog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func BenchmarkAppendDurable(b *testing.B) { benchAppend(b, false) }
func BenchmarkAppendAsync(b *testing.B)   { benchAppend(b, true) }

// benchAppend appends b.N 1 KiB records from 1, 16 and 256 goroutines; the
// time includes the final Flush, so in either mode every record is fsynced
// when the clock stops. Besides records/s it reports the records per
// transaction and per fsync, and the CPU time the whole process spent per
// record (cpu-µs/record), which a busy machine disturbs less than the rate.
func benchAppend(b *testing.B, async bool) {
	rec := bytes.Repeat([]byte("e"), 1024)
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, _ := openLog(b, Options{Async: async})
			runAppends(b, l, writers, rec)
		})
	}
}

// runAppends appends b.N copies of rec from writers goroutines, flushes,
// and reports the rates benchAppend documents.
func runAppends(b *testing.B, l *Log, writers int, rec []byte) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := l.Append(ctx, rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	b.StopTimer()
	st := l.Stats()
	if st.Size != int64(b.N) {
		b.Fatalf("%d records committed, want %d", st.Size, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(st.Size)/float64(max(st.Commits, 1)), "records/commit")
	b.ReportMetric(float64(st.Size)/float64(max(st.Syncs, 1)), "records/fsync")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/record")
	}
}

const benchLogSize = 1_000_000

var (
	benchDir  string // removed by TestMain
	benchOnce sync.Once
	benchErr  error
)

// benchLog opens the 1M-record on-disk log, building it once per run.
func benchLog(b *testing.B) *Log {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "evidencelog-bench-")
		if benchErr != nil {
			return
		}
		var l *Log
		l, benchErr = Open(ctx, benchDir, Options{Name: testName, Async: true, MaxBatch: 50_000, MaxPending: 100_000})
		if benchErr != nil {
			return
		}
		defer l.Close()
		for i := range int64(benchLogSize) {
			if _, benchErr = l.Append(ctx, record(i)); benchErr != nil {
				return
			}
		}
		benchErr = l.Flush(ctx)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	l, err := Open(ctx, benchDir, Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if l.Size() != benchLogSize {
		b.Fatalf("bench log has %d records", l.Size())
	}
	return l
}

// BenchmarkInclusionProof proves a random record in a random tree size of
// a 1M-record log on disk.
func BenchmarkInclusionProof(b *testing.B) {
	l := benchLog(b)
	root, err := tlog.TreeHash(benchLogSize, l.hashReader(ctx))
	if err != nil {
		b.Fatal(err)
	}
	p, err := l.InclusionProof(ctx, 123_456, benchLogSize)
	if err != nil {
		b.Fatal(err)
	}
	checkInclusion(b, p, 123_456, benchLogSize, tlog.RecordHash(record(123_456)), root)
	r := rand.New(rand.NewPCG(7, 8))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		size := 1 + r.Int64N(benchLogSize)
		if _, err := l.InclusionProof(ctx, r.Int64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsistencyProof proves random pairs of tree sizes of a
// 1M-record log on disk.
func BenchmarkConsistencyProof(b *testing.B) {
	l := benchLog(b)
	r := rand.New(rand.NewPCG(9, 10))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		size := 1 + r.Int64N(benchLogSize)
		if _, err := l.ConsistencyProof(ctx, 1+r.Int64N(size), size); err != nil {
			b.Fatal(err)
		}
	}
}
