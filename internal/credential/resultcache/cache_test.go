package resultcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestGetPut(t *testing.T) {
	type op struct {
		put    bool // put key with value val until t0+until, at t0+at; else get key at t0+at
		delete bool
		key    string
		val    int
		until  time.Duration
		at     time.Duration
		found  bool // get: an entry is expected, holding val
	}
	cases := []struct {
		name string
		ops  []op
	}{
		{"miss", []op{{key: "a"}}},
		{"hit", []op{{put: true, key: "a", val: 1, until: time.Hour}, {key: "a", val: 1, found: true}}},
		{"until is exclusive", []op{{put: true, key: "a", val: 1, until: time.Minute}, {key: "a", at: time.Minute - 1, val: 1, found: true}, {key: "a", at: time.Minute}}},
		{"capped by the TTL", []op{{put: true, key: "a", val: 1, until: time.Hour}, {key: "a", at: 10*time.Minute - 1, val: 1, found: true}, {key: "a", at: 10 * time.Minute}}},
		{"already past is not kept", []op{{put: true, key: "a", val: 1, until: 0}, {key: "a"}}},
		{"replaced", []op{{put: true, key: "a", val: 1, until: time.Hour}, {put: true, key: "a", val: 2, until: time.Hour}, {key: "a", val: 2, found: true}}},
		{"deleted", []op{{put: true, key: "a", val: 1, until: time.Hour}, {delete: true, key: "a"}, {key: "a"}}},
		{"keys apart", []op{{put: true, key: "a", val: 1, until: time.Hour}, {key: "b"}, {key: "a", val: 1, found: true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := New[string, int](16, 10*time.Minute)
			for i, o := range c.ops {
				switch {
				case o.put:
					cache.Put(o.key, o.val, t0.Add(o.until), t0.Add(o.at))
				case o.delete:
					cache.Delete(o.key)
				default:
					v, ok := cache.Get(o.key, t0.Add(o.at), nil)
					if ok != o.found || (ok && v != o.val) {
						t.Fatalf("op %d: Get(%q) = %d, %v; want %d, %v", i, o.key, v, ok, o.val, o.found)
					}
				}
			}
		})
	}
}

// TestBounded puts 262,144 distinct keys in small caches: none ever holds
// more than its size.
func TestBounded(t *testing.T) {
	for _, size := range []int{1, 5, 64} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := New[int, int](size, time.Hour)
			const n = 1 << 18
			for i := range n {
				c.Put(i, i, t0.Add(time.Hour), t0)
				if i%4096 == 0 || i == n-1 {
					if st := c.Stats(); st.Entries > size {
						t.Fatalf("after %d puts: %d entries, more than %d", i+1, st.Entries, size)
					}
				}
			}
			st := c.Stats()
			if st.Entries == 0 || st.Evictions < uint64(n-size) {
				t.Fatalf("stats %+v: want entries and at least %d evictions", st, n-size)
			}
			if v, ok := c.Get(n-1, t0, nil); !ok || v != n-1 {
				t.Errorf("the last key put is gone")
			}
		})
	}
}

// TestClock: entries used since the hand last passed survive an eviction;
// an expired entry makes room first.
func TestClock(t *testing.T) {
	c := newCache[string, int](3, time.Hour, 1)
	now := t0
	c.Put("a", 1, now.Add(time.Hour), now)
	c.Put("b", 2, now.Add(time.Hour), now)
	c.Put("c", 3, now.Add(time.Minute), now)
	c.Get("a", now, nil)
	c.Put("d", 4, now.Add(time.Hour), now) // a is used: b goes
	want := map[string]bool{"a": true, "b": false, "c": true, "d": true}
	for k, ok := range want {
		if _, got := c.Get(k, now, nil); got != ok {
			t.Fatalf("after d: %s cached = %v, want %v", k, got, ok)
		}
	}
	// Every entry is used now; c expires, and makes room for e.
	now = now.Add(2 * time.Minute)
	c.Put("e", 5, now.Add(time.Hour), now)
	want = map[string]bool{"a": true, "c": false, "d": true, "e": true}
	for k, ok := range want {
		if _, got := c.Get(k, now, nil); got != ok {
			t.Fatalf("after e: %s cached = %v, want %v", k, got, ok)
		}
	}
	if st := c.Stats(); st.Evictions != 1 || st.Entries != 3 {
		t.Errorf("stats %+v: want 1 eviction (b), 3 entries", st)
	}
}

