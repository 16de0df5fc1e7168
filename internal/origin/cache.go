package origin

import (
	"container/list"
	"slices"
	"sync"
	"sync/atomic"
)

// cacheBudget bounds the histories the SQLite store keeps in memory, in
// origins (about 150 bytes each): a few megabytes.
const cacheBudget = 32 << 10

// cache is a bounded LRU of recent histories by fingerprint. A Record
// replaces its credential's entry with the history it committed; a Lookup
// that missed fills the entry only if no Record completed while it read (gen
// is unchanged), so a slow read never overwrites a newer history.
type cache struct {
	mu     sync.Mutex
	budget int // origins
	used   int
	gen    uint64
	lru    *list.List // of *cacheEntry, most recent at the front
	byFP   map[string]*list.Element

	hits, misses atomic.Uint64 // Lookup answers from the cache, and not
}

type cacheEntry struct {
	fp string
	h  History
}

func newCache(budget int) *cache {
	return &cache{budget: budget, lru: list.New(), byFP: make(map[string]*list.Element)}
}

// get returns a copy of the cached history of fp, and the generation to
// pass to fill after a miss.
func (c *cache) get(fp string) (h History, ok bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byFP[fp]
	if !ok {
		c.misses.Add(1)
		return History{}, false, c.gen
	}
	c.hits.Add(1)
	c.lru.MoveToFront(e)
	h = e.Value.(*cacheEntry).h
	h.Origins = slices.Clone(h.Origins)
	return h, true, c.gen
}

// fill caches h for fp after a miss, unless a write happened since gen.
func (c *cache) fill(fp string, h History, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.setLocked(fp, h)
	}
}

// set caches h, the history fp has after a committed write.
func (c *cache) set(fp string, h History) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.setLocked(fp, h)
}

// drop forgets fp, after a write whose outcome is unknown.
func (c *cache) drop(fp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.byFP[fp]; ok {
		c.removeLocked(e)
	}
}

func (c *cache) setLocked(fp string, h History) {
	if e, ok := c.byFP[fp]; ok {
		c.removeLocked(e)
	}
	if len(h.Origins) == 0 || len(h.Origins) > c.budget {
		return // nothing worth keeping: a miss costs the same one query
	}
	h.Origins = slices.Clone(h.Origins)
	c.byFP[fp] = c.lru.PushFront(&cacheEntry{fp: fp, h: h})
	c.used += len(h.Origins)
	for c.used > c.budget {
		c.removeLocked(c.lru.Back())
	}
}

func (c *cache) removeLocked(e *list.Element) {
	ce := c.lru.Remove(e).(*cacheEntry)
	delete(c.byFP, ce.fp)
	c.used -= len(ce.h.Origins)
}
