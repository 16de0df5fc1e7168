package replay_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/dpop"
	"github.com/provost-dev/provost/internal/replay"
	"github.com/provost-dev/provost/reason"
)

// scaleFullEnv asks for the full run: 10,000,000 distinct jti through a
// cache of serve's default cap. Without it a scaled-down run (the same
// ratio of keys to cap, the same per-entry bound) keeps normal CI fast.
const scaleFullEnv = "PROVOST_SOAK"

// The stated memory bound has two parts, both checked after GC with the
// heap the test itself holds subtracted.
//
// Live heap (runtime.MemStats.HeapAlloc): at most scaleLiveBytes per
// entry of the cap plus scaleLiveSlack. For keys shaped as the DPoP
// verifier makes them ("dpop:" + 43-byte JWK thumbprint + ":" + jti, 65
// bytes for a 16-byte jti) on 64-bit Go 1.26 an entry holds:
//
//   - the key bytes, cloned by Seen: a 65-byte allocation takes the
//     80-byte size class;
//   - the map slot (string header 16 B + int64 expiry 8 B) plus its 1-byte
//     control word in a Swiss-table group: 25 B a slot, and a table that
//     just doubled is 7/16 full, so at most 25 × 16/7 ≈ 57 B an entry;
//   - the expiry heap item (int64 + string header, 24 B) in a slice grown
//     by append (×1.25 for large slices, plus size-class rounding): at most
//     about 31 B.
//
// 80 + 57 + 31 = 168 B at worst; the bound is 176 B. The slack is the 64
// empty shards and what the runtime keeps.
//
// Heap in use (runtime.MemStats.HeapInuse, the bytes of spans holding any
// object): at most scaleInuseBytes per entry plus scaleInuseSlack. A span
// of 80-byte keys stays in use while any key in it is live; the keys share
// spans with the garbage made between them and leave in shard order, not
// span order, so in-use spans also hold free slots. The bound allows 144 B
// of such space beside the 176 B of an entry (the 10M run measured up to
// 1.6 times the live heap).
//
// Either bound breaks if the cache grows past its cap (the overload phase
// asks for twice the cap: about 2.1M live entries, some 330 MiB live) or
// keeps expired entries (8M keys pass through in the steady phase).
const (
	scaleLiveBytes  = 176
	scaleLiveSlack  = 512 << 10
	scaleInuseBytes = 320
	scaleInuseSlack = 8 << 20
)

// scaleClock is a hand-moved clock, safe for concurrent use.
type scaleClock struct{ ns atomic.Int64 }

func (c *scaleClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *scaleClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestReplayScale (issue "Hardening", Soak) pushes distinct DPoP jti
// through replay.Memory configured as `provost serve` configures it by
// default: the default cap (replay.max_entries unset), and entries kept
// until iat + dpop max_age + leeway (65 s), with iat = now. The first 80%
// of the keys come at 90% of what the cap holds over 65 s: none may be
// refused. The last 20% come at twice that: the cache must fill to its cap
// and refuse new keys with ErrFull (replay_cache_full) rather than grow or
// forget a live one. Throughout, Len never exceeds the cap, and the heap
// after GC stays under the bound stated above (live and in use).
//
//	PROVOST_SOAK=1 go test -run '^TestReplayScale$' -timeout 20m -v ./internal/replay   # 10,000,000 jti, cap 1,048,576
func TestReplayScale(t *testing.T) {
	keys, maxEntries := scaleKeys, scaleCap
	if os.Getenv(scaleFullEnv) != "" {
		keys, maxEntries = 10_000_000, 0 // 0: the default cap, as serve has it
	} else {
		t.Logf("scaled-down run (%d keys, cap %d); %s=1 runs 10,000,000 jti through the default cap", keys, maxEntries, scaleFullEnv)
	}
	ctx := context.Background()
	lifetime := dpop.DefaultMaxAge + dpop.DefaultLeeway
	clk := &scaleClock{}
	clk.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())

	base := readHeap()
	m := replay.NewMemory(replay.MemoryConfig{MaxEntries: maxEntries, Now: clk.Now})
	limit := int64(replay.DefaultMaxEntries)
	if maxEntries > 0 {
		limit = int64(maxEntries)
	}
	liveBound := uint64(scaleLiveBytes*limit + scaleLiveSlack)
	inuseBound := uint64(scaleInuseBytes*limit + scaleInuseSlack)
	steady := lifetime / time.Duration(limit*9/10) // 90% of the cap live
	overload := lifetime / time.Duration(limit*2)  // twice the cap asked for
	steadyKeys := keys * 8 / 10
	sampleEvery := int(limit / 2)

	var (
		r         scaleResult
		lastKey   string
		deniedKey string
	)
	start := time.Now()
	for i := range keys {
		step := steady
		if i >= steadyKeys {
			step = overload
		}
		clk.advance(step)
		key := scaleKey(i)
		replayed, err := m.Seen(ctx, key, clk.Now().Add(lifetime))
		switch {
		case err != nil && i >= steadyKeys && errors.Is(err, replay.ErrFull) && reason.Of(err) == reason.ReplayCacheFull:
			r.full++
			deniedKey = key
		case err != nil:
			t.Fatalf("key %d (steady phase: %v): %v", i, i < steadyKeys, err)
		case replayed:
			t.Fatalf("key %d: a distinct jti was reported as a replay", i)
		default:
			r.recorded++
			lastKey = key
		}
		if n := int64(m.Len()); n > limit {
			t.Fatalf("key %d: Len %d exceeds the cap %d", i, n, limit)
		} else if n > r.peakLen {
			r.peakLen = n
		}
		if (i+1)%sampleEvery == 0 || i+1 == steadyKeys || i+1 == keys {
			r.sample(readHeap().minus(base), m.Len())
		}
	}
	r.elapsed = time.Since(start)
	t.Log(r.report(keys, limit, liveBound, inuseBound))

	if r.full == 0 {
		t.Errorf("the overload phase asked for twice the cap and nothing was refused")
	}
	if r.peakLen != limit {
		t.Errorf("the cache peaked at %d entries, not at its cap %d: the overload did not fill it", r.peakLen, limit)
	}
	if r.peak.live > liveBound {
		t.Errorf("live heap after GC peaked at %d bytes, over the bound %d (%d B × %d + %d)", r.peak.live, liveBound, scaleLiveBytes, limit, scaleLiveSlack)
	}
	if r.peak.inuse > inuseBound {
		t.Errorf("heap in use after GC peaked at %d bytes, over the bound %d (%d B × %d + %d)", r.peak.inuse, inuseBound, scaleInuseBytes, limit, scaleInuseSlack)
	}
	// Full of live entries, the cache still knows the last key it took
	// and still refuses a new one.
	if replayed, err := m.Seen(ctx, lastKey, clk.Now().Add(lifetime)); err != nil || !replayed {
		t.Errorf("the last recorded jti again: replayed=%v err=%v, want a replay", replayed, err)
	}
	if deniedKey != "" && m.Len() == int(limit) {
		if _, err := m.Seen(ctx, deniedKey, clk.Now().Add(lifetime)); !errors.Is(err, replay.ErrFull) {
			t.Errorf("a refused jti again while full: err=%v, want ErrFull", err)
		}
	}
	runtime.KeepAlive(m)
}

