package evidencelog

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// batchStore is where the log's writer puts batches of records.
type batchStore interface {
	// write commits batch, whose records are numbered on from f.size,
	// and the tree hashes they add, all or nothing, without waiting for
	// the disk; it moves f only when they are committed, and returns the
	// new tree's root.
	write(ctx context.Context, f *frontier, batch []pending) (tlog.Hash, error)
	// sync makes everything write committed before the call durable.
	sync() error
	// close releases the store; the writer has stopped.
	close()
}

// stmtSizes is how many multi-row INSERT statements of each table the
// writer prepares: statement k inserts 1<<k rows, so the longest inserts
// 1<<(stmtSizes-1) = 1024 rows. SQLite allows 32766 parameters per
// statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32); 1024 rows of three is
// far below it, and longer statements save nothing measurable.
const stmtSizes = 11

// sqliteStore writes batches of records and their tree hashes into the
// log's SQLite database on one dedicated connection, with multi-row
// INSERT statements prepared once (one per power-of-two row count, made on
// first use) and reused for every batch. The connection commits with
// synchronous=NORMAL, so a commit writes the WAL without an fsync; sync
// fsyncs the WAL (walSyncer). Only the log's writer goroutine calls write.
type sqliteStore struct {
	conn  *sql.Conn
	begin *sql.Stmt
	end   *sql.Stmt
	leaf  [stmtSizes]*sql.Stmt // leaf[k]: 1<<k rows of (idx, record, hash)
	hash  [stmtSizes]*sql.Stmt // hash[k]: 1<<k rows of (id, hash)
	args  []any                // reused argument buffer
	hs    []tlog.Hash          // reused tree-hash buffer
	wal   walSyncer
}

// openSQLiteStore opens the store of the database at path (db). It first
// syncs the WAL: what a killed process committed and never synced is in
// the page cache, and is about to count as committed.
func openSQLiteStore(ctx context.Context, db *sql.DB, path string) (*sqliteStore, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("evidencelog: writer connection: %w", err)
	}
	s := &sqliteStore{conn: conn, wal: walSyncer{path: path}}
	// No fsync at commit: sync does it. SQLite still checkpoints the WAL
	// into the database file every 1000 pages (wal_autocheckpoint),
	// syncing both files first; copying it on another connection, beside
	// the writer, measured no faster.
	if _, err = conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err == nil {
		s.begin, err = conn.PrepareContext(ctx, `BEGIN IMMEDIATE`)
	}
	if err == nil {
		s.end, err = conn.PrepareContext(ctx, `COMMIT`)
	}
	if err == nil {
		err = s.wal.sync()
	}
	if err != nil {
		s.close()
		return nil, fmt.Errorf("evidencelog: open the writer: %w", err)
	}
	return s, nil
}

func (s *sqliteStore) close() {
	for _, st := range append(append([]*sql.Stmt{s.begin, s.end}, s.leaf[:]...), s.hash[:]...) {
		if st != nil {
			st.Close()
		}
	}
	s.conn.Close()
	s.wal.close()
}

func (s *sqliteStore) sync() error { return s.wal.sync() }

