package replay

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/reason"
)

// Defaults for MemoryConfig.
const (
	DefaultMaxEntries  = 1 << 20
	DefaultMaxKeyBytes = 512
)

const (
	numShards = 64 // a power of two
	// sweepBatch is how many expired entries each Seen removes from its
	// shard. Each Seen adds at most one entry, so removing up to eight keeps
	// the shard drained without ever making one call slow.
	sweepBatch = 8
	// compactMin is the size below which a shard never rebuilds its map.
	compactMin = 1024
	// hashedKeyPrefix marks keys that were longer than MaxKeyBytes and are
	// stored as their SHA-256.
	hashedKeyPrefix = "\x00sha256:"
)

// MemoryConfig configures a Memory cache. The zero value is usable.
type MemoryConfig struct {
	// MaxEntries is the hard cap on recorded entries; DefaultMaxEntries
	// when zero or negative.
	MaxEntries int
	// MaxKeyBytes is the longest key stored as is; longer keys are stored
	// as their SHA-256. DefaultMaxKeyBytes when zero or negative.
	MaxKeyBytes int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Since is where the cache's memory starts (Horizon). Zero means when
	// the cache is made, to the second (a proof's iat has whole seconds):
	// a proof made in that very second is still accepted, so a process
	// that restarts within one second leaves that second's proofs
	// replayable once. A run that judges recorded requests in order
	// passes a time before all of them.
	Since time.Time
}

// Memory is an in-process replay cache, safe for concurrent use.
//
// Entries are spread over 64 shards, each with its own lock, a map from key
// to expiry and a min-heap of expiries, so removing expired entries is cheap:
// every Seen pops a few expired entries off its shard's heap. An entry is live
// while now < until. When the cap is reached, Seen first removes every
// expired entry from all shards; if all entries are still live it returns
// ErrFull (fail closed) and never forgets a live entry.
//
// An until that is not after now records nothing: the entry would already be
// expired. Seen then only reports whether key is live.
//
// A clock set back does not reopen a window for replays: entries are swept
// as expired by the clock as it reads, so after a jump forward (a clock set
// hours ahead, then corrected) a key may be gone whose until is still
// ahead of the corrected clock. Seen remembers the latest until it swept,
// and reports a key it does not hold, with an until not after that, as
// seen: it may have been recorded and forgotten. On a clock that never
// goes back this cannot happen (nothing recorded expires before now).
// The price is paid in availability, not in replays: the mark is one
// number, not a set of keys, so after a jump of H hours forward and back
// every new key whose until is before the mark (every fresh DPoP proof,
// whose until is now + max_age + leeway) is refused as a replay until the
// corrected clock passes the mark, about H hours later.
type Memory struct {
	since  time.Time
	max    int64
	maxKey int
	now    func() time.Time
	seed   maphash.Seed
	n      atomic.Int64 // entries in all maps, live or not yet swept
	forgot atomic.Int64 // the latest expiry of any entry swept, Unix nanoseconds
	shards [numShards]shard
}

var _ Cache = (*Memory)(nil)

// NewMemory returns an empty Memory cache.
func NewMemory(cfg MemoryConfig) *Memory {
	m := &Memory{
		max:    int64(cfg.MaxEntries),
		maxKey: cfg.MaxKeyBytes,
		now:    cfg.Now,
		seed:   maphash.MakeSeed(),
	}
	if m.max <= 0 {
		m.max = DefaultMaxEntries
	}
	if m.maxKey <= 0 {
		m.maxKey = DefaultMaxKeyBytes
	}
	if m.now == nil {
		m.now = time.Now
	}
	m.since = cfg.Since
	if m.since.IsZero() {
		m.since = m.now().Truncate(time.Second)
	}
	m.forgot.Store(math.MinInt64)
	for i := range m.shards {
		m.shards[i].m = make(map[string]int64)
	}
	return m
}

// Since implements Horizon: the cache remembers nothing recorded before it
// was made, such as before the process restarted.
func (m *Memory) Since() time.Time { return m.since }

// Len returns the number of recorded entries, including expired entries not
// yet removed. It never exceeds MaxEntries.
func (m *Memory) Len() int { return int(m.n.Load()) }

