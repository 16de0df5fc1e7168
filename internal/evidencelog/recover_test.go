package evidencelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// faultyStore is a batchStore in memory that keeps every committed record's
// leaf hash by index, and fails writes and probes while told to.
type faultyStore struct {
	failWrites atomic.Bool
	failProbes atomic.Bool
	probes     atomic.Int64

	mu     sync.Mutex
	leaves map[int64]tlog.Hash
}

func newFaultyStore() *faultyStore { return &faultyStore{leaves: map[int64]tlog.Hash{}} }

func (s *faultyStore) write(_ context.Context, f *frontier, batch []pending) (tlog.Hash, error) {
	if s.failWrites.Load() {
		return tlog.Hash{}, errors.New("injected: no space left on device")
	}
	next := *f
	_, root, err := treeHashes(&next, batch, nil)
	if err != nil {
		return tlog.Hash{}, err
	}
	s.mu.Lock()
	for _, p := range batch {
		if _, dup := s.leaves[p.index]; dup {
			s.mu.Unlock()
			return tlog.Hash{}, fmt.Errorf("record %d written twice", p.index)
		}
		s.leaves[p.index] = p.hash
	}
	s.mu.Unlock()
	*f = next
	return root, nil
}

func (s *faultyStore) sync() error { return nil }
func (s *faultyStore) close()      {}

func (s *faultyStore) probe(context.Context) error {
	s.probes.Add(1)
	if s.failProbes.Load() {
		return errors.New("injected: still no space")
	}
	return nil
}

func (s *faultyStore) leaf(i int64) (tlog.Hash, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.leaves[i]
	return h, ok
}

func waitUntil(t *testing.T, limit time.Duration, cond func() bool) bool {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// After a failed commit a durable log refuses Appends while its probe
// writes fail, and takes them again, without a reopen, once one succeeds:
// the next record gets the index the failed one had, so the log stays
// dense.
func TestRecoverAfterWriteFailure(t *testing.T) {
	store := newFaultyStore()
	l := startLog(t, Options{RetryInterval: 10 * time.Millisecond}, store)
	if e, err := l.Append(ctx, []byte("before")); err != nil || e.Index != 0 {
		t.Fatalf("Append before the fault: %+v %v", e, err)
	}
	store.failWrites.Store(true)
	store.failProbes.Store(true)
	if _, err := l.Append(ctx, []byte("refused")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Append under the fault: %v, want ErrWriteFailed", err)
	}
	if !waitUntil(t, 5*time.Second, func() bool { return store.probes.Load() >= 3 }) {
		t.Fatalf("only %d probes in 5s", store.probes.Load())
	}
	if err := l.Err(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Err while probes fail: %v, want ErrWriteFailed", err)
	}
	if _, err := l.Append(ctx, []byte("refused too")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Append while probes fail: %v, want ErrWriteFailed", err)
	}

	store.failWrites.Store(false)
	store.failProbes.Store(false)
	if !waitUntil(t, 5*time.Second, func() bool { return l.Err() == nil }) {
		t.Fatalf("Err 5s after the fault cleared: %v", l.Err())
	}
	e, err := l.Append(ctx, []byte("after"))
	if err != nil || e.Index != 1 {
		t.Fatalf("Append after the fault: %+v %v, want index 1", e, err)
	}
	if h, ok := store.leaf(1); !ok || h != tlog.RecordHash([]byte("after")) {
		t.Fatal("record 1 is not the one appended after the fault")
	}
	if st := l.Stats(); st.Size != 2 || st.Pending != 0 {
		t.Fatalf("stats %+v, want 2 records, none pending", st)
	}
}

// An async log, whose Appends have returned indexes the failed batch
// held, stays failed: giving those indexes to other records would make
// the answers that named them point at the wrong records.
func TestNoRecoverInAsyncMode(t *testing.T) {
	store := newFaultyStore()
	l := startLog(t, Options{Async: true, RetryInterval: 5 * time.Millisecond}, store)
	store.failWrites.Store(true)
	if _, err := l.Append(ctx, []byte("lost")); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(t, 5*time.Second, func() bool { return l.Err() != nil }) {
		t.Fatal("no write failure")
	}
	store.failWrites.Store(false)
	time.Sleep(100 * time.Millisecond)
	if err := l.Err(); !errors.Is(err, ErrWriteFailed) || store.probes.Load() != 0 {
		t.Fatalf("async log after the fault: Err %v, %d probes; want ErrWriteFailed and none", err, store.probes.Load())
	}
}

// Under concurrent Appends and a store that fails and heals again and
// again, every Append that succeeded names the record it appended: its
// index holds its leaf, no index is returned twice, and the committed
// records are dense.
func TestRecoverUnderLoad(t *testing.T) {
	store := newFaultyStore()
	l := startLog(t, Options{RetryInterval: time.Millisecond, MaxBatch: 4}, store)
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		mu      sync.Mutex
		got     = map[int64]tlog.Hash{}
		refused atomic.Int64
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				rec := fmt.Appendf(nil, "writer %d record %d", w, i)
				e, err := l.Append(ctx, rec)
				if err != nil {
					if !errors.Is(err, ErrWriteFailed) {
						t.Errorf("Append: %v", err)
						return
					}
					refused.Add(1)
					time.Sleep(100 * time.Microsecond)
					continue
				}
				if e.LeafHash != tlog.RecordHash(rec) {
					t.Errorf("Append returned the leaf of another record")
				}
				mu.Lock()
				if _, dup := got[e.Index]; dup {
					t.Errorf("index %d returned twice", e.Index)
				}
				got[e.Index] = e.LeafHash
				mu.Unlock()
			}
		})
	}
	for range 30 {
		time.Sleep(time.Duration(1+rand.IntN(3)) * time.Millisecond)
		store.failWrites.Store(true)
		time.Sleep(time.Duration(1+rand.IntN(3)) * time.Millisecond)
		store.failWrites.Store(false)
	}
	if !waitUntil(t, 5*time.Second, func() bool { return l.Err() == nil }) {
		t.Errorf("Err after the last fault: %v", l.Err())
	}
	stop.Store(true)
	wg.Wait()
	size := l.Size()
	for i := range size {
		if _, ok := store.leaf(i); !ok {
			t.Fatalf("committed record %d of %d is missing: the log is not dense", i, size)
		}
	}
	for i, h := range got {
		if s, ok := store.leaf(i); !ok || s != h {
			t.Errorf("Append was told index %d, which holds another record", i)
		}
	}
	if refused.Load() == 0 || len(got) == 0 {
		t.Fatalf("%d appended, %d refused: the faults did not interleave with the load", len(got), refused.Load())
	}
	t.Logf("%d appended, %d refused, log size %d, %d probes", len(got), refused.Load(), size, store.probes.Load())
}

