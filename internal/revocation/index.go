package revocation

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// index holds revocations in memory for Match: per kind, a map from Value to
// the revocations with that value, oldest first. It is not safe for
// concurrent use; its owner guards it.
type index struct {
	byKind map[Kind]map[string][]Revocation
	byID   map[string]Revocation
}

func newIndex() *index {
	x := &index{
		byKind: make(map[Kind]map[string][]Revocation, len(Kinds())),
		byID:   make(map[string]Revocation),
	}
	for _, k := range Kinds() {
		x.byKind[k] = make(map[string][]Revocation)
	}
	return x
}

func compareRevocations(a, b Revocation) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func (x *index) add(r Revocation) {
	m := x.byKind[r.Kind]
	if m == nil {
		return // Validate keeps unknown kinds out
	}
	list := m[r.Value]
	i, _ := slices.BinarySearchFunc(list, r, compareRevocations)
	m[r.Value] = slices.Insert(list, i, r)
	x.byID[r.ID] = r
}

func (x *index) remove(id string) {
	r, ok := x.byID[id]
	if !ok {
		return
	}
	delete(x.byID, id)
	m := x.byKind[r.Kind]
	list := slices.DeleteFunc(m[r.Value], func(e Revocation) bool { return e.ID == id })
	if len(list) == 0 {
		delete(m, r.Value)
	} else {
		m[r.Value] = list
	}
}

// expired returns the IDs of revocations no longer active at now.
func (x *index) expired(now time.Time) []string {
	var ids []string
	for id, r := range x.byID {
		if !r.Active(now) {
			ids = append(ids, id)
		}
	}
	return ids
}

// match returns the first active revocation matching q, trying kinds in the
// order of Kinds().
func (x *index) match(q Query, now time.Time) *Revocation {
	for _, c := range [...]struct {
		kind Kind
		key  string
	}{
		{KindFingerprint, q.Fingerprint},
		{KindJTI, q.JTI},
		{KindSubject, q.Subject},
		{KindIssuer, q.Issuer},
		{KindBinding, q.Binding},
	} {
		if c.key == "" {
			continue
		}
		list := x.byKind[c.kind][c.key]
		for i := range list {
			if list[i].Active(now) && list[i].Matches(q) {
				found := list[i] // a copy: callers may not change the index
				return &found
			}
		}
	}
	return nil
}

// liveIndex is the index a store answers Match from, under its own lock:
// the SQLite and PostgreSQL stores keep one beside their table.
type liveIndex struct {
	mu  sync.RWMutex
	idx *index
}

func newLiveIndex() liveIndex { return liveIndex{idx: newIndex()} }

// match answers Store.Match: no I/O, an allocation only for a match.
func (l *liveIndex) match(q Query, now time.Time) *Revocation {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.idx.match(q, now)
}

func (l *liveIndex) add(r Revocation) {
	l.mu.Lock()
	l.idx.add(r)
	l.mu.Unlock()
}

func (l *liveIndex) remove(id string) {
	l.mu.Lock()
	l.idx.remove(id)
	l.mu.Unlock()
}

// dropExpired forgets the revocations no longer active at now.
func (l *liveIndex) dropExpired(now time.Time) {
	l.mu.Lock()
	for _, id := range l.idx.expired(now) {
		l.idx.remove(id)
	}
	l.mu.Unlock()
}

// replace swaps in an index of all.
func (l *liveIndex) replace(all []Revocation) {
	idx := newIndex()
	for _, r := range all {
		idx.add(r)
	}
	l.mu.Lock()
	l.idx = idx
	l.mu.Unlock()
}
