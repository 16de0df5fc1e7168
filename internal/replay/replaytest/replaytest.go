// Package replaytest is the conformance suite every replay.Cache backend
// must pass. A backend's test calls Run with a function that opens a cache
// reading time from the clock it is given:
//
//	func TestConformance(t *testing.T) {
//		replaytest.Run(t, func(t *testing.T, now func() time.Time) replay.Cache {
//			return replay.NewMemory(replay.MemoryConfig{Now: now})
//		})
//	}
//
// The open function's contract:
//   - Each call returns a cache holding no keys.
//   - The cache takes "now" from the clock it is given, and from nothing
//     else: the suite moves that clock forward to expire keys. A backend
//     whose server expires keys on its own clock (Redis) must still compare
//     until with the given clock, for instance by storing until with the
//     key and keeping the server's expiry only as garbage collection.
//   - The open function registers its own cleanup with t.Cleanup.
//
// The contract checked is that of replay.Cache: Seen checks and records a
// key in one atomic step; a key is live while now < until; a recorded key
// is never forgotten before its until; an empty key is an error
// (replay.ErrEmptyKey); keys are compared as whole byte strings, however
// long; and an answer returned without an error is always right. Times
// used by the suite are whole milliseconds apart, so a backend that keeps
// millisecond precision passes.
//
// Bounds a backend puts on its size (replay.Memory's MaxEntries, which fails
// closed with reason.ReplayCacheFull) are configuration, not contract: each
// backend tests its own.
package replaytest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/replay"
)

// Run runs the conformance suite against the caches open returns.
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) replay.Cache) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T, func() time.Time) replay.Cache)
	}{
		{"FirstUseThenReplay", testFirstUseThenReplay},
		{"Expiry", testExpiry},
		{"ReplayDoesNotShorten", testReplayDoesNotShorten},
		{"UntilNotAfterNow", testUntilNotAfterNow},
		{"FarFuture", testFarFuture},
		{"DistinctKeys", testDistinctKeys},
		{"LongKeys", testLongKeys},
		{"EmptyKey", testEmptyKey},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"ConcurrentDistinctKeys", testConcurrentDistinctKeys},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ctx = context.Background()

// clock is a controllable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

// newClock returns a clock at a fixed, whole-millisecond instant.
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// openCache opens a cache on a new clock.
func openCache(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) (replay.Cache, *clock) {
	t.Helper()
	clk := newClock()
	return open(t, clk.Now), clk
}

// short names a key in failure messages without printing kilobytes.
func short(key string) string {
	if len(key) <= 40 {
		return strconv.Quote(key)
	}
	return strconv.Quote(key[:16]) + "..." + strconv.Quote(key[len(key)-16:]) + " (" + strconv.Itoa(len(key)) + " bytes)"
}

func wantSeen(t *testing.T, c replay.Cache, key string, until time.Time, want bool) {
	t.Helper()
	got, err := c.Seen(ctx, key, until)
	if err != nil {
		t.Fatalf("Seen(%s, %s): %v", short(key), until.Format(time.RFC3339Nano), err)
	}
	if got != want {
		t.Fatalf("Seen(%s, %s) = %v, want %v", short(key), until.Format(time.RFC3339Nano), got, want)
	}
}

func testFirstUseThenReplay(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Minute)
	wantSeen(t, c, "dpop:jkt:jti-1", until, false)
	wantSeen(t, c, "dpop:jkt:jti-1", until, true)
	wantSeen(t, c, "dpop:jkt:jti-1", until, true)
	// Recording one key recorded no other.
	wantSeen(t, c, "dpop:jkt:jti-2", until, false)
}

func testExpiry(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(10 * time.Second)
	wantSeen(t, c, "a", until, false)
	wantSeen(t, c, "b", clk.Now().Add(time.Hour), false)

	clk.Advance(10*time.Second - time.Millisecond)
	wantSeen(t, c, "a", until, true) // live one millisecond before until

	clk.Advance(time.Millisecond)
	// now == until: "a" is forgotten, so it is new again and recorded anew
	// with the new until; "b" is untouched.
	wantSeen(t, c, "a", clk.Now().Add(5*time.Second), false)
	wantSeen(t, c, "a", clk.Now().Add(5*time.Second), true)
	wantSeen(t, c, "b", clk.Now().Add(time.Hour), true)

	// The new until holds, not the old one.
	clk.Advance(5*time.Second - time.Millisecond)
	wantSeen(t, c, "a", clk.Now(), true)
	clk.Advance(time.Millisecond)
	wantSeen(t, c, "a", clk.Now().Add(time.Second), false)

	// Long after everything expired, every key is new.
	clk.Advance(24 * time.Hour)
	wantSeen(t, c, "a", clk.Now().Add(time.Second), false)
	wantSeen(t, c, "b", clk.Now().Add(time.Second), false)
}

