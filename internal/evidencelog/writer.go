package evidencelog

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// pending is a record queued for the writer.
type pending struct {
	index  int64
	record []byte
	hash   tlog.Hash
}

// Append adds record to the log and returns its index and leaf hash.
//
// In the default durable mode Append returns only once the record is
// committed (fsynced) to the database: concurrent Appends are grouped into
// one transaction by a single writer goroutine, so they share one fsync.
// If ctx ends first, Append returns its error and the record may or may not
// be in the log. In Async mode Append returns as soon as the record is
// queued; the Entry is where it will be, once committed (see Flush).
//
// After a failed commit the log refuses every further Append (fail closed)
// until it can write again (see Err).
func (l *Log) Append(ctx context.Context, record []byte) (Entry, error) {
	if l.opts.ReadOnly {
		return Entry{}, problem(ErrReadOnly, -1, "append")
	}
	if len(record) > l.opts.MaxRecordSize {
		return Entry{}, problem(ErrRecordTooLarge, -1, "%d bytes, at most %d", len(record), l.opts.MaxRecordSize)
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("evidencelog: append: waiting for room in the queue: %w", ctx.Err())
	}
	rec := bytes.Clone(record)
	if rec == nil {
		rec = []byte{}
	}
	h := tlog.RecordHash(rec)
	l.mu.Lock()
	if l.closed || l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		<-l.slots
		if err == nil {
			err = problem(ErrClosed, -1, "append")
		}
		return Entry{}, err
	}
	e := Entry{Index: l.next, LeafHash: h}
	l.next++
	l.queue = append(l.queue, pending{index: e.Index, record: rec, hash: h})
	if !l.opts.Async {
		l.waiting.Add(1) // under mu: recover sees it
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	if l.opts.Async {
		return e, nil
	}
	err := l.waitCommitted(ctx, e.Index+1)
	l.waiting.Add(-1)
	if err != nil {
		return Entry{}, fmt.Errorf("evidencelog: append of record %d: %w", e.Index, err)
	}
	return e, nil
}

// Flush waits until every record appended before the call is committed,
// and returns the write error if a commit failed.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	target := l.next
	l.waiting.Add(1)
	l.mu.Unlock()
	defer l.waiting.Add(-1)
	return l.waitCommitted(ctx, target)
}

