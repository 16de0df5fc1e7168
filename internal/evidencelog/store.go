package evidencelog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// schema is the evidence log's migration steps; append, never edit.
//
// evidence_leaf holds the records; evidence_hash the hashes tlog stores
// (tlog.StoredHashes), keyed by tlog.StoredHashIndex; a record and its
// hashes are written in the same transaction. evidence_checkpoint keeps
// every checkpoint the log signed, so Verify can check the log against
// each. evidence_meta pins the log's origin and verifier key.
var schema = []string{
	`CREATE TABLE evidence_leaf (
		idx    INTEGER PRIMARY KEY,
		record BLOB NOT NULL,
		hash   BLOB NOT NULL
	) STRICT`,
	`CREATE TABLE evidence_hash (
		id   INTEGER PRIMARY KEY,
		hash BLOB NOT NULL
	) STRICT`,
	`CREATE TABLE evidence_checkpoint (
		size       INTEGER PRIMARY KEY,
		root       BLOB NOT NULL,
		note       BLOB NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT`,
	`CREATE TABLE evidence_meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) STRICT`,
}

// schemaName is the name sqlitedb.Migrate records the schema version under.
const schemaName = "evidencelog"

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readHashesSQL reads the stored hashes whose ids are in a JSON array: one
// statement, prepared once, for any number of ids.
const readHashesSQL = `SELECT id, hash FROM evidence_hash WHERE id IN (SELECT value FROM json_each(?))`

// dbHashes is a tlog.HashReader over the evidence_hash table; stmt is
// readHashesSQL prepared on the database or a transaction.
type dbHashes struct {
	ctx  context.Context
	stmt *sql.Stmt
}

func (r dbHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	ids := make([]byte, 0, 1+len(indexes)*8)
	ids = append(ids, '[')
	for i, x := range indexes {
		if i > 0 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, x, 10)
	}
	ids = append(ids, ']')
	rows, err := r.stmt.QueryContext(r.ctx, string(ids))
	if err != nil {
		return nil, fmt.Errorf("evidencelog: read tree hashes: %w", err)
	}
	defer rows.Close()
	return scanHashes(rows, indexes)
}

func toHash(b []byte) (tlog.Hash, error) {
	var h tlog.Hash
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("hash is %d bytes, want %d", len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

// leafCount is the size the leaf table implies: one past the highest index.
func leafCount(ctx context.Context, q querier) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM evidence_leaf`).Scan(&n); err != nil {
		return 0, fmt.Errorf("evidencelog: read size: %w", err)
	}
	return n, nil
}

// storedCheckpoint is a row of evidence_checkpoint.
type storedCheckpoint struct {
	size int64
	root tlog.Hash
	note []byte
}

// latestCheckpoint returns the largest checkpoint in the table; ok is false when there is none.
func latestCheckpoint(ctx context.Context, q querier) (c storedCheckpoint, ok bool, err error) {
	var root []byte
	err = q.QueryRowContext(ctx, `SELECT size, root, note FROM evidence_checkpoint ORDER BY size DESC LIMIT 1`).
		Scan(&c.size, &root, &c.note)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("evidencelog: read latest checkpoint: %w", err)
	}
	if c.root, err = toHash(root); err != nil {
		return c, false, problem(ErrMalformedCheckpoint, c.size, "stored checkpoint of size %d: %v", c.size, err)
	}
	return c, true, nil
}

// readMeta returns the value of key in evidence_meta, "" when unset.
func readMeta(ctx context.Context, q querier, key string) (string, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM evidence_meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("evidencelog: read %s: %w", key, err)
	}
	return v, nil
}

// scanHashes reads rows of (id, hash) and returns the hashes of indexes in
// their order; a missing or malformed one is ErrTreeCorrupt.
func scanHashes(rows queryRows, indexes []int64) ([]tlog.Hash, error) {
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var (
			id int64
			b  []byte
		)
		if err := rows.Scan(&id, &b); err != nil {
			return nil, fmt.Errorf("evidencelog: read tree hashes: %w", err)
		}
		h, err := toHash(b)
		if err != nil {
			return nil, problem(ErrTreeCorrupt, -1, "stored hash %d: %v", id, err)
		}
		found[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("evidencelog: read tree hashes: %w", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, problem(ErrTreeCorrupt, -1, "stored hash %d is missing", x)
		}
		out[i] = h
	}
	return out, nil
}
