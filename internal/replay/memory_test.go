package replay

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provost-dev/provost/reason"
)

var ctx = context.Background()

func mustSeen(t *testing.T, c Cache, key string, until time.Time, want bool) {
	t.Helper()
	got, err := c.Seen(ctx, key, until)
	if err != nil {
		t.Fatalf("Seen(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Seen(%q) = %v, want %v", key, got, want)
	}
}

func TestSeenAtomicUnderRace(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	until := time.Now().Add(time.Hour)
	const goroutines, rounds = 32, 50
	for r := range rounds {
		key := "jti-" + strconv.Itoa(r)
		var firsts atomic.Int32
		var start, done sync.WaitGroup
		start.Add(1)
		for range goroutines {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				replayed, err := m.Seen(ctx, key, until)
				if err != nil {
					t.Error(err)
					return
				}
				if !replayed {
					firsts.Add(1)
				}
			}()
		}
		start.Done()
		done.Wait()
		if n := firsts.Load(); n != 1 {
			t.Fatalf("round %d: %d goroutines saw the key as new, want exactly 1", r, n)
		}
	}
	if m.Len() != rounds {
		t.Fatalf("Len = %d, want %d", m.Len(), rounds)
	}
}

func TestSeenExpiry(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryConfig{Now: clk.Now})
	until := clk.Now().Add(10 * time.Second)
	mustSeen(t, m, "a", until, false)
	mustSeen(t, m, "a", until, true)
	clk.Advance(10*time.Second - time.Nanosecond)
	mustSeen(t, m, "a", until, true) // still live one nanosecond before until
	clk.Advance(time.Nanosecond)
	// now == until: expired, so the key is new again and recorded anew.
	mustSeen(t, m, "a", clk.Now().Add(time.Second), false)
	mustSeen(t, m, "a", clk.Now().Add(time.Second), true)
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (re-recording must not add an entry)", m.Len())
	}
	clk.Advance(2 * time.Second)
	mustSeen(t, m, "b", clk.Now().Add(time.Second), false) // sweeps "a" if same shard
	m.sweepAll(nanos(clk.Now()))
	if m.Len() != 1 {
		t.Fatalf("Len after sweep = %d, want 1", m.Len())
	}
}

func TestSeenUntilNotAfterNow(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryConfig{Now: clk.Now})
	tests := []struct {
		name  string
		until time.Time
	}{
		{"past", clk.Now().Add(-time.Minute)},
		{"now", clk.Now()},
		{"zero", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustSeen(t, m, "k-"+tt.name, tt.until, false)
			mustSeen(t, m, "k-"+tt.name, tt.until, false) // nothing was recorded
			if m.Len() != 0 {
				t.Fatalf("Len = %d, want 0", m.Len())
			}
		})
	}
	// A live key is still reported by a past-until call.
	mustSeen(t, m, "live", clk.Now().Add(time.Minute), false)
	mustSeen(t, m, "live", clk.Now().Add(-time.Minute), true)
}

func TestSeenFarFuture(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	mustSeen(t, m, "k", far, false)
	mustSeen(t, m, "k", far, true)
}

func TestSeenEmptyKey(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	if _, err := m.Seen(ctx, "", time.Now().Add(time.Minute)); !errors.Is(err, ErrEmptyKey) {
		t.Fatalf("err = %v, want ErrEmptyKey", err)
	}
}

func TestSeenLongKeysHashed(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxKeyBytes: 16})
	until := time.Now().Add(time.Hour)
	long := strings.Repeat("x", 100)
	mustSeen(t, m, long+"1", until, false)
	mustSeen(t, m, long+"2", until, false) // differs only after the limit
	mustSeen(t, m, long+"1", until, true)
	exact := strings.Repeat("y", 16)
	mustSeen(t, m, exact, until, false)
	mustSeen(t, m, exact, until, true)
	for i := range m.shards {
		for k := range m.shards[i].m {
			if len(k) > 16 && !strings.HasPrefix(k, hashedKeyPrefix) {
				t.Fatalf("stored key of %d bytes is not hashed", len(k))
			}
			if len(k) > 16+len(hashedKeyPrefix)+32 {
				t.Fatalf("stored key of %d bytes", len(k))
			}
		}
	}
}

func TestCapLiveEntriesFailsClosed(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryConfig{MaxEntries: 10, Now: clk.Now})
	until := clk.Now().Add(time.Minute)
	for i := range 10 {
		mustSeen(t, m, "k"+strconv.Itoa(i), until, false)
	}
	_, err := m.Seen(ctx, "new", until)
	if !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	if got := reason.Of(err); got != reason.ReplayCacheFull {
		t.Fatalf("reason = %q, want %q", got, reason.ReplayCacheFull)
	}
	if m.Len() != 10 {
		t.Fatalf("Len = %d, want 10", m.Len())
	}
	// Nothing live was forgotten, and known keys still answer without error.
	for i := range 10 {
		mustSeen(t, m, "k"+strconv.Itoa(i), until, true)
	}
	// Once entries expire, new keys fit again.
	clk.Advance(time.Minute)
	mustSeen(t, m, "new", clk.Now().Add(time.Minute), false)
}

func TestCapExpiredEntriesMakeRoom(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryConfig{MaxEntries: 10, Now: clk.Now})
	for i := range 10 {
		mustSeen(t, m, "old"+strconv.Itoa(i), clk.Now().Add(time.Second), false)
	}
	clk.Advance(2 * time.Second)
	for i := range 10 {
		mustSeen(t, m, "new"+strconv.Itoa(i), clk.Now().Add(time.Minute), false)
		if m.Len() > 10 {
			t.Fatalf("Len = %d exceeds cap", m.Len())
		}
	}
	// The cap is now full of live entries again.
	if _, err := m.Seen(ctx, "one-more", clk.Now().Add(time.Minute)); !errors.Is(err, ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
}