// testReplayDoesNotShorten checks that a replay carrying an earlier until
// does not make a live key forgettable sooner than its first until.
func testReplayDoesNotShorten(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	first := clk.Now().Add(10 * time.Second)
	wantSeen(t, c, "k", first, false)
	wantSeen(t, c, "k", clk.Now().Add(time.Second), true)
	wantSeen(t, c, "k", clk.Now().Add(-time.Second), true)
	clk.Advance(5 * time.Second)
	wantSeen(t, c, "k", clk.Now().Add(time.Second), true)
	clk.Advance(5*time.Second - time.Millisecond)
	wantSeen(t, c, "k", clk.Now().Add(time.Second), true)
}

func testUntilNotAfterNow(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	tests := []struct {
		name  string
		until time.Time
	}{
		{"past", clk.Now().Add(-time.Minute)},
		{"one millisecond ago", clk.Now().Add(-time.Millisecond)},
		{"now", clk.Now()},
		{"zero time", time.Time{}},
		{"unix epoch", time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "expired-" + tt.name
			// Recording until a time not after now records nothing: the
			// entry would already have expired.
			wantSeen(t, c, key, tt.until, false)
			wantSeen(t, c, key, tt.until, false)
			wantSeen(t, c, key, clk.Now().Add(time.Minute), false)
			wantSeen(t, c, key, clk.Now().Add(time.Minute), true)
		})
	}
	// A live key is reported whatever until the check carries, and stays live.
	wantSeen(t, c, "live", clk.Now().Add(time.Minute), false)
	wantSeen(t, c, "live", clk.Now().Add(-time.Minute), true)
	wantSeen(t, c, "live", time.Time{}, true)
	wantSeen(t, c, "live", clk.Now().Add(time.Minute), true)
}

func testFarFuture(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	far := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	wantSeen(t, c, "k", far, false)
	wantSeen(t, c, "k", far, true)
	clk.Advance(100 * 365 * 24 * time.Hour)
	wantSeen(t, c, "k", far, true)
	// A non-UTC until is the same instant.
	zoned := clk.Now().Add(time.Hour).In(time.FixedZone("X", -7*3600))
	wantSeen(t, c, "zoned", zoned, false)
	clk.Advance(time.Hour - time.Millisecond)
	wantSeen(t, c, "zoned", zoned, true)
	clk.Advance(time.Millisecond)
	wantSeen(t, c, "zoned", zoned.Add(time.Minute), false)
}

func testDistinctKeys(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Minute)
	// Keys that differ by case, whitespace, separators, a NUL byte, bytes
	// that are not UTF-8, or their Unicode normalisation.
	keys := []string{
		"a", "A", "a ", " a", "a\x00", "\x00a", "\x00", "aa", "ab", "ba",
		"a:b", "a::b", "a:b:", "dpop:jkt:1", "dpop:jkt:01", "dpop:jkt1:",
		"\xff", "\xfe\xff", "é", "e\u0301", "*", "?", "[a]", "a*", "{a}",
		"jti 1", "jti\t1", "jti\n1", "jti\r\n1",
	}
	for _, k := range keys {
		wantSeen(t, c, k, until, false)
	}
	for _, k := range keys {
		wantSeen(t, c, k, until, true)
	}
	// Each key keeps its own until.
	wantSeen(t, c, "short", clk.Now().Add(time.Second), false)
	wantSeen(t, c, "long", clk.Now().Add(time.Hour), false)
	clk.Advance(time.Second)
	wantSeen(t, c, "short", clk.Now().Add(time.Hour), false)
	wantSeen(t, c, "long", clk.Now().Add(time.Hour), true)
	for _, k := range keys {
		wantSeen(t, c, k, until, true)
	}
}

