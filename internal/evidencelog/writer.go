package evidencelog

import (
	"bytes"
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
// until it is reopened.
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
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	if l.opts.Async {
		return e, nil
	}
	if err := l.waitCommitted(ctx, e.Index+1); err != nil {
		return Entry{}, fmt.Errorf("evidencelog: append of record %d: %w", e.Index, err)
	}
	return e, nil
}

// Flush waits until every record appended before the call is committed,
// and returns the write error if a commit failed.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	target := l.next
	l.mu.Unlock()
	return l.waitCommitted(ctx, target)
}

// waitCommitted waits until the log holds at least n committed records.
func (l *Log) waitCommitted(ctx context.Context, n int64) error {
	for {
		l.mu.Lock()
		committed, failed, ch := l.committed, l.failed, l.commitCh
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

// run is the single writer: it commits the queue in batches until Close.
func (l *Log) run() {
	defer close(l.done)
	for {
		select {
		case <-l.wake:
		case <-l.quit:
			l.drain()
			return
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

// drain commits the queue, at most MaxBatch records per transaction.
func (l *Log) drain() {
	for {
		l.mu.Lock()
		n := min(len(l.queue), l.opts.MaxBatch)
		if n == 0 || l.failed != nil {
			l.mu.Unlock()
			return
		}
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		if len(l.queue) == 0 {
			l.queue = nil
		}
		l.mu.Unlock()

		size, root, err := l.commit(batch)

		l.mu.Lock()
		released := len(batch)
		if err != nil {
			l.failed = problem(ErrWriteFailed, batch[0].index, "records %d to %d: %v", batch[0].index, batch[len(batch)-1].index, err)
			released += len(l.queue)
			l.queue = nil
		} else {
			l.committed, l.root = size, root
		}
		close(l.commitCh)
		l.commitCh = make(chan struct{})
		l.mu.Unlock()
		for range released {
			<-l.slots
		}
	}
}

// commit writes batch, its records and their tree hashes, in one
// transaction, and returns the new size and root. The frontier moves only
// when the transaction committed.
func (l *Log) commit(batch []pending) (int64, tlog.Hash, error) {
	ctx := context.Background() // a commit is never abandoned half way
	f := l.front
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	defer tx.Rollback()
	leafStmt, err := tx.PrepareContext(ctx, `INSERT INTO evidence_leaf (idx, record, hash) VALUES (?, ?, ?)`)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	defer leafStmt.Close()
	hashStmt, err := tx.PrepareContext(ctx, `INSERT INTO evidence_hash (id, hash) VALUES (?, ?)`)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	defer hashStmt.Close()
	for _, p := range batch {
		if p.index != f.size {
			return 0, tlog.Hash{}, fmt.Errorf("record %d queued at tree size %d", p.index, f.size)
		}
		hs, err := f.append(p.hash)
		if err != nil {
			return 0, tlog.Hash{}, err
		}
		if _, err := leafStmt.ExecContext(ctx, p.index, p.record, p.hash[:]); err != nil {
			return 0, tlog.Hash{}, err
		}
		id := tlog.StoredHashIndex(0, p.index)
		for i, h := range hs {
			if _, err := hashStmt.ExecContext(ctx, id+int64(i), h[:]); err != nil {
				return 0, tlog.Hash{}, err
			}
		}
	}
	root, err := f.root()
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	if err := tx.Commit(); err != nil {
		return 0, tlog.Hash{}, err
	}
	l.commits.Add(1)
	l.front = f
	return f.size, root, nil
}
