// Package resultcache is a bounded, expiring cache of successful verification
// results: the credential verifier keeps verified bearer tokens in one, and
// the workload bundles keep verified X.509-SVID chains and JWT-SVIDs.
//
// A Cache never holds more than its size: when a shard is full, the oldest
// entry not used since the clock hand last passed it (CLOCK, an approximation
// of least-recently-used) makes room, an expired entry first. Every entry
// also carries a deadline, never later than the cache's TTL after it was put,
// past which Get no longer returns it. Keys must be digests or keyed
// fingerprints, never raw credentials.
//
// A nil *Cache is a valid, disabled cache: Get always misses and Put keeps
// nothing.
package resultcache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// maxShards bounds the shards a Cache is split into, so that concurrent
// lookups do not all meet on one lock.
const maxShards = 16

// Cache maps keys to values until each entry's deadline. It is safe for
// concurrent use.
type Cache[K comparable, V any] struct {
	seed   maphash.Seed
	mask   uint64
	ttl    time.Duration
	shards []shard[K, V]

	hits, misses, stale, evictions atomic.Uint64
}

type shard[K comparable, V any] struct {
	mu    sync.RWMutex
	items map[K]*item[V]
	// ring holds the keys in their slots; ring[i] is stale (its key was
	// deleted, and maybe put again in another slot) when items[ring[i]]
	// is not at slot i.
	ring []K
	hand int // the next slot the clock hand looks at
	size int // at most this many items; at least 1
	_    [64]byte
}

type item[V any] struct {
	v     V
	until time.Time
	slot  int
	used  atomic.Bool // set by Get, cleared when the clock hand passes
}

// Stats are a Cache's counters since New.
type Stats struct {
	Hits      uint64 // Get found a live entry, and its check accepted it
	Misses    uint64 // Get found none, or an expired one
	Stale     uint64 // Get found a live entry its check refused, and dropped it
	Evictions uint64 // live entries dropped to make room
	Entries   int    // entries held now, expired ones included
}

// New returns a Cache holding at most size entries, each for at most ttl.
// A size or ttl that is not positive gives nil: no cache.
func New[K comparable, V any](size int, ttl time.Duration) *Cache[K, V] {
	return newCache[K, V](size, ttl, maxShards)
}

// newCache is New with at most shards shards (a power of two).
func newCache[K comparable, V any](size int, ttl time.Duration, shards int) *Cache[K, V] {
	if size <= 0 || ttl <= 0 {
		return nil
	}
	n := 1
	for n*2 <= min(size, shards) {
		n *= 2
	}
	c := &Cache[K, V]{seed: maphash.MakeSeed(), mask: uint64(n - 1), ttl: ttl, shards: make([]shard[K, V], n)}
	for i := range c.shards {
		c.shards[i].size = size / n
		c.shards[i].items = make(map[K]*item[V])
	}
	return c
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, k)&c.mask]
}

// Get returns the value put under k if its deadline is after now and check,
// when not nil, accepts it. An entry check refuses is dropped. check runs
// with no lock of the cache held, so it may take its time.
func (c *Cache[K, V]) Get(k K, now time.Time, check func(V) bool) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	s.mu.RLock()
	it, ok := s.items[k]
	s.mu.RUnlock()
	if !ok {
		c.misses.Add(1)
		return zero, false
	}
	if !now.Before(it.until) {
		s.drop(k, it)
		c.misses.Add(1)
		return zero, false
	}
	if check != nil && !check(it.v) {
		s.drop(k, it)
		c.stale.Add(1)
		return zero, false
	}
	if !it.used.Load() {
		it.used.Store(true)
	}
	c.hits.Add(1)
	return it.v, true
}

// Put keeps v under k until the earlier of until and now plus the cache's
// TTL, replacing what k held. Nothing is kept when that moment is not
// after now.
func (c *Cache[K, V]) Put(k K, v V, until, now time.Time) {
	if c == nil {
		return
	}
	if limit := now.Add(c.ttl); limit.Before(until) {
		until = limit
	}
	if !now.Before(until) {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.items[k]; ok {
		s.items[k] = &item[V]{v: v, until: until, slot: old.slot}
		return
	}
	it := &item[V]{v: v, until: until}
	switch {
	case len(s.ring) == s.size:
		it.slot = s.victim(now, &c.evictions)
	case len(s.ring) > 0 && s.free(s.hand, now):
		// Not full, but the slot under the hand is free: take it, so that
		// expired entries are swept at the pace of puts and a cache that
		// sees few live entries stays small.
		it.slot = s.hand
		s.hand = (s.hand + 1) % len(s.ring)
	default:
		if len(s.ring) > 0 {
			s.hand = (s.hand + 1) % len(s.ring)
		}
		it.slot = len(s.ring)
		s.ring = append(s.ring, k)
	}
	s.ring[it.slot] = k
	s.items[k] = it
}

// drop deletes k if it still holds it.
func (s *shard[K, V]) drop(k K, it *item[V]) {
	s.mu.Lock()
	if s.items[k] == it { // not replaced meanwhile
		delete(s.items, k)
	}
	s.mu.Unlock()
}

// free reports whether slot i can be taken without evicting a live entry:
// it is stale, or its entry has expired (it is then deleted). s.mu is held.
func (s *shard[K, V]) free(i int, now time.Time) bool {
	it, ok := s.items[s.ring[i]]
	switch {
	case !ok || it.slot != i:
		return true
	case !now.Before(it.until):
		delete(s.items, s.ring[i])
		return true
	}
	return false
}

// victim frees a slot of a full ring and returns it: the first, from the
// hand on, that is stale or holds an expired entry or one not used since
// the hand last passed. It terminates: a full turn clears every used mark.
// s.mu is held.
func (s *shard[K, V]) victim(now time.Time, evictions *atomic.Uint64) int {
	for {
		i := s.hand
		s.hand = (s.hand + 1) % s.size
		if s.free(i, now) {
			return i
		}
		if it := s.items[s.ring[i]]; it.used.Load() {
			it.used.Store(false)
			continue
		}
		delete(s.items, s.ring[i])
		evictions.Add(1)
		return i
	}
}

// Delete drops k's entry, if any.
func (c *Cache[K, V]) Delete(k K) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	delete(s.items, k)
	s.mu.Unlock()
}

// Stats returns the counters and the number of entries held.
func (c *Cache[K, V]) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stale: c.stale.Load(), Evictions: c.evictions.Load()}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		st.Entries += len(s.items)
		s.mu.RUnlock()
	}
	return st
}