func testLongKeys(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Minute)
	for _, n := range []int{255, 256, 257, 511, 512, 513, 1024, 4096, 64 << 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			base := strings.Repeat("k", n-1)
			// Keys that differ only in their last byte, only in their first
			// byte, or are each other's prefix, are distinct.
			tail1, tail2 := base+"1", base+"2"
			head := "h" + base[1:] + "1"
			prefix := base
			longer := tail1 + "x"
			for _, k := range []string{tail1, tail2, head, prefix, longer} {
				wantSeen(t, c, k, until, false)
			}
			for _, k := range []string{tail1, tail2, head, prefix, longer} {
				wantSeen(t, c, k, until, true)
			}
		})
	}
	// A long key expires like a short one.
	long := strings.Repeat("x", 8192)
	wantSeen(t, c, long, clk.Now().Add(time.Second), false)
	clk.Advance(time.Second - time.Millisecond)
	wantSeen(t, c, long, clk.Now().Add(time.Second), true)
	clk.Advance(time.Millisecond)
	wantSeen(t, c, long, clk.Now().Add(time.Second), false)
}

func testEmptyKey(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	for _, until := range []time.Time{clk.Now().Add(time.Minute), clk.Now().Add(-time.Minute), time.Time{}} {
		for range 2 {
			seen, err := c.Seen(ctx, "", until)
			if !errors.Is(err, replay.ErrEmptyKey) {
				t.Fatalf("Seen(\"\", %s) = %v, %v; want ErrEmptyKey", until.Format(time.RFC3339Nano), seen, err)
			}
		}
	}
	// The errors recorded nothing that a real key could collide with.
	wantSeen(t, c, "\x00", clk.Now().Add(time.Minute), false)
	wantSeen(t, c, " ", clk.Now().Add(time.Minute), false)
}

func testConcurrentSameKey(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Hour)
	const goroutines, rounds = 32, 40
	for r := range rounds {
		key := "race-" + strconv.Itoa(r)
		var wins, replays atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range goroutines {
			wg.Go(func() {
				<-start
				seen, err := c.Seen(ctx, key, until)
				switch {
				case err != nil:
					t.Errorf("Seen(%s): %v", key, err)
				case seen:
					replays.Add(1)
				default:
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if w, rp := wins.Load(), replays.Load(); w != 1 || rp != goroutines-1 {
			t.Fatalf("round %d: %d goroutines saw %s as new and %d as a replay; want exactly 1 and %d",
				r, w, key, rp, goroutines-1)
		}
	}
	for r := range rounds {
		wantSeen(t, c, "race-"+strconv.Itoa(r), until, true)
	}
}

func testConcurrentDistinctKeys(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Hour)
	const goroutines, each = 16, 100
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			for i := range each {
				key := "g" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if seen, err := c.Seen(ctx, key, until); err != nil || seen {
					t.Errorf("first Seen(%s) = %v, %v; want false, nil", key, seen, err)
					return
				}
				if seen, err := c.Seen(ctx, key, until); err != nil || !seen {
					t.Errorf("second Seen(%s) = %v, %v; want true, nil", key, seen, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	for g := range goroutines {
		for i := range each {
			wantSeen(t, c, "g"+strconv.Itoa(g)+"-"+strconv.Itoa(i), until, true)
		}
	}
}

// testCancelledContext checks that a context that has ended never buys a
// wrong answer: the cache may refuse with an error (the caller fails
// closed) or answer, but an answer must be right, and a key it answered
// "new" for must have been recorded.
func testCancelledContext(t *testing.T, open func(*testing.T, func() time.Time) replay.Cache) {
	c, clk := openCache(t, open)
	until := clk.Now().Add(time.Minute)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for name, cctx := range map[string]context.Context{"cancelled": cancelled, "deadline": expired} {
		t.Run(name, func(t *testing.T) {
			live := "live-" + name
			wantSeen(t, c, live, until, false)
			seen, err := c.Seen(cctx, live, until)
			if err == nil && !seen {
				t.Fatalf("Seen(live key) with a %s context = false, nil: a replay passed", name)
			}
			fresh := "fresh-" + name
			seen, err = c.Seen(cctx, fresh, until)
			switch {
			case err != nil:
				// Refused: the key may or may not be recorded; a later
				// check must still answer without error.
				if _, err := c.Seen(ctx, fresh, until); err != nil {
					t.Fatalf("Seen after a refused call: %v", err)
				}
			case seen:
				t.Fatalf("Seen(new key) with a %s context = true, nil: the key was never recorded", name)
			default:
				wantSeen(t, c, fresh, until, true)
			}
		})
	}
}
