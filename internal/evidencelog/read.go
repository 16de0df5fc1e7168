package evidencelog

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint returns the log's latest signed checkpoint: a C2SP
// tlog-checkpoint body (origin, tree size, base64 root hash) in a C2SP
// signed note signed with the log's Ed25519 key. It covers the committed
// records only (in Async mode, Flush first to include every Append). A new
// checkpoint is signed and stored only when the log grew since the last
// one and Options.CheckpointInterval has passed since this Log last signed
// one; otherwise the newest stored one is returned. A read-only log
// returns the latest stored one.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	ck, err := l.checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(ck.note), nil
}

// checkpoint returns a checkpoint of at least need records (when the log
// has them): the newest stored one when it is of the committed tree, or
// when it is large enough and the interval has not passed; else a new one,
// signed once the interval has passed (waiting for it, or for ctx, or for
// Close). Callers waiting together share the checkpoint the first signs.
func (l *Log) checkpoint(ctx context.Context, need int64) (storedCheckpoint, error) {
	for {
		l.ckMu.Lock()
		l.mu.Lock()
		size, root := l.committed, l.root
		l.mu.Unlock()
		latest := l.latest
		if latest.note != nil && (latest.size == size || l.opts.ReadOnly) {
			l.ckMu.Unlock()
			return latest, nil
		}
		if l.opts.ReadOnly {
			l.ckMu.Unlock()
			return storedCheckpoint{}, problem(ErrReadOnly, -1, "no checkpoint stored yet")
		}
		wait := l.signWaitLocked()
		if wait <= 0 {
			ck, err := l.signLocked(ctx, size, root)
			l.ckMu.Unlock()
			return ck, err
		}
		l.ckMu.Unlock()
		if latest.note != nil && latest.size >= need {
			return latest, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return storedCheckpoint{}, ctx.Err()
		case <-l.quit:
			t.Stop()
			return storedCheckpoint{}, problem(ErrClosed, -1, "the log was closed while waiting for a checkpoint")
		}
	}
}

// SignWait is how long until the log may sign its next checkpoint: 0 when
// it may now (see Options.CheckpointInterval).
func (l *Log) SignWait() time.Duration {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	return max(l.signWaitLocked(), 0)
}

func (l *Log) signWaitLocked() time.Duration {
	if l.opts.CheckpointInterval <= 0 || l.signedAt.IsZero() {
		return 0
	}
	return l.opts.CheckpointInterval - time.Since(l.signedAt)
}

// signLocked signs, stores and returns the checkpoint of the tree of size
// with root. The caller holds ckMu.
func (l *Log) signLocked(ctx context.Context, size int64, root tlog.Hash) (storedCheckpoint, error) {
	body := formatCheckpoint(Checkpoint{Origin: l.verifier.Name(), Size: size, Root: root})
	signed, err := note.Sign(&note.Note{Text: body}, l.signer)
	if err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: sign checkpoint: %w", err)
	}
	if _, err := l.db.ExecContext(ctx, `INSERT INTO evidence_checkpoint (size, root, note, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING`,
		size, root[:], signed, l.opts.Now().UnixMicro()); err != nil {
		return storedCheckpoint{}, fmt.Errorf("evidencelog: store checkpoint: %w", err)
	}
	if err := writeCheckpointFile(l.dir, signed); err != nil {
		return storedCheckpoint{}, err
	}
	l.latest = storedCheckpoint{size: size, root: root, note: signed}
	l.signedAt = time.Now()
	return l.latest, nil
}

// signAtClose signs a last checkpoint when the log grew since the newest
// one, so that a restart finds every committed record covered. Close calls
// it after the writer stopped.
func (l *Log) signAtClose() error {
	if l.opts.ReadOnly {
		return nil
	}
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	l.mu.Lock()
	size, root, failed := l.committed, l.root, l.failed
	l.mu.Unlock()
	if failed != nil || l.latest.note != nil && l.latest.size == size {
		return nil
	}
	_, err := l.signLocked(context.Background(), size, root)
	return err
}

// VerifyCheckpoint checks a checkpoint obtained elsewhere (from a receipt,
// a client or a witness) against the log: it must be signed by the log's
// key, no larger than the log (else ErrRolledBack), and have the root of
// the log's tree at its size (else ErrInconsistent).
func (l *Log) VerifyCheckpoint(ctx context.Context, signed []byte) error {
	c, err := openCheckpoint(signed, l.verifier)
	if err != nil {
		return err
	}
	return l.checkRoot(ctx, c)
}

func (l *Log) checkRoot(ctx context.Context, c Checkpoint) error {
	size := l.Size()
	if c.Size > size {
		return problem(ErrRolledBack, c.Size, "a checkpoint of size %d was issued, the log has %d records", c.Size, size)
	}
	root, err := tlog.TreeHash(c.Size, l.hashReader(ctx))
	if err != nil {
		return fmt.Errorf("evidencelog: tree hash at size %d: %w", c.Size, err)
	}
	if root != c.Root {
		return problem(ErrInconsistent, c.Size, "the checkpoint of size %d has root %s, the log's tree at that size has %s",
			c.Size, c.Root, root)
	}
	return nil
}

