package evidencelog

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// Verify checks the whole shared log as Log.Verify checks a SQLite one, in
// one read-only snapshot (REPEATABLE READ; replicas go on appending): every
// record is re-hashed and the tree recomputed from the records alone, then
// compared with the stored tree hashes, with the tree head (its size, root
// and frontier) and with every checkpoint the replicas signed (each must
// carry a valid signature by the log's key and the root of the recomputed
// tree at its size); consistency proofs from every stored checkpoint to the
// latest are checked too. progress, when not nil, is called after each
// chunk of records. It needs no private key: open the log with
// PostgresOptions.ReadOnly.
//
// The error is an *Error naming the first problem found, as Log.Verify's;
// a tree head smaller than a stored checkpoint is ErrRolledBack.
func (p *Postgres) Verify(ctx context.Context, progress func(done, total int64)) error {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var (
		n            int64
		hroot, fbuf  []byte
		leaves, hmax int64
	)
	err = tx.QueryRow(ctx, `SELECT h.size, h.root, h.frontier,
			(SELECT COALESCE(max(idx) + 1, 0) FROM evidence_leaf),
			(SELECT COALESCE(max(id) + 1, 0) FROM evidence_hash)
		FROM evidence_head h`).Scan(&n, &hroot, &fbuf, &leaves, &hmax)
	if err != nil {
		return fmt.Errorf("evidencelog: verify: read tree head: %w", err)
	}
	anchors, err := p.pgAnchors(ctx, tx)
	if err != nil {
		return err
	}
	// Sizes: the head, the records, the stored hashes and the checkpoints
	// must all agree on how many records the log has.
	if len(anchors) > 0 && anchors[len(anchors)-1].Size > n {
		a := anchors[len(anchors)-1]
		return problem(ErrRolledBack, a.Size, "the tree head says %d records, but a checkpoint of size %d was signed: the database was rolled back", n, a.Size)
	}
	if leaves < n {
		return problem(ErrRecordMissing, leaves, "the tree head says %d records, the records end at %d: %s removed", n, leaves, recordRange(leaves, n))
	}
	if leaves > n {
		return problem(ErrTreeCorrupt, n, "the tree head says %d records, but the records go on to %d", n, leaves-1)
	}
	if hmax > tlog.StoredHashIndex(0, n) {
		return problem(ErrTreeCorrupt, n, "the tree head says %d records, but the tree holds hashes of later records", n)
	}
	v := verifier{anchors: anchors}
	if err := v.scan(ctx, pgSource{tx}, n, progress); err != nil {
		return err
	}
	if err := v.result(); err != nil {
		return err
	}
	root, err := v.f.root()
	if err != nil {
		return fmt.Errorf("evidencelog: verify: %w", err)
	}
	if !bytes.Equal(hroot, root[:]) {
		return problem(ErrTreeCorrupt, n, "the tree head's root %x is not the root of the records, %s", hroot, root)
	}
	if !bytes.Equal(fbuf, encodeFrontier(&v.f)) {
		return problem(ErrTreeCorrupt, n, "the tree head's frontier is not that of the records' tree")
	}
	return checkConsistency(pgHashes{ctx, tx}, anchors)
}

// pgAnchors returns every stored checkpoint, signatures checked, sorted by size.
func (p *Postgres) pgAnchors(ctx context.Context, tx pgx.Tx) ([]anchor, error) {
	rows, err := tx.Query(ctx, `SELECT size, root, note FROM evidence_checkpoint ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read checkpoints: %w", err)
	}
	defer rows.Close()
	return scanAnchors(rows, p.verifier)
}

// pgSource is a verifySource over a PostgreSQL transaction.
type pgSource struct{ tx pgx.Tx }

func (s pgSource) hashRange(ctx context.Context, lo, hi int64) ([]*tlog.Hash, error) {
	rows, err := s.tx.Query(ctx, `SELECT id, hash FROM evidence_hash WHERE id >= $1 AND id < $2`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: verify: read tree hashes: %w", err)
	}
	defer rows.Close()
	return scanHashRange(rows, lo, hi)
}

func (s pgSource) leaves(ctx context.Context, start, end int64, fn func(idx int64, rec, hash []byte) error) error {
	rows, err := s.tx.Query(ctx, `SELECT idx, record, hash FROM evidence_leaf WHERE idx >= $1 AND idx < $2 ORDER BY idx`, start, end)
	if err != nil {
		return fmt.Errorf("evidencelog: verify: read records: %w", err)
	}
	defer rows.Close()
	return scanLeaves(rows, fn)
}
