package trail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// File is the index's file name in the data directory.
const File = "trail.db"

// BatchSize is how many records Sync reads and indexes per transaction
// (the evidence log's bound on one read).
const BatchSize = 1000

// ErrStale is returned by Sync when the index does not describe the log
// it is asked to follow: the log is shorter than the index, or the last
// record indexed is not the record the log holds at that index.
var ErrStale = errors.New("trail: the index does not match the evidence log")

// Source is what Sync reads: an evidence log (*evidencelog.Log).
type Source interface {
	Size() int64
	Entries(ctx context.Context, start, end int64) ([][]byte, error)
}

// Index is the investigation index. It is safe for concurrent use.
type Index struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS trail_state (
	id INTEGER PRIMARY KEY CHECK (id = 0),
	next INTEGER NOT NULL,
	last_leaf BLOB,
	analyzed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS trail_record (
	idx INTEGER PRIMARY KEY,
	time INTEGER NOT NULL,
	fingerprint TEXT NOT NULL,
	subject TEXT NOT NULL,
	issuer TEXT NOT NULL,
	workload TEXT NOT NULL,
	client TEXT NOT NULL,
	client_bin BLOB,
	origin TEXT NOT NULL,
	binding TEXT NOT NULL,
	decision TEXT NOT NULL,
	verdict TEXT NOT NULL,
	provenance TEXT NOT NULL,
	method TEXT NOT NULL,
	path TEXT NOT NULL,
	reasons TEXT NOT NULL,
	record BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS trail_by_fp ON trail_record (fingerprint, time);
CREATE INDEX IF NOT EXISTS trail_by_workload ON trail_record (workload, time);
CREATE INDEX IF NOT EXISTS trail_by_binding ON trail_record (binding, time);
CREATE INDEX IF NOT EXISTS trail_by_decision ON trail_record (decision, time);
CREATE INDEX IF NOT EXISTS trail_by_time ON trail_record (time);
CREATE INDEX IF NOT EXISTS trail_by_client ON trail_record (client_bin);
CREATE TABLE IF NOT EXISTS trail_reason (
	code TEXT NOT NULL,
	idx INTEGER NOT NULL,
	PRIMARY KEY (code, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trail_tag (
	framework TEXT NOT NULL,
	tag TEXT NOT NULL,
	idx INTEGER NOT NULL,
	name TEXT NOT NULL,
	PRIMARY KEY (framework, tag, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trail_tag_by_idx ON trail_tag (idx);
INSERT OR IGNORE INTO trail_state (id, next) VALUES (0, 0);
`

// Open opens (creating if needed) the index database at path.
func Open(ctx context.Context, path string) (*Index, error) {
	db, err := sqlitedb.OpenWith(ctx, path, sqlitedb.Relaxed)
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("trail: create the index in %s: %w", path, err)
	}
	return &Index{db: db}, nil
}

// Close closes the database.
func (x *Index) Close() error { return x.db.Close() }

// Next is the index of the first record not yet indexed: the number of
// log records the index has consumed.
func (x *Index) Next(ctx context.Context) (int64, error) {
	var next int64
	if err := x.db.QueryRowContext(ctx, `SELECT next FROM trail_state WHERE id = 0`).Scan(&next); err != nil {
		return 0, fmt.Errorf("trail: read the index state: %w", err)
	}
	return next, nil
}

// SyncResult says what one Sync did.
type SyncResult struct {
	Indexed int64 // records added to the index
	Skipped int64 // log entries that are not valid evidence records (not indexed)
	Size    int64 // the log size the index now covers
}

// Sync indexes the records of log from the index's Next up to log.Size(),
// BatchSize records per transaction. It returns ErrStale, indexing
// nothing, when the index does not match the log.
func Sync(ctx context.Context, log Source, x *Index) (SyncResult, error) {
	return SyncProgress(ctx, log, x, nil)
}

// SyncProgress is Sync, calling progress (when not nil) after each batch
// with the log entries read so far and the number it has to read.
func SyncProgress(ctx context.Context, log Source, x *Index, progress func(done, total int64)) (SyncResult, error) {
	next, err := x.Next(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	size := log.Size()
	if err := x.checkTail(ctx, log, next, size); err != nil {
		return SyncResult{}, err
	}
	res := SyncResult{Size: next}
	start := next
	for next < size {
		batch, err := log.Entries(ctx, next, min(next+BatchSize, size))
		if err != nil {
			return res, fmt.Errorf("trail: read the log at %d: %w", next, err)
		}
		if len(batch) == 0 {
			return res, fmt.Errorf("trail: the log returned no records at %d of %d", next, size)
		}
		n, err := x.Add(ctx, next, batch)
		if err != nil {
			return res, err
		}
		res.Indexed += n
		res.Skipped += int64(len(batch)) - n
		next += int64(len(batch))
		res.Size = next
		if progress != nil {
			progress(next-start, size-start)
		}
	}
	if res.Indexed > 0 {
		return res, x.Optimize(ctx)
	}
	return res, nil
}

// Optimize refreshes the query planner's statistics (a sampled ANALYZE)
// when the index has at least doubled since they were last gathered, so
// queries start from the most selective index as the log grows. Sync
// calls it.
func (x *Index) Optimize(ctx context.Context) error {
	var next, analyzed int64
	if err := x.db.QueryRowContext(ctx, `SELECT next, analyzed FROM trail_state WHERE id = 0`).Scan(&next, &analyzed); err != nil {
		return fmt.Errorf("trail: read the index state: %w", err)
	}
	if next < 2*analyzed || next < BatchSize {
		return nil
	}
	conn, err := x.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("trail: analyze: %w", err)
	}
	defer conn.Close()
	for _, q := range []string{`PRAGMA analysis_limit = 1000`, `ANALYZE`, `PRAGMA analysis_limit = 0`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("trail: analyze: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, `UPDATE trail_state SET analyzed = ? WHERE id = 0`, next); err != nil {
		return fmt.Errorf("trail: analyze: %w", err)
	}
	return nil
}

func (x *Index) checkTail(ctx context.Context, log Source, next, size int64) error {
	if next == 0 {
		return nil
	}
	if next > size {
		return fmt.Errorf("%w: it covers %d records, the log holds %d", ErrStale, next, size)
	}
	var want []byte
	if err := x.db.QueryRowContext(ctx, `SELECT last_leaf FROM trail_state WHERE id = 0`).Scan(&want); err != nil {
		return fmt.Errorf("trail: read the index state: %w", err)
	}
	got, err := log.Entries(ctx, next-1, next)
	if err != nil || len(got) != 1 {
		return fmt.Errorf("trail: read the log at %d: %w", next-1, err)
	}
	if h := leaf(got[0]); !bytes.Equal(h[:], want) {
		return fmt.Errorf("%w: record %d differs from the one indexed", ErrStale, next-1)
	}
	return nil
}

func leaf(rec []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(rec)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Add indexes records, the log's entries from index start on, in one
// transaction, and moves Next past them. start must be Next. Entries that
// are not valid evidence records are counted out, not indexed; Add returns
// how many were indexed.
func (x *Index) Add(ctx context.Context, start int64, records [][]byte) (int64, error) {
	if len(records) == 0 {
		return 0, nil
	}
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("trail: begin: %w", err)
	}
	defer tx.Rollback()
	var next int64
	if err := tx.QueryRowContext(ctx, `SELECT next FROM trail_state WHERE id = 0`).Scan(&next); err != nil {
		return 0, fmt.Errorf("trail: read the index state: %w", err)
	}
	if next != start {
		return 0, fmt.Errorf("trail: records from %d given, the index is at %d", start, next)
	}
	w, err := prepareWriter(ctx, tx)
	if err != nil {
		return 0, err
	}
	defer w.close()
	var n int64
	for i, raw := range records {
		r, err := evidence.Unmarshal(raw)
		if err != nil {
			continue
		}
		if err := w.add(ctx, start+int64(i), raw, &r); err != nil {
			return 0, err
		}
		n++
	}
	last := leaf(records[len(records)-1])
	if _, err := tx.ExecContext(ctx, `UPDATE trail_state SET next = ?, last_leaf = ? WHERE id = 0`, start+int64(len(records)), last[:]); err != nil {
		return 0, fmt.Errorf("trail: update the index state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("trail: commit: %w", err)
	}
	return n, nil
}

type writer struct {
	rec, reason, tag *sql.Stmt
}

func prepareWriter(ctx context.Context, tx *sql.Tx) (*writer, error) {
	var w writer
	var err error
	if w.rec, err = tx.PrepareContext(ctx, `INSERT INTO trail_record (idx, time, fingerprint, subject, issuer, workload, client, client_bin, origin, binding, decision, verdict, provenance, method, path, reasons, record) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`); err != nil {
		return nil, fmt.Errorf("trail: prepare: %w", err)
	}
	if w.reason, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO trail_reason (code, idx) VALUES (?, ?)`); err != nil {
		w.close()
		return nil, fmt.Errorf("trail: prepare: %w", err)
	}
	if w.tag, err = tx.PrepareContext(ctx, `INSERT OR IGNORE INTO trail_tag (framework, tag, idx, name) VALUES (?, ?, ?, ?)`); err != nil {
		w.close()
		return nil, fmt.Errorf("trail: prepare: %w", err)
	}
	return &w, nil
}

func (w *writer) close() {
	for _, s := range []*sql.Stmt{w.rec, w.reason, w.tag} {
		if s != nil {
			s.Close()
		}
	}
}

func (w *writer) add(ctx context.Context, idx int64, raw []byte, r *evidence.Record) error {
	client := clientOf(r)
	var bin []byte
	if a, err := netip.ParseAddr(client); err == nil {
		b := a.As16() // IPv4 as ::ffff:a.b.c.d, so one range query covers both
		bin = b[:]
	}
	codes := make([]string, 0, len(r.Reasons))
	for _, c := range r.Reasons {
		codes = append(codes, string(c.Code))
	}
	// An event record (an operator's revocation) is indexed under the
	// credential it names, with no decision: queries about uses leave it
	// out (decisionsOnly), the credential's records and timeline hold it.
	_, err := w.rec.ExecContext(ctx, idx, r.Time.UnixNano(), r.Fingerprint(), r.Credential.Issuer.Subject,
		r.Credential.Issuer.Issuer, workloadOf(r), client, bin, r.Signals.Network.Origin, r.Binding,
		string(r.Decision), string(r.Credential.Verdict), string(r.Provenance), r.Request.Method, r.Request.Path,
		strings.Join(codes, ","), raw)
	if err != nil {
		return fmt.Errorf("trail: index record %d: %w", idx, err)
	}
	for _, c := range codes {
		if _, err := w.reason.ExecContext(ctx, c, idx); err != nil {
			return fmt.Errorf("trail: index record %d: %w", idx, err)
		}
	}
	for _, t := range r.Tags {
		if _, err := w.tag.ExecContext(ctx, t.Framework, t.ID, idx, t.Name); err != nil {
			return fmt.Errorf("trail: index record %d: %w", idx, err)
		}
	}
	return nil
}

// clientOf is the request's source address: the client resolved through
// trusted proxies, or the TCP peer when there is none.
func clientOf(r *evidence.Record) string {
	if r.Signals.Network.Client != "" {
		return r.Signals.Network.Client
	}
	return r.Signals.Network.Peer
}

// workloadOf is the workload the request came from: the verified one, or
// the presented SPIFFE ID when it had no problem.
func workloadOf(r *evidence.Record) string {
	if r.Origin.Workload != "" {
		return r.Origin.Workload
	}
	if r.Signals.Workload.Problem.Code == "" {
		return r.Signals.Workload.ID
	}
	return ""
}
