package revocation

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is a Store held in memory only, for tests, examples and embedders
// that want no disk: its revocations are gone when the process exits. It
// behaves as the SQLite store does: the same IDs ("rev_" and 32 hex
// digits), times kept to the microsecond in UTC, the same index answering
// Match, and expired revocations forgotten by Add at most once a minute
// (and by PurgeExpired). It is safe for concurrent use.
//
// Memory holds every unexpired revocation, as the SQLite store's index
// does: a Store cannot forget a live revocation without un-revoking it.
// Each is at most MaxValueBytes of value and issuer and MaxReasonBytes of
// reason.
type Memory struct {
	now func() time.Time

	mu        sync.RWMutex // guards idx and lastPurge
	idx       *index
	lastPurge time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory store. now is the clock; time.Now when
// nil.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, idx: newIndex()}
}

// Add implements Store.
func (m *Memory) Add(_ context.Context, r Revocation) (Revocation, error) {
	id, err := newID()
	if err != nil {
		return Revocation{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	r.ID = id
	r.CreatedAt = micro(now)
	r.IssuedBefore = micro(r.IssuedBefore)
	r.ExpiresAt = micro(r.ExpiresAt)
	if err := r.Validate(); err != nil {
		return Revocation{}, fmt.Errorf("revocation: %w", err)
	}
	if now.Sub(m.lastPurge) >= purgeInterval {
		m.purgeLocked(now)
	}
	m.idx.add(r)
	return r, nil
}

// Remove implements Store.
func (m *Memory) Remove(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.idx.byID[id]; !ok {
		return fmt.Errorf("revocation: remove %q: %w", id, ErrNotFound)
	}
	m.idx.remove(id)
	return nil
}

// List implements Store.
func (m *Memory) List(_ context.Context) ([]Revocation, error) {
	now := m.now()
	m.mu.RLock()
	var list []Revocation
	for _, r := range m.idx.byID {
		if r.Active(now) {
			list = append(list, r)
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(list, compareRevocations)
	return list, nil
}

// Match implements Store. It allocates only for a match.
func (m *Memory) Match(_ context.Context, q Query) (*Revocation, error) {
	now := m.now()
	m.mu.RLock()
	r := m.idx.match(q, now)
	m.mu.RUnlock()
	return r, nil
}

// PurgeExpired forgets expired revocations now, and returns how many. Add
// also purges, at most once a minute.
func (m *Memory) PurgeExpired(_ context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.purgeLocked(m.now()), nil
}

func (m *Memory) purgeLocked(now time.Time) int {
	ids := m.idx.expired(now)
	for _, id := range ids {
		m.idx.remove(id)
	}
	m.lastPurge = now
	return len(ids)
}