// Seen implements Cache. The context is not used: Memory does no I/O.
func (m *Memory) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	if key == "" {
		return false, ErrEmptyKey
	}
	if len(key) > m.maxKey {
		sum := sha256.Sum256([]byte(key))
		key = hashedKeyPrefix + string(sum[:])
	}
	now, exp := nanos(m.now()), nanos(until)
	s := &m.shards[maphash.String(m.seed, key)&(numShards-1)]

	s.mu.Lock()
	s.sweep(m, now, sweepBatch)
	live, present := s.lookup(key, now)
	if live || exp <= now {
		s.mu.Unlock()
		return live, nil
	}
	if !present && exp <= m.forgot.Load() {
		// Swept as expired on a clock that was ahead: maybe a replay.
		s.mu.Unlock()
		return true, nil
	}
	if !present && !m.reserve() {
		s.mu.Unlock()
		m.sweepAll(now)
		s.mu.Lock()
		// The lock was released: look again.
		live, present = s.lookup(key, now)
		if live {
			s.mu.Unlock()
			return true, nil
		}
		if !present && !m.reserve() {
			s.mu.Unlock()
			return false, reason.Wrap(reason.ReplayCacheFull, "replay cache holds its maximum of live entries; failing closed", ErrFull)
		}
	}
	if !present {
		key = strings.Clone(key) // do not pin the caller's memory
	}
	s.m[key] = exp
	s.h.push(item{exp: exp, key: key})
	if len(s.m) > s.peak {
		s.peak = len(s.m)
	}
	s.mu.Unlock()
	return false, nil
}

// reserve takes one slot under the cap, or reports that none is left.
func (m *Memory) reserve() bool {
	for {
		c := m.n.Load()
		if c >= m.max {
			return false
		}
		if m.n.CompareAndSwap(c, c+1) {
			return true
		}
	}
}

// sweepAll removes every expired entry from every shard, one shard lock at a
// time.
func (m *Memory) sweepAll(now int64) {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweep(m, now, math.MaxInt)
		s.mu.Unlock()
	}
}

// nanos converts t to Unix nanoseconds, clamping times outside the int64
// range (including the zero Time, which is far in the past).
func nanos(t time.Time) int64 {
	const limit = math.MaxInt64 / int64(time.Second)
	switch sec := t.Unix(); {
	case sec >= limit:
		return math.MaxInt64
	case sec <= -limit:
		return math.MinInt64
	}
	return t.UnixNano()
}

// shard is one lock's worth of entries.
type shard struct {
	mu   sync.Mutex
	m    map[string]int64 // key -> expiry, Unix nanoseconds
	h    expiryHeap       // may hold stale items for keys since re-recorded
	peak int              // largest len(m) since the map was last rebuilt
	_    [64]byte         // keep neighbouring shards' locks off one cache line
}

// lookup reports whether key is live at now, and whether it is in the map at
// all (an expired entry not yet swept is present but not live).
func (s *shard) lookup(key string, now int64) (live, present bool) {
	exp, ok := s.m[key]
	return ok && now < exp, ok
}

// sweep removes up to limit expired entries, earliest first.
func (s *shard) sweep(m *Memory, now int64, limit int) {
	removed, latest := 0, int64(math.MinInt64)
	for limit > 0 && len(s.h) > 0 && s.h[0].exp <= now {
		it := s.h.pop()
		limit--
		// A stale heap item (the key was re-recorded after it expired)
		// carries an older expiry than the map and is simply dropped.
		if exp, ok := s.m[it.key]; ok && exp == it.exp {
			delete(s.m, it.key)
			removed++
			latest = it.exp // the heap gives them earliest first
		}
	}
	if removed > 0 {
		m.noteForgotten(latest)
		m.n.Add(int64(-removed))
		if s.peak >= compactMin && len(s.m) <= s.peak/4 {
			s.compact()
		}
	}
}

// noteForgotten raises forgot to exp, the expiry of an entry just swept.
func (m *Memory) noteForgotten(exp int64) {
	for {
		f := m.forgot.Load()
		if exp <= f || m.forgot.CompareAndSwap(f, exp) {
			return
		}
	}
}

// compact rebuilds the map and heap at their current size: Go maps do not
// give memory back after deletes, so after a burst the shard would otherwise
// keep the burst's footprint. The cost is linear in the survivors and is paid
// only after the shard shrank to a quarter of its peak.
func (s *shard) compact() {
	m := make(map[string]int64, len(s.m))
	for k, v := range s.m {
		m[k] = v
	}
	s.m = m
	s.h = append(make(expiryHeap, 0, len(s.h)), s.h...)
	s.peak = len(m)
}

type item struct {
	exp int64
	key string
}

// expiryHeap is a min-heap on exp. It is written out rather than built on
// container/heap, whose interface boxing would allocate on every push.
type expiryHeap []item

func (h *expiryHeap) push(it item) {
	*h = append(*h, it)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].exp <= a[i].exp {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *expiryHeap) pop() item {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = item{} // release the key string
	a = a[:last]
	*h = a
	i := 0
	for {
		l := 2*i + 1
		if l >= len(a) {
			break
		}
		c := l
		if r := l + 1; r < len(a) && a[r].exp < a[l].exp {
			c = r
		}
		if a[i].exp <= a[c].exp {
			break
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
	return top
}