// The SQLite store's probe is a real write: it fails while the database
// refuses the row it writes (a trigger plays the fault) and succeeds once
// the fault is gone, leaving a log that verifies.
func TestSQLiteProbeWrites(t *testing.T) {
	l, dir := openLog(t, Options{})
	if _, err := l.Append(ctx, []byte("r")); err != nil {
		t.Fatal(err)
	}
	p, ok := l.store.(prober)
	if !ok {
		t.Fatal("the SQLite store cannot probe")
	}
	if err := p.probe(ctx); err != nil {
		t.Fatalf("probe of a healthy log: %v", err)
	}
	withDB(t, dir, func(db *sql.DB) {
		sqlExec(t, db, `CREATE TRIGGER fault BEFORE UPDATE ON evidence_meta
			BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`)
	})
	if err := p.probe(ctx); err == nil {
		t.Fatal("probe succeeded while the write it makes is refused")
	}
	withDB(t, dir, func(db *sql.DB) { sqlExec(t, db, `DROP TRIGGER fault`) })
	if err := p.probe(ctx); err != nil {
		t.Fatalf("probe after the fault cleared: %v", err)
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("the log after probes: %v", err)
	}
}

// While an Append from before the failure still waits (it holds an index
// the failed batch had), the log is not taken back into service: the next
// record would get that index, and the waiter could take its commit for
// its own.
func TestNoRecoverWhileAWaiterRemains(t *testing.T) {
	store := newFaultyStore()
	l := startLog(t, Options{RetryInterval: time.Millisecond}, store)
	store.failWrites.Store(true)
	if _, err := l.Append(ctx, []byte("refused")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Append under the fault: %v", err)
	}
	l.waiting.Add(1) // an Append of the failed batch that has not yet seen the failure
	store.failWrites.Store(false)
	time.Sleep(50 * time.Millisecond)
	if err := l.Err(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Err with a waiter left: %v, want the failure kept", err)
	}
	l.waiting.Add(-1)
	if !waitUntil(t, 5*time.Second, func() bool { return l.Err() == nil }) {
		t.Fatalf("Err once the waiter returned: %v", l.Err())
	}
}
