package origin

import (
	"container/list"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
)

// DefaultMaxCredentials is how many credentials' histories a Memory store
// made by NewMemory keeps.
const DefaultMaxCredentials = 1 << 20

// Memory is a Store held in memory only, for tests, examples and embedders
// that want no disk: its history is gone when the process exits. It answers
// exactly as the SQLite store does: times kept to the microsecond in UTC,
// at most MaxOrigins origins per credential and MaxLearned per binding,
// the least recently seen (the last in CompareSeen order) evicted first,
// and the credential's LastSeen and Uses still counting the uses of
// evicted origins. It is safe for concurrent use.
//
// Its memory is bounded by a cap on the credentials it keeps
// (DefaultMaxCredentials, or the limit given to NewMemoryLimit), each with
// at most MaxOrigins origins of a few hundred bytes (a SPIFFE ID, a network
// prefix): with a few origins per credential, the default cap is a few
// hundred megabytes at most. Recording a use of one more credential
// forgets the whole history of the credential least recently recorded
// (Lookup does not count as use), which then looks never used: its next
// use is judged as a first use, with no origin or dormancy findings.
// Learned origins are kept per binding, at most MaxLearned each, and are
// not forgotten with a credential.
type Memory struct {
	max int

	mu      sync.RWMutex
	creds   map[string]*list.Element // of *memCredential
	lru     list.List                // most recently recorded at the front
	learned map[string]map[Origin]*Seen
}

type memCredential struct {
	fp string
	h  History // Origins in CompareSeen order
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store that keeps at most
// DefaultMaxCredentials credentials.
func NewMemory() *Memory { return NewMemoryLimit(DefaultMaxCredentials) }

// NewMemoryLimit returns an empty Memory store that keeps at most
// maxCredentials credentials; DefaultMaxCredentials when it is zero or
// negative.
func NewMemoryLimit(maxCredentials int) *Memory {
	if maxCredentials <= 0 {
		maxCredentials = DefaultMaxCredentials
	}
	m := &Memory{
		max:     maxCredentials,
		creds:   make(map[string]*list.Element),
		learned: make(map[string]map[Origin]*Seen),
	}
	m.lru.Init()
	return m
}

// Len returns the number of credentials whose history is kept.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.creds)
}

// Lookup implements Store.
func (m *Memory) Lookup(_ context.Context, fp string) (History, error) {
	if !fingerprint.Valid(fp) {
		return History{}, fmt.Errorf("%w: lookup: not a fingerprint", ErrInvalid)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	e, ok := m.creds[fp]
	if !ok {
		return History{}, nil
	}
	h := e.Value.(*memCredential).h
	h.Origins = slices.Clone(h.Origins)
	return h, nil
}

// Record implements Store.
func (m *Memory) Record(_ context.Context, u Use) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	at := micro(u.At)
	var allowed int64
	if u.Allowed {
		allowed = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()

	e, ok := m.creds[u.Fingerprint]
	if ok {
		m.lru.MoveToFront(e)
	} else {
		for len(m.creds) >= m.max {
			old := m.lru.Remove(m.lru.Back()).(*memCredential)
			delete(m.creds, old.fp)
		}
		e = m.lru.PushFront(&memCredential{fp: u.Fingerprint})
		m.creds[u.Fingerprint] = e
	}
	recordHistory(&e.Value.(*memCredential).h, u.Origin, at, allowed)

	if u.Learn {
		set := m.learned[u.Binding]
		if set == nil {
			set = make(map[Origin]*Seen)
			m.learned[u.Binding] = set
		}
		learnSeen(set, u.Origin, at, allowed)
	}
	return nil
}

// recordHistory adds a use of o at at (in microseconds, UTC) to h, as the
// SQLite store's Record does: the origin's counters, the credential's
// LastSeen and Uses, and eviction beyond MaxOrigins.
func recordHistory(h *History, o Origin, at time.Time, allowed int64) {
	h.Origins = recordSeen(h.Origins, o, at, allowed)
	if h.Uses == 0 || at.After(h.LastSeen) {
		h.LastSeen = at
	}
	h.Uses++
}

// recordSeen adds a use of o to list, kept in CompareSeen order, and drops
// the last origin when that made the list longer than MaxOrigins.
func recordSeen(list []Seen, o Origin, at time.Time, allowed int64) []Seen {
	i := slices.IndexFunc(list, func(s Seen) bool { return s.Origin == o })
	if i >= 0 {
		countUse(&list[i], at, allowed)
		slices.SortFunc(list, CompareSeen)
		return list
	}
	list = append(list, Seen{Origin: o, FirstSeen: at, LastSeen: at, Uses: 1, Allowed: allowed})
	slices.SortFunc(list, CompareSeen)
	if len(list) > MaxOrigins {
		list[len(list)-1] = Seen{} // release its strings
		list = list[:MaxOrigins]
	}
	return list
}

// learnSeen adds a use of o to a binding's learned origins and, when that
// made more than MaxLearned, evicts the one last in CompareSeen order.
func learnSeen(set map[Origin]*Seen, o Origin, at time.Time, allowed int64) {
	if s, ok := set[o]; ok {
		countUse(s, at, allowed)
		return
	}
	set[o] = &Seen{Origin: o, FirstSeen: at, LastSeen: at, Uses: 1, Allowed: allowed}
	if len(set) <= MaxLearned {
		return
	}
	var last *Seen
	for _, s := range set {
		if last == nil || CompareSeen(*s, *last) > 0 {
			last = s
		}
	}
	delete(set, last.Origin)
}

// countUse counts one more use at at, as the SQLite store's upsert does.
func countUse(s *Seen, at time.Time, allowed int64) {
	if at.Before(s.FirstSeen) {
		s.FirstSeen = at
	}
	if at.After(s.LastSeen) {
		s.LastSeen = at
	}
	s.Uses++
	s.Allowed += allowed
}

// Learned implements Store.
func (m *Memory) Learned(_ context.Context, binding string, since time.Time) ([]Seen, error) {
	var sinceMicro int64 = math.MinInt64
	if !since.IsZero() {
		sinceMicro = since.UnixMicro()
	}
	m.mu.RLock()
	var list []Seen
	for _, s := range m.learned[binding] {
		if s.LastSeen.UnixMicro() >= sinceMicro {
			list = append(list, *s)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(list, CompareSeen)
	return list, nil
}

// micro is t as the SQLite store keeps it: Unix microseconds, read back in
// UTC.
func micro(t time.Time) time.Time { return fromDB(t.UnixMicro()) }