// InclusionProof proves that the record at index is in the tree of the
// given size (an RFC 6962 audit path, leaf to root):
// 0 <= index < size <= Size().
func (l *Log) InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error) {
	if index < 0 || index >= size || size > l.Size() {
		return nil, problem(ErrOutOfRange, index, "inclusion of record %d in a tree of size %d (log size %d)", index, size, l.Size())
	}
	p, err := tlog.ProveRecord(size, index, l.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("evidencelog: inclusion proof: %w", err)
	}
	return p, nil
}

// ConsistencyProof proves that the tree of size old is a prefix of the tree
// of size new (RFC 6962): 0 <= old <= new <= Size(). It is empty when old
// is 0 or old == new.
func (l *Log) ConsistencyProof(ctx context.Context, old, new int64) ([]tlog.Hash, error) {
	if old < 0 || old > new || new > l.Size() {
		return nil, problem(ErrOutOfRange, old, "consistency of size %d with size %d (log size %d)", old, new, l.Size())
	}
	if old == 0 {
		return []tlog.Hash{}, nil
	}
	p, err := tlog.ProveTree(new, old, l.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("evidencelog: consistency proof: %w", err)
	}
	return p, nil
}

// Entries returns the records with indexes in [start, end), at most
// MaxEntries of them and none past Size(): callers check len of the result.
func (l *Log) Entries(ctx context.Context, start, end int64) ([][]byte, error) {
	if start < 0 || end < start {
		return nil, problem(ErrOutOfRange, start, "entries [%d, %d)", start, end)
	}
	end = min(end, start+MaxEntries, l.Size())
	out := make([][]byte, 0, max(end-start, 0))
	if start >= end {
		return out, nil
	}
	rows, err := l.db.QueryContext(ctx, `SELECT idx, record FROM evidence_leaf WHERE idx >= ? AND idx < ? ORDER BY idx`, start, end)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: read entries: %w", err)
	}
	defer rows.Close()
	if out, err = scanEntries(rows, start, out); err != nil {
		return nil, err
	}
	if int64(len(out)) != end-start {
		return nil, problem(ErrRecordMissing, start+int64(len(out)), "record %d is missing", start+int64(len(out)))
	}
	return out, nil
}

// Receipt returns the proof that the record at index is in the log: the
// record, the latest signed checkpoint and the inclusion proof in that
// checkpoint's tree. When no stored checkpoint covers the record yet, a
// new one is signed, at once if Options.CheckpointInterval has passed since
// the last, else once it has (Receipt waits for that, or for ctx).
// VerifyReceipt checks it with nothing but the log's verifier key.
func (l *Log) Receipt(ctx context.Context, index int64) (Receipt, error) {
	if index < 0 || index >= l.Size() {
		return Receipt{}, problem(ErrOutOfRange, index, "no committed record %d (log size %d)", index, l.Size())
	}
	l.ckMu.Lock()
	ck := l.latest
	l.ckMu.Unlock()
	return receipt(ctx, l, index, ck)
}

// receiptLog is what receipt needs of a log (Log and Postgres).
type receiptLog interface {
	checkpoint(ctx context.Context, need int64) (storedCheckpoint, error)
	InclusionProof(ctx context.Context, index, size int64) ([]tlog.Hash, error)
	Entries(ctx context.Context, start, end int64) ([][]byte, error)
}

// receipt builds the receipt of the record at index against ck, the
// newest checkpoint the log has at hand, or against a new one when ck
// does not cover the record.
func receipt(ctx context.Context, l receiptLog, index int64, ck storedCheckpoint) (Receipt, error) {
	if ck.note == nil || ck.size <= index {
		var err error
		if ck, err = l.checkpoint(ctx, index+1); err != nil {
			return Receipt{}, err
		}
	}
	proof, err := l.InclusionProof(ctx, index, ck.size)
	if err != nil {
		return Receipt{}, err
	}
	recs, err := l.Entries(ctx, index, index+1)
	if err != nil {
		return Receipt{}, err
	}
	if len(recs) != 1 {
		return Receipt{}, problem(ErrRecordMissing, index, "record %d is missing", index)
	}
	return Receipt{Record: recs[0], Index: index, Checkpoint: bytes.Clone(ck.note), Proof: proof}, nil
}

// queryRows are the rows of a query (database/sql's and pgx's
// both fit).
type queryRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanEntries appends the records of rows (idx, record), which must run
// on from start without a gap.
func scanEntries(rows queryRows, start int64, out [][]byte) ([][]byte, error) {
	for rows.Next() {
		var (
			idx int64
			rec []byte
		)
		if err := rows.Scan(&idx, &rec); err != nil {
			return nil, fmt.Errorf("evidencelog: read entries: %w", err)
		}
		if want := start + int64(len(out)); idx != want {
			return nil, problem(ErrRecordMissing, want, "record %d is missing", want)
		}
		if rec == nil {
			rec = []byte{}
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidencelog: read entries: %w", err)
	}
	return out, nil
}