// scaleResult is what a run measured.
type scaleResult struct {
	recorded, full int
	peakLen        int64
	peak           heapBytes // the largest of each figure over the samples
	peakEntries    int       // Len when the heap in use peaked
	samples        int
	elapsed        time.Duration
}

func (r *scaleResult) sample(h heapBytes, entries int) {
	r.samples++
	r.peak.live = max(r.peak.live, h.live)
	if h.inuse > r.peak.inuse {
		r.peak.inuse, r.peakEntries = h.inuse, entries
	}
}

func (r *scaleResult) report(keys int, limit int64, liveBound, inuseBound uint64) string {
	per := func(b uint64) float64 { return float64(b) / float64(limit) }
	return fmt.Sprintf("%d distinct jti in %v: %d recorded, %d refused with replay_cache_full (fail closed); cap %d, peak Len %d.\n"+
		"After GC, over %d samples: live heap peak %.1f MiB (%.0f B per entry of the cap; bound %.1f MiB = %d B × cap + %d KiB); "+
		"heap in use peak %.1f MiB at Len %d (%.0f B per entry of the cap; bound %.1f MiB = %d B × cap + %d MiB)",
		keys, r.elapsed.Round(time.Millisecond), r.recorded, r.full, limit, r.peakLen, r.samples,
		mib(r.peak.live), per(r.peak.live), mib(liveBound), scaleLiveBytes, scaleLiveSlack>>10,
		mib(r.peak.inuse), r.peakEntries, per(r.peak.inuse), mib(inuseBound), scaleInuseBytes, scaleInuseSlack>>20)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// heapBytes is the heap after two full collections: live (HeapAlloc) and
// in use (HeapInuse: spans holding objects, so size-class rounding and
// partly used spans count).
type heapBytes struct{ live, inuse uint64 }

func readHeap() heapBytes {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return heapBytes{live: ms.HeapAlloc, inuse: ms.HeapInuse}
}

// minus is h less the baseline b (zero where h is below it).
func (h heapBytes) minus(b heapBytes) heapBytes {
	sub := func(x, y uint64) uint64 { return x - min(x, y) }
	return heapBytes{live: sub(h.live, b.live), inuse: sub(h.inuse, b.inuse)}
}

// scaleKey is the i-th key as the DPoP verifier shapes it: one of 1,024
// clients' JWK thumbprints and a distinct 16-character jti.
func scaleKey(i int) string {
	var id [4]byte
	binary.BigEndian.PutUint32(id[:], uint32(i%1024))
	jkt := sha256.Sum256(id[:])
	var jti [12]byte
	binary.BigEndian.PutUint64(jti[4:], uint64(i))
	return "dpop:" + base64.RawURLEncoding.EncodeToString(jkt[:]) + ":" + base64.RawURLEncoding.EncodeToString(jti[:])
}
