package evidencelog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// verifyChunk is how many records Verify reads per query.
const verifyChunk = 1000

// maxMismatches bounds the changed records Verify collects to tell a
// reordering from a change.
const maxMismatches = 64

// anchor is a checkpoint Verify checks the log against.
type anchor struct {
	Checkpoint
	what string // "stored checkpoint" or "checkpoint file", for errors
}

// mismatch is a record whose hash is not the leaf hash stored for it.
type mismatch struct {
	index            int64
	computed, stored tlog.Hash
}

// Verify checks the whole log, in one read snapshot: every record is
// re-hashed and the tree recomputed from the records alone, then compared
// with the stored tree hashes, with every checkpoint the log signed (each
// must carry a valid signature by the log's key and the root of the
// recomputed tree at its size) and with the checkpoint file; consistency
// proofs from every stored checkpoint to the latest are checked too.
// progress, when not nil, is called after each chunk of records.
//
// The error is an *Error naming the first problem found: a changed record
// (ErrRecordChanged, its index), a removed one (ErrRecordMissing), two
// records that swapped places (ErrRecordsReordered), a log smaller than a
// checkpoint it issued (ErrRolledBack), a checkpoint the records do not
// give (ErrInconsistent), a checkpoint signed by another key
// (ErrUnknownKey, ErrBadSignature) or stored tree hashes that do not match
// the records (ErrTreeCorrupt).
func (l *Log) Verify(ctx context.Context, progress func(done, total int64)) error {
	// The checkpoint file is written after its records are committed, so
	// reading it before the snapshot starts keeps it within the snapshot.
	file, err := readCheckpointFile(l.dir)
	if err != nil {
		return err
	}
	tx, err := l.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true}) // a snapshot; writers go on
	if err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	defer tx.Rollback()
	anchors, err := l.anchors(ctx, tx, file)
	if err != nil {
		return err
	}
	n, err := leafCount(ctx, tx)
	if err != nil {
		return err
	}
	if err := checkSizes(ctx, tx, n, anchors); err != nil {
		return err
	}
	v := verifier{anchors: anchors}
	if err := v.scan(ctx, sqlSource{tx}, n, progress); err != nil {
		return err
	}
	if err := v.result(); err != nil {
		return err
	}
	return checkConsistency(dbHashes{ctx, tx.StmtContext(ctx, l.hashes)}, anchors)
}

// anchors returns every stored checkpoint, signatures checked, and the
// checkpoint file's, sorted by size.
func (l *Log) anchors(ctx context.Context, tx *sql.Tx, file []byte) ([]anchor, error) {
	rows, err := tx.QueryContext(ctx, `SELECT size, root, note FROM evidence_checkpoint ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read checkpoints: %w", err)
	}
	defer rows.Close()
	out, err := scanAnchors(rows, l.verifier)
	if err != nil {
		return nil, err
	}
	if file != nil {
		c, err := openCheckpoint(file, l.verifier)
		if err != nil {
			return nil, at(err, -1, "checkpoint file")
		}
		out = append(out, anchor{c, "checkpoint file"})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Size < out[j].Size })
	return out, nil
}

// scanAnchors reads the rows (size, root, note) of evidence_checkpoint,
// checking each signature with v, and returns them sorted by size.
func scanAnchors(rows queryRows, v note.Verifier) ([]anchor, error) {
	var out []anchor
	for rows.Next() {
		var (
			size       int64
			root, note []byte
		)
		if err := rows.Scan(&size, &root, &note); err != nil {
			return nil, fmt.Errorf("evidencelog: verify: read checkpoints: %w", err)
		}
		a, err := storedAnchor(size, root, note, v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read checkpoints: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Size < out[j].Size })
	return out, nil
}

// checkSizes compares the number of records with the checkpoints and the
// stored hashes, which all say how many records the log had. Records gone
// while the database still has their checkpoint or tree hashes were
// removed; a database smaller than only the checkpoint file was rolled back.
func checkSizes(ctx context.Context, tx *sql.Tx, n int64, anchors []anchor) error {
	var file *anchor
	for i := range anchors {
		a := &anchors[i]
		switch {
		case a.Size <= n:
		case a.what == "checkpoint file":
			file = a
		default:
			return problem(ErrRecordMissing, n, "the log has %d records, but its %s was signed over %d: %s removed",
				n, a.what, a.Size, recordRange(n, a.Size))
		}
	}
	var extra int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM evidence_hash WHERE id >= ?`, tlog.StoredHashIndex(0, n)).Scan(&extra); err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	if extra > 0 {
		return problem(ErrRecordMissing, n, "the log has %d records, but the tree holds hashes of later records: record %d and after were removed", n, n)
	}
	if file != nil {
		return problem(ErrRolledBack, file.Size, "the log has %d records, but it issued a checkpoint of size %d (checkpoint file): the database was rolled back", n, file.Size)
	}
	return nil
}

func recordRange(from, to int64) string {
	if to-from == 1 {
		return fmt.Sprintf("record %d was", from)
	}
	return fmt.Sprintf("records %d to %d were", from, to-1)
}