// TestDeletedSlotReused: a deleted entry's slot is taken by a new key, and
// the key put again elsewhere is not evicted with the stale slot.
func TestDeletedSlotReused(t *testing.T) {
	c := newCache[string, int](2, time.Hour, 1)
	c.Put("a", 1, t0.Add(time.Hour), t0)
	c.Put("b", 2, t0.Add(time.Hour), t0)
	c.Delete("a")
	c.Put("c", 3, t0.Add(time.Hour), t0) // takes a's slot: no eviction
	if st := c.Stats(); st.Evictions != 0 || st.Entries != 2 {
		t.Fatalf("stats %+v: want no eviction, 2 entries", st)
	}
	for _, k := range []string{"b", "c"} {
		if _, ok := c.Get(k, t0, nil); !ok {
			t.Errorf("%s is gone", k)
		}
	}
}

func TestNil(t *testing.T) {
	cases := []struct {
		name  string
		size  int
		ttl   time.Duration
		isNil bool
	}{
		{"zero size", 0, time.Hour, true},
		{"negative size", -1, time.Hour, true},
		{"zero ttl", 4, 0, true},
		{"cache", 4, time.Hour, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := New[string, int](c.size, c.ttl)
			if (cache == nil) != c.isNil {
				t.Fatalf("New = %v, want nil %v", cache, c.isNil)
			}
			cache.Put("a", 1, t0.Add(time.Hour), t0)
			_, ok := cache.Get("a", t0, nil)
			if ok == c.isNil {
				t.Errorf("Get found %v", ok)
			}
			cache.Delete("a")
			if st := cache.Stats(); st.Entries != 0 {
				t.Errorf("stats %+v after Delete", st)
			}
		})
	}
}

// TestConcurrent is for -race: puts, gets and deletes from many goroutines
// stay within the bound.
func TestConcurrent(t *testing.T) {
	const size = 32
	c := New[int, int](size, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				k := (g*7919 + i*31) % 500
				switch i % 5 {
				case 0:
					c.Delete(k)
				case 1, 2:
					c.Put(k, k, t0.Add(time.Hour), t0)
				default:
					if v, ok := c.Get(k, t0, nil); ok && v != k {
						t.Errorf("Get(%d) = %d", k, v)
					}
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Entries > size || st.Hits == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestCheck: an entry its check refuses is dropped, unless it was replaced
// while the check ran.
func TestCheck(t *testing.T) {
	cases := []struct {
		name      string
		check     func(c *Cache[string, int]) func(int) bool
		found     bool
		after     int // the value Get(nil) finds next; 0: none
		hits      uint64
		stale     uint64
		remaining int
	}{
		{"no check", func(*Cache[string, int]) func(int) bool { return nil }, true, 1, 2, 0, 1},
		{"accepted", func(*Cache[string, int]) func(int) bool { return func(v int) bool { return v == 1 } }, true, 1, 2, 0, 1},
		{"refused", func(*Cache[string, int]) func(int) bool { return func(int) bool { return false } }, false, 0, 0, 1, 0},
		{"replaced during the check", func(c *Cache[string, int]) func(int) bool {
			return func(int) bool { c.Put("a", 2, t0.Add(time.Hour), t0); return false }
		}, false, 2, 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := New[string, int](4, time.Hour)
			cache.Put("a", 1, t0.Add(time.Hour), t0)
			if _, ok := cache.Get("a", t0, c.check(cache)); ok != c.found {
				t.Fatalf("Get found %v, want %v", ok, c.found)
			}
			v, ok := cache.Get("a", t0, nil)
			if (c.after != 0) != ok || v != c.after {
				t.Fatalf("then Get = %d, %v; want %d", v, ok, c.after)
			}
			if st := cache.Stats(); st.Hits != c.hits || st.Stale != c.stale || st.Entries != c.remaining {
				t.Errorf("stats %+v, want %d hits, %d stale, %d entries", st, c.hits, c.stale, c.remaining)
			}
		})
	}
}

// TestExpiredSwept: expired entries make room before the cache is full, so
// a cache whose entries expire does not grow to its size; an expired entry
// found by Get is dropped.
func TestExpiredSwept(t *testing.T) {
	c := newCache[int, int](1000, time.Hour, 1)
	for i := range 50 {
		c.Put(i, i, t0.Add(time.Minute), t0)
	}
	later := t0.Add(2 * time.Minute)
	for i := 50; i < 100; i++ {
		c.Put(i, i, later.Add(time.Minute), later)
	}
	if st, ring := c.Stats(), len(c.shards[0].ring); st.Entries != 50 || ring != 50 {
		t.Fatalf("%d entries in %d slots, want 50 in 50", st.Entries, ring)
	}
	if _, ok := c.Get(99, later.Add(time.Minute), nil); ok {
		t.Fatal("an expired entry was found")
	}
	if st := c.Stats(); st.Entries != 49 {
		t.Fatalf("%d entries, want 49: the expired one is dropped", st.Entries)
	}
}