// waitCommitted waits until the log holds at least n committed (written
// and fsynced) records. After a write failure it still waits for records
// written before the failure, which the syncer goes on making durable.
func (l *Log) waitCommitted(ctx context.Context, n int64) error {
	for {
		l.mu.Lock()
		committed, written, ch := l.committed, l.written, l.commitCh
		failed := l.failed
		if l.syncErr != nil || n > written {
			failed = cmp.Or(l.syncErr, failed)
		} else {
			failed = nil
		}
		l.mu.Unlock()
		if committed >= n {
			return nil
		}
		if failed != nil {
			return failed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// The write path: the writer goroutine (run) takes the queued records, at
// most MaxBatch at a time, and commits each batch in one transaction
// without waiting for the disk; one fsync of the database's write-ahead
// log (syncOnce) then makes every transaction committed before it durable
// at once (a group commit), and only then are their records counted as
// committed and the durable Appends waiting for them released. In durable
// mode the writer fsyncs each batch itself before it gathers the next, so
// that the Appends arriving meanwhile join one batch. In async mode a
// second goroutine (syncLoop) fsyncs in the background while the writer
// goes on; async Appends wait for neither, only for room in the queue,
// which is freed as soon as their batch is written.

// run is the writer: it commits the queue in batches until Close, then
// stops the syncer once it has made the last batch durable.
func (l *Log) run() {
	syncDone := make(chan struct{})
	stopSync := make(chan struct{})
	go l.syncLoop(stopSync, syncDone)
	defer func() {
		close(stopSync)
		<-syncDone
		close(l.done)
	}()
	for {
		var retry *time.Timer
		var retryC <-chan time.Time
		if l.mayRecover() {
			retry = time.NewTimer(l.opts.RetryInterval)
			retryC = retry.C
		}
		select {
		case <-l.wake:
		case <-retryC:
			l.recover()
			continue
		case <-l.quit:
			l.drain()
			return
		}
		if retry != nil {
			retry.Stop()
		}
		if l.opts.MaxDelay > 0 {
			t := time.NewTimer(l.opts.MaxDelay)
			select {
			case <-t.C:
			case <-l.quit:
				t.Stop()
			}
		}
		l.drain()
	}
}

// mayRecover reports whether the log refuses Appends after a failed commit
// that recover may clear: durable mode, every fsync good, a store that can
// probe, not closing.
func (l *Log) mayRecover() bool {
	if _, ok := l.store.(prober); !ok || l.opts.Async {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed != nil && l.syncErr == nil && !l.closed
}

// prober is a batchStore that can tell whether it can be written again.
type prober interface {
	// probe commits a write that adds no record.
	probe(ctx context.Context) error
}

// recover takes the log back into service after a failed commit (a full
// disk, say), without reopening it, once the store takes a probe write
// and no Append from before the failure still waits: those hold indexes
// from the failed batch on, which the next records get. Everything before
// the failed batch is committed and synced (durable mode syncs each batch
// before the next), and the frontier never moved past it.
func (l *Log) recover() {
	ok := func() bool {
		return l.failed != nil && l.syncErr == nil && !l.closed && l.waiting.Load() == 0 &&
			len(l.queue) == 0 && l.committed == l.written && l.front.size == l.written
	}
	l.mu.Lock()
	try := ok()
	l.mu.Unlock()
	if !try {
		return
	}
	if err := l.store.(prober).probe(context.Background()); err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok() { // nothing can have changed while failed, but check
		l.failed = nil
		l.next = l.written
	}
}

// maxGather bounds how long the durable writer waits for the Appends an
// fsync released to come back before it takes a batch without them.
const maxGather = 2 * time.Millisecond

// drain commits the queue, at most MaxBatch records per transaction.
func (l *Log) drain() {
	released := 0 // durable Appends the last fsync released
	for {
		if !l.opts.Async && released > 1 {
			l.gather(released)
		}
		l.mu.Lock()
		if l.failed != nil {
			// A failed fsync leaves records queued behind it: their
			// Appends fail (waitCommitted), and their room is freed.
			free := len(l.queue)
			l.queue = nil
			l.mu.Unlock()
			for range free {
				<-l.slots
			}
			return
		}
		n := min(len(l.queue), l.opts.MaxBatch)
		if n == 0 {
			l.mu.Unlock()
			return
		}
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		if len(l.queue) == 0 {
			l.queue = nil
		}
		l.mu.Unlock()

		root, err := l.commit(batch)

		l.mu.Lock()
		free := len(batch)
		if err != nil {
			l.failed = problem(ErrWriteFailed, batch[0].index, "records %d to %d: %v", batch[0].index, batch[len(batch)-1].index, err)
			free += len(l.queue)
			l.queue = nil
			close(l.commitCh)
			l.commitCh = make(chan struct{})
		} else {
			l.written, l.wroteRoot = l.front.size, root
		}
		l.mu.Unlock()
		for range free {
			<-l.slots
		}
		switch {
		case err != nil:
		case l.opts.Async:
			select {
			case l.syncWake <- struct{}{}:
			default:
			}
		default:
			t0 := time.Now()
			released = int(l.syncOnce())
			l.lastSync = time.Since(t0)
		}
	}
}

// gather waits until the queue holds want records, or for at most half
// the last fsync's time (and maxGather): the durable Appends an fsync
// released come back with their next records together, and taking the
// batch at the first would split them into a small batch and the rest,
// each paying an fsync.
func (l *Log) gather(want int) {
	want = min(want, l.opts.MaxBatch)
	wait := min(l.lastSync/2, maxGather)
	if wait <= 0 {
		return
	}
	var t *time.Timer
	for {
		l.mu.Lock()
		n := len(l.queue)
		l.mu.Unlock()
		if n >= want {
			break
		}
		if t == nil {
			t = time.NewTimer(wait)
		}
		select {
		case <-l.wake:
			continue
		case <-t.C:
		case <-l.quit:
		}
		break
	}
	if t != nil {
		t.Stop()
	}
}

// commit writes batch, its records and their tree hashes, in one
// transaction, and returns the new root. The frontier moves only when the
// transaction committed.
func (l *Log) commit(batch []pending) (tlog.Hash, error) {
	ctx := context.Background() // a commit is never abandoned half way
	root, err := l.store.write(ctx, &l.front, batch)
	if err != nil {
		return tlog.Hash{}, err
	}
	l.commits.Add(1)
	return root, nil
}

// syncLoop is the background syncer of async mode: each time the writer
// has committed more, it fsyncs once for everything committed so far.
// When stop is closed (the writer has drained) it syncs what is left, in
// either mode, and closes done.
func (l *Log) syncLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-l.syncWake:
			l.syncOnce()
		case <-stop:
			l.syncOnce()
			return
		}
	}
}

// syncOnce makes every written record durable and commits it; it returns
// how many records became committed.
func (l *Log) syncOnce() int64 {
	l.mu.Lock()
	size, root, from, broken := l.written, l.wroteRoot, l.committed, l.syncErr != nil
	l.mu.Unlock()
	if size <= from || broken {
		return 0
	}
	err := l.store.sync()
	l.syncs.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	defer func() {
		close(l.commitCh)
		l.commitCh = make(chan struct{})
	}()
	if err != nil {
		// After a failed fsync the kernel may have dropped the dirty
		// pages: nothing written since the last good fsync can be
		// trusted, so nothing more becomes committed.
		l.syncErr = problem(ErrWriteFailed, from, "records %d to %d: %v", from, size-1, err)
		if l.failed == nil {
			l.failed = l.syncErr
		}
		return 0
	}
	if size <= l.committed {
		return 0 // another fsync got there first
	}
	n := size - l.committed
	l.committed, l.root = size, root
	return n
}