// verifier recomputes the tree from the records.
type verifier struct {
	anchors []anchor
	next    int // first anchor not yet reached
	f       frontier
	mism    []mismatch
	nMism   int64
	treeErr error
	rootErr error
}

// verifySource is what Verify reads the records and stored hashes from, in
// one read snapshot: a SQLite or a PostgreSQL transaction.
type verifySource interface {
	// hashRange reads stored hashes [lo, hi); absent ones are nil.
	hashRange(ctx context.Context, lo, hi int64) ([]*tlog.Hash, error)
	// leaves calls fn for each leaf row with index in [start, end), in
	// index order: its index, record and leaf hash column.
	leaves(ctx context.Context, start, end int64, fn func(idx int64, rec, hash []byte) error) error
}

// sqlSource is a verifySource over a SQLite transaction.
type sqlSource struct{ tx *sql.Tx }

func (s sqlSource) hashRange(ctx context.Context, lo, hi int64) ([]*tlog.Hash, error) {
	return readHashRange(ctx, s.tx, lo, hi)
}

func (s sqlSource) leaves(ctx context.Context, start, end int64, fn func(idx int64, rec, hash []byte) error) error {
	rows, err := s.tx.QueryContext(ctx, `SELECT idx, record, hash FROM evidence_leaf WHERE idx >= ? AND idx < ? ORDER BY idx`, start, end)
	if err != nil {
		return fmt.Errorf("evidencelog: verify: read records: %w", err)
	}
	defer rows.Close()
	return scanLeaves(rows, fn)
}

// scanLeaves calls fn with each row (idx, record, hash) of evidence_leaf.
func scanLeaves(rows queryRows, fn func(idx int64, rec, hash []byte) error) error {
	for rows.Next() {
		var (
			idx       int64
			rec, hcol []byte
		)
		if err := rows.Scan(&idx, &rec, &hcol); err != nil {
			return fmt.Errorf("evidencelog: verify: read records: %w", err)
		}
		if err := fn(idx, rec, hcol); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("evidencelog: verify: read records: %w", err)
	}
	return nil
}