// TestSeenModel checks Memory against a plain map over random operations with
// a small key space, so re-recording, expiry, sweeps and the cap all mix.
func TestSeenModel(t *testing.T) {
	clk := newFakeClock()
	const maxEntries = 20
	m := NewMemory(MemoryConfig{MaxEntries: maxEntries, Now: clk.Now})
	model := map[string]time.Time{}
	rng := rand.New(rand.NewPCG(1, 2))
	var fulls, replays int
	for i := range 50_000 {
		clk.Advance(time.Duration(rng.IntN(100)) * time.Millisecond)
		now := clk.Now()
		key := "k" + strconv.Itoa(rng.IntN(60))
		until := now.Add(time.Duration(rng.IntN(3000)-200) * time.Millisecond)

		exp, ok := model[key]
		wantLive := ok && now.Before(exp)
		liveCount := 0
		for _, e := range model {
			if now.Before(e) {
				liveCount++
			}
		}
		wantFull := !wantLive && until.After(now) && liveCount >= maxEntries && !(ok && !wantLive)

		got, err := m.Seen(ctx, key, until)
		switch {
		case wantFull:
			if !errors.Is(err, ErrFull) {
				t.Fatalf("op %d: err = %v, want ErrFull", i, err)
			}
			fulls++
		case err != nil:
			t.Fatalf("op %d: unexpected error %v (live %d)", i, err, liveCount)
		case got != wantLive:
			t.Fatalf("op %d: Seen(%s) = %v, want %v", i, key, got, wantLive)
		case got:
			replays++
		}
		if err == nil && !wantLive && until.After(now) {
			model[key] = until
		}
		for k, e := range model {
			if !now.Before(e) {
				delete(model, k)
			}
		}
		if m.Len() > maxEntries {
			t.Fatalf("op %d: Len = %d exceeds cap", i, m.Len())
		}
	}
	if fulls == 0 || replays == 0 {
		t.Fatalf("model run too easy: %d ErrFull, %d replays", fulls, replays)
	}
	t.Logf("%d ErrFull, %d replays", fulls, replays)
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryFlat inserts millions of distinct short-lived keys through an
// advancing clock: the entry count must stay under the cap and the heap must
// not grow with the number of keys ever seen.
func TestMemoryFlat(t *testing.T) {
	clk := newFakeClock()
	const (
		maxEntries = 64_000
		step       = time.Millisecond
		lifetime   = 60 * time.Second // ~60,000 live entries at any time
	)
	m := NewMemory(MemoryConfig{MaxEntries: maxEntries, Now: clk.Now})
	var first uint64
	buf := make([]byte, 0, 32)
	for i := range flatTotal {
		clk.Advance(step)
		buf = strconv.AppendInt(append(buf[:0], "jti-"...), int64(i), 10)
		replayed, err := m.Seen(ctx, string(buf), clk.Now().Add(lifetime))
		if err != nil || replayed {
			t.Fatalf("key %d: replayed=%v err=%v", i, replayed, err)
		}
		if n := m.Len(); n > maxEntries {
			t.Fatalf("key %d: Len = %d exceeds cap %d", i, n, maxEntries)
		}
		if i+1 == flatFirst {
			first = heapAfterGC()
		}
	}
	last := heapAfterGC()
	t.Logf("heap after %d keys: %d KiB; after %d keys: %d KiB; Len %d",
		flatFirst, first>>10, flatTotal, last>>10, m.Len())
	if last > 2*first {
		t.Fatalf("heap grew from %d to %d bytes: memory is not flat", first, last)
	}
	runtime.KeepAlive(m)
}

// TestCompactAfterBurst checks that a shard gives memory back after a burst
// of entries expires.
func TestCompactAfterBurst(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryConfig{Now: clk.Now})
	const burst = 200_000 // ~3,000 per shard, above compactMin
	for i := range burst {
		mustSeen(t, m, "b"+strconv.Itoa(i), clk.Now().Add(time.Second), false)
	}
	clk.Advance(2 * time.Second)
	m.sweepAll(nanos(clk.Now()))
	if m.Len() != 0 {
		t.Fatalf("Len = %d after everything expired", m.Len())
	}
	for i := range m.shards {
		s := &m.shards[i]
		if s.peak >= compactMin || cap(s.h) >= compactMin {
			t.Fatalf("shard %d not compacted: peak %d, heap cap %d", i, s.peak, cap(s.h))
		}
	}
}

func TestHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h expiryHeap
	for range 1000 {
		h.push(item{exp: rng.Int64N(500)})
	}
	prev := int64(-1)
	for len(h) > 0 {
		it := h.pop()
		if it.exp < prev {
			t.Fatalf("pop out of order: %d after %d", it.exp, prev)
		}
		prev = it.exp
	}
}

func BenchmarkSeenDistinctParallel(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	var ids atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := ids.Add(1)
		buf := make([]byte, 0, 48)
		var i int64
		for pb.Next() {
			i++
			buf = strconv.AppendInt(strconv.AppendInt(append(buf[:0], "dpop:"...), id, 10), i, 10)
			// Short lifetimes keep the live set far below the cap.
			if _, err := m.Seen(ctx, string(buf), time.Now().Add(10*time.Millisecond)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSeenReplayParallel(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	until := time.Now().Add(time.Hour)
	for i := range 1024 {
		m.Seen(ctx, "k"+strconv.Itoa(i), until)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = "k" + strconv.Itoa(i)
		}
		i := 0
		for pb.Next() {
			if ok, _ := m.Seen(ctx, keys[i&1023], until); !ok {
				b.Fatal("not a replay")
			}
			i++
		}
	})
}