// probe commits a write that adds no record, and syncs it: the time of the
// probe in evidence_meta (a value written again unchanged would write no
// page). The log's writer calls it after a failed commit to learn whether
// the database takes writes again.
func (s *sqliteStore) probe(ctx context.Context) error {
	if _, err := s.begin.ExecContext(ctx); err != nil {
		return err
	}
	_, err := s.conn.ExecContext(ctx, `INSERT INTO evidence_meta (key, value) VALUES ('write_probe', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, time.Now().UTC().Format(time.RFC3339Nano))
	if err == nil {
		_, err = s.end.ExecContext(ctx)
	}
	if err != nil {
		s.conn.ExecContext(ctx, `ROLLBACK`)
		return err
	}
	return s.wal.sync()
}

// multiInsert is INSERT INTO table (cols) VALUES (?, ...), ... with rows rows.
func multiInsert(table, cols string, ncols, rows int) string {
	row := "(?" + strings.Repeat(", ?", ncols-1) + ")"
	var b strings.Builder
	b.Grow(len(table) + len(cols) + 30 + rows*(len(row)+2))
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// stmt returns the prepared statement of 1<<k rows in set, preparing it on first use.
func (s *sqliteStore) stmt(ctx context.Context, set []*sql.Stmt, k int, table, cols string, ncols int) (*sql.Stmt, error) {
	if set[k] == nil {
		st, err := s.conn.PrepareContext(ctx, multiInsert(table, cols, ncols, 1<<k))
		if err != nil {
			return nil, err
		}
		set[k] = st
	}
	return set[k], nil
}

// insertRows inserts n rows of ncols columns, whose arguments fill(i, args)
// appends for row i, with as few statements as the power-of-two sizes allow.
func (s *sqliteStore) insertRows(ctx context.Context, set []*sql.Stmt, table, cols string, ncols, n int, fill func(i int, args []any) []any) error {
	for done := 0; done < n; {
		k := min(bits.Len(uint(n-done))-1, len(set)-1)
		rows := 1 << k
		st, err := s.stmt(ctx, set, k, table, cols, ncols)
		if err != nil {
			return err
		}
		args := s.args[:0]
		for i := done; i < done+rows; i++ {
			args = fill(i, args)
		}
		s.args = args
		_, err = st.ExecContext(ctx, args...)
		clear(args)
		if err != nil {
			return err
		}
		done += rows
	}
	return nil
}

// write inserts batch and its tree hashes in one transaction. The hashes
// are computed before the transaction begins.
func (s *sqliteStore) write(ctx context.Context, f *frontier, batch []pending) (tlog.Hash, error) {
	next := *f
	hs, root, err := treeHashes(&next, batch, s.hs[:0])
	s.hs = hs
	if err != nil {
		return tlog.Hash{}, err
	}
	first := tlog.StoredHashIndex(0, batch[0].index)
	if _, err := s.begin.ExecContext(ctx); err != nil {
		return tlog.Hash{}, err
	}
	err = s.insertRows(ctx, s.leaf[:], "evidence_leaf", "idx, record, hash", 3, len(batch), func(i int, args []any) []any {
		p := &batch[i]
		return append(args, p.index, p.record, p.hash[:])
	})
	if err == nil {
		err = s.insertRows(ctx, s.hash[:], "evidence_hash", "id, hash", 2, len(hs), func(i int, args []any) []any {
			return append(args, first+int64(i), hs[i][:])
		})
	}
	if err == nil {
		_, err = s.end.ExecContext(ctx)
	}
	if err != nil {
		// Leave no transaction open; the rollback's own error adds nothing.
		s.conn.ExecContext(ctx, `ROLLBACK`)
		return tlog.Hash{}, err
	}
	*f = next
	return root, nil
}

// treeHashes appends to hs the stored hashes that batch adds to the tree
// whose frontier is f, moving f, and returns them and the new tree's root.
// The hashes of consecutive records are consecutive stored hashes: they
// start at tlog.StoredHashIndex(0, batch[0].index).
func treeHashes(f *frontier, batch []pending, hs []tlog.Hash) ([]tlog.Hash, tlog.Hash, error) {
	start := len(hs)
	for _, p := range batch {
		if p.index != f.size {
			return hs, tlog.Hash{}, fmt.Errorf("record %d queued at tree size %d", p.index, f.size)
		}
		h, err := f.append(p.hash)
		if err != nil {
			return hs, tlog.Hash{}, err
		}
		hs = append(hs, h...)
	}
	if want := tlog.StoredHashIndex(0, f.size) - tlog.StoredHashIndex(0, batch[0].index); want != int64(len(hs)-start) {
		return hs, tlog.Hash{}, fmt.Errorf("%d tree hashes for records %d to %d, want %d", len(hs)-start, batch[0].index, f.size-1, want)
	}
	root, err := f.root()
	return hs, root, err
}