func (v *verifier) scan(ctx context.Context, src verifySource, n int64, progress func(done, total int64)) error {
	if err := v.checkAnchors(); err != nil {
		return err
	}
	for start := int64(0); start < n; start += verifyChunk {
		end := min(start+verifyChunk, n)
		if err := v.chunk(ctx, src, start, end); err != nil {
			return err
		}
		if progress != nil {
			progress(end, n)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// chunk verifies records [start, end).
func (v *verifier) chunk(ctx context.Context, src verifySource, start, end int64) error {
	base := tlog.StoredHashIndex(0, start)
	stored, err := src.hashRange(ctx, base, tlog.StoredHashIndex(0, end))
	if err != nil {
		return err
	}
	i := start
	err = src.leaves(ctx, start, end, func(idx int64, rec, hcol []byte) error {
		if idx != i {
			return problem(ErrRecordMissing, i, "record %d was removed (the next record is %d)", i, idx)
		}
		if err := v.leaf(i, rec, hcol, stored[tlog.StoredHashIndex(0, i)-base:]); err != nil {
			return err
		}
		i++
		return nil
	})
	if err != nil {
		return err
	}
	if i != end {
		return problem(ErrRecordMissing, i, "record %d was removed", i)
	}
	return nil
}

// leaf re-hashes record i and extends the recomputed tree; stored starts
// at the record's stored hashes.
func (v *verifier) leaf(i int64, rec, hcol []byte, stored []*tlog.Hash) error {
	h := tlog.RecordHash(rec)
	switch {
	case stored[0] == nil:
		v.setTreeErr(i, "the stored leaf hash of record %d is missing", i)
	case h != *stored[0]:
		v.addMismatch(mismatch{index: i, computed: h, stored: *stored[0]})
	case !bytes.Equal(hcol, h[:]):
		// The tree agrees with the record, the leaf row's own copy does not.
		col, _ := toHash(hcol)
		v.addMismatch(mismatch{index: i, computed: h, stored: col})
	}
	hs, err := v.f.append(h)
	if err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	for k := 1; k < len(hs); k++ {
		if k >= len(stored) || stored[k] == nil {
			v.setTreeErr(i, "a stored tree hash written with record %d is missing", i)
		} else if hs[k] != *stored[k] {
			v.setTreeErr(i, "the stored hash of the subtree of height %d ending at record %d is not the hash of its records", k, i)
		}
	}
	return v.checkAnchors()
}

func (v *verifier) addMismatch(m mismatch) {
	v.nMism++
	if len(v.mism) < maxMismatches {
		v.mism = append(v.mism, m)
	}
}

func (v *verifier) setTreeErr(i int64, format string, args ...any) {
	if v.treeErr == nil {
		v.treeErr = problem(ErrTreeCorrupt, i, format, args...)
	}
}

// checkAnchors compares the recomputed root with the checkpoints of the
// tree's current size.
func (v *verifier) checkAnchors() error {
	if v.next >= len(v.anchors) || v.anchors[v.next].Size != v.f.size {
		return nil
	}
	root, err := v.f.root()
	if err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	for ; v.next < len(v.anchors) && v.anchors[v.next].Size == v.f.size; v.next++ {
		a := v.anchors[v.next]
		if a.Root != root && v.rootErr == nil {
			v.rootErr = problem(ErrInconsistent, a.Size,
				"the records give root %s at size %d, the %s of that size was signed over %s: the log was rewritten after it was signed",
				root, a.Size, a.what, a.Root)
		}
	}
	return nil
}

// result classifies what the scan found, most specific first.
func (v *verifier) result() error {
	if len(v.mism) > 0 {
		return classify(v.mism, v.nMism)
	}
	if v.treeErr != nil {
		return v.treeErr
	}
	return v.rootErr
}

// classify tells records that only swapped places (each one's hash is the
// stored leaf hash of another) from changed ones.
func classify(mism []mismatch, total int64) error {
	storedAt := make(map[tlog.Hash]int64, len(mism))
	for _, m := range mism {
		storedAt[m.stored] = m.index
	}
	if total == int64(len(mism)) {
		moved := true
		for _, m := range mism {
			if at, ok := storedAt[m.computed]; !ok || at == m.index {
				moved = false
				break
			}
		}
		if moved {
			var b strings.Builder
			for i, m := range mism {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "record at %d belongs at %d", m.index, storedAt[m.computed])
			}
			return problem(ErrRecordsReordered, mism[0].index, "%s", b.String())
		}
	}
	for _, m := range mism {
		if at, ok := storedAt[m.computed]; !ok || at == m.index {
			more := ""
			if total > 1 {
				more = fmt.Sprintf(" (%d records differ in all)", total)
			}
			return problem(ErrRecordChanged, m.index, "record %d does not hash to its leaf hash %s%s", m.index, m.stored, more)
		}
	}
	return problem(ErrRecordChanged, mism[0].index, "record %d does not hash to its leaf hash %s (%d records differ in all)",
		mism[0].index, mism[0].stored, total)
}

// checkConsistency checks a consistency proof, built from the stored
// hashes, from every stored checkpoint to the largest one.
func checkConsistency(r tlog.HashReader, anchors []anchor) error {
	if len(anchors) < 2 {
		return nil
	}
	latest := anchors[len(anchors)-1]
	for _, a := range anchors[:len(anchors)-1] {
		if a.Size == 0 {
			continue
		}
		p, err := tlog.ProveTree(latest.Size, a.Size, r)
		if err == nil {
			err = tlog.CheckTree(p, latest.Size, latest.Root, a.Size, a.Root)
		}
		if err != nil {
			return problem(ErrInconsistent, a.Size, "no valid consistency proof from the %s of size %d to the %s of size %d: %v",
				a.what, a.Size, latest.what, latest.Size, err)
		}
	}
	return nil
}

// readHashRange reads stored hashes [lo, hi); absent ones are nil.
func readHashRange(ctx context.Context, tx *sql.Tx, lo, hi int64) ([]*tlog.Hash, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, hash FROM evidence_hash WHERE id >= ? AND id < ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read tree hashes: %w", err)
	}
	defer rows.Close()
	return scanHashRange(rows, lo, hi)
}

// scanHashRange reads rows (id, hash) of the stored tree hashes with ids
// in [lo, hi): a slot stays nil when its hash is not stored.
func scanHashRange(rows queryRows, lo, hi int64) ([]*tlog.Hash, error) {
	out := make([]*tlog.Hash, hi-lo)
	for rows.Next() {
		var (
			id int64
			b  []byte
		)
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("evidencelog: verify: read tree hashes: %w", err)
		}
		if id < lo || id >= hi {
			return nil, problem(ErrTreeCorrupt, -1, "stored hash %d outside the range read", id)
		}
		h, err := toHash(b)
		if err != nil {
			return nil, problem(ErrTreeCorrupt, -1, "stored hash %d: %v", id, err)
		}
		out[id-lo] = &h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read tree hashes: %w", err)
	}
	return out, nil
}

// at re-labels a problem with the index and what it concerns.
func at(err error, index int64, what string) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Problem: e.Problem, Index: index, Detail: what + ": " + e.Detail}
	}
	return fmt.Errorf("evidencelog: %s: %w", what, err)
}

// storedAnchor checks one stored checkpoint row: its note's signature, and
// that the note is for the row's size and root.
func storedAnchor(size int64, root, signed []byte, v note.Verifier) (anchor, error) {
	c, err := openCheckpoint(signed, v)
	if err != nil {
		return anchor{}, at(err, size, fmt.Sprintf("stored checkpoint of size %d", size))
	}
	if c.Size != size || !bytes.Equal(root, c.Root[:]) {
		return anchor{}, problem(ErrInconsistent, size, "stored checkpoint row of size %d holds a note for size %d", size, c.Size)
	}
	return anchor{c, "stored checkpoint"}, nil
}
