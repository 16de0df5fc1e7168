package evidencelog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// startLog starts a Log with no database that writes into store; only
// Append, Flush, Err and Stats work. It is stopped when the test ends.
func startLog(t testing.TB, opts Options, store batchStore) *Log {
	t.Helper()
	l := newLog("", nil, opts.withDefaults())
	l.start(store)
	t.Cleanup(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.quit)
		<-l.done
		store.close()
	})
	return l
}

// fakeStore is a batchStore in memory. Each sync takes delay, and while
// gate is not nil waits for a value on it; syncErr and writeErr make the
// next sync or write fail.
type fakeStore struct {
	gate  chan struct{}
	delay time.Duration

	mu       sync.Mutex
	written  int64 // records written
	synced   int64 // records written before the last good sync
	syncs    int
	syncErr  error
	writeErr error
}

func (s *fakeStore) write(_ context.Context, f *frontier, batch []pending) (tlog.Hash, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return tlog.Hash{}, s.writeErr
	}
	next := *f
	_, root, err := treeHashes(&next, batch, nil)
	if err != nil {
		return tlog.Hash{}, err
	}
	*f = next
	s.written += int64(len(batch))
	return root, nil
}

func (s *fakeStore) sync() error {
	s.mu.Lock()
	written := s.written
	s.mu.Unlock()
	if s.gate != nil {
		<-s.gate
	}
	time.Sleep(s.delay)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	if s.syncErr != nil {
		return s.syncErr
	}
	s.synced = written
	return nil
}

func (s *fakeStore) close() {}

func (s *fakeStore) state() (written, synced int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.written, s.synced
}

// A durable Append returns only once an fsync that began after its record
// was written has returned.
func TestDurableAppendWaitsForSync(t *testing.T) {
	store := &fakeStore{gate: make(chan struct{})}
	l := startLog(t, Options{}, store)
	type result struct {
		e   Entry
		err error
	}
	done := make(chan result, 1)
	go func() {
		e, err := l.Append(ctx, []byte("durable"))
		done <- result{e, err}
	}()
	for {
		if w, _ := store.state(); w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-done:
		t.Fatalf("Append returned before its fsync: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	if got := l.Size(); got != 0 {
		t.Fatalf("Size() = %d before the fsync, want 0", got)
	}
	store.gate <- struct{}{}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, synced := store.state(); synced < r.e.Index+1 {
		t.Fatalf("Append of record %d returned with %d records synced", r.e.Index, synced)
	}
	if st := l.Stats(); st.Size != 1 || st.Syncs != 1 || st.Commits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Async Appends wait neither for the fsync nor behind it: while an fsync
// hangs, more records than one batch are appended and written; Flush waits
// for the fsync.
func TestAsyncAppendDoesNotWaitForSync(t *testing.T) {
	store := &fakeStore{gate: make(chan struct{})}
	l := startLog(t, Options{Async: true, MaxBatch: 8, MaxPending: 16}, store)
	const n = 100 // more than MaxPending: room is freed as batches are written
	appended := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := l.Append(ctx, record(int64(i))); err != nil {
				appended <- err
				return
			}
		}
		appended <- nil
	}()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(store.gate)
		t.Fatal("async Appends waited for the fsync")
	}
	for {
		if w, _ := store.state(); w == n {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st := l.Stats(); st.Size != 0 || st.Pending != n {
		t.Fatalf("stats %+v while the first fsync hangs, want %d pending", st, n)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- l.Flush(ctx) }()
	select {
	case err := <-flushed:
		t.Fatalf("Flush returned before the fsync: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(store.gate) // every fsync from now on returns at once
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Size != n || st.Pending != 0 || st.Syncs > 3 {
		t.Fatalf("stats %+v after Flush, want %d records in at most 3 fsyncs", st, n)
	}
}

// A failed fsync fails the Appends waiting for it and every later one,
// and frees their room in the queue.
func TestSyncFailure(t *testing.T) {
	injected := errors.New("injected fsync failure")
	store := &fakeStore{syncErr: injected}
	l := startLog(t, Options{MaxPending: 4, MaxBatch: 2}, store)
	var wg sync.WaitGroup
	errs := make([]error, 16) // four times the queue
	for i := range errs {
		wg.Go(func() { _, errs[i] = l.Append(ctx, record(int64(i))) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrWriteFailed) {
			t.Fatalf("Append %d: %v, want ErrWriteFailed", i, err)
		}
	}
	if err := l.Err(); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Err() = %v, want ErrWriteFailed", err)
	}
	if st := l.Stats(); st.Size != 0 {
		t.Fatalf("stats %+v: records counted committed after a failed fsync", st)
	}
	store.mu.Lock()
	store.syncErr = nil
	store.mu.Unlock()
	if _, err := l.Append(ctx, []byte("after")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Append after a failed fsync: %v, want ErrWriteFailed (sticky)", err)
	}
}

// Records written before a failed write still become committed, and
// their Appends succeed; the Appends of the failed batch fail.
func TestWriteFailureAfterWrites(t *testing.T) {
	store := &fakeStore{gate: make(chan struct{})}
	l := startLog(t, Options{Async: true}, store)
	e, err := l.Append(ctx, []byte("before"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if w, _ := store.state(); w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	store.mu.Lock()
	store.writeErr = errors.New("injected write failure")
	store.mu.Unlock()
	if _, err := l.Append(ctx, []byte("refused")); err != nil {
		t.Fatal(err) // async: queued, fails in the writer
	}
	for l.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	close(store.gate)
	if err := l.waitCommitted(ctx, e.Index+1); err != nil {
		t.Fatalf("the record written before the failure: %v", err)
	}
	if err := l.Flush(ctx); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Flush after a failed write: %v, want ErrWriteFailed", err)
	}
	if got := l.Size(); got != 1 {
		t.Fatalf("Size() = %d, want 1", got)
	}
}

// Concurrent durable Appends share fsyncs, and each sees its own record
// synced when it returns.
func TestDurableGroups(t *testing.T) {
	store := &fakeStore{delay: time.Millisecond}
	l := startLog(t, Options{}, store)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range each {
				e, err := l.Append(ctx, []byte("r"))
				if err != nil {
					errs <- err
					return
				}
				if _, synced := store.state(); synced < e.Index+1 {
					errs <- errors.New("an Append returned before its record was synced")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := l.Stats()
	t.Logf("%d records in %d transactions, %d fsyncs", st.Size, st.Commits, st.Syncs)
	if st.Size != writers*each || st.Syncs >= writers*each/2 {
		t.Fatalf("stats %+v: want %d records sharing fsyncs", st, writers*each)
	}
}
