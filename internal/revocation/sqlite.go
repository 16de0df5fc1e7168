package revocation

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provost-dev/provost/internal/sqlitedb"
)

// schema is the revocation schema's migration steps; append, never edit.
// Times are Unix microseconds (the precision PostgreSQL keeps too); NULL
// means unset.
var schema = []string{
	`CREATE TABLE revocation (
		id            TEXT PRIMARY KEY,
		kind          TEXT NOT NULL,
		value         TEXT NOT NULL,
		issuer        TEXT NOT NULL DEFAULT '',
		issued_before INTEGER,
		reason        TEXT NOT NULL DEFAULT '',
		created_at    INTEGER NOT NULL,
		expires_at    INTEGER
	) STRICT`,
	`CREATE INDEX revocation_created ON revocation (created_at, id)`,
	`CREATE INDEX revocation_expires ON revocation (expires_at) WHERE expires_at IS NOT NULL`,
	`CREATE TABLE revocation_seal (
		id     INTEGER PRIMARY KEY CHECK (id = 1),
		digest BLOB NOT NULL,
		count  INTEGER NOT NULL
	) STRICT`,
}

const selectAll = `SELECT id, kind, value, issuer, issued_before, reason, created_at, expires_at FROM revocation`

// purgeInterval is how often Add also deletes expired revocations.
const purgeInterval = time.Minute

// SQLite is a Store in an SQLite database, for the embedded single-replica
// deployment. Match is answered from an in-memory index loaded at open, so
// only one SQLite store (one process) may write a given database file: a
// revocation written by another process is not seen until reopen.
type SQLite struct {
	db      *sql.DB
	now     func() time.Time
	key     []byte // of the seal's row MACs
	adopted bool

	writeMu   sync.Mutex // serialises Add, Remove and purges: database then index
	lastPurge time.Time  // guarded by writeMu
	seal      seal       // guarded by writeMu: the seal of the rows written
	broken    error      // guarded by writeMu: set by Verify on ErrTampered
	// writeErr is the failure of the last write (a full disk, say), nil
	// once a write or Probe succeeded after it: WriteErr.
	writeErr atomic.Pointer[error]

	live liveIndex

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// SQLiteOption tunes OpenSQLite.
type SQLiteOption func(*SQLite)

// WithSealKey keys the MACs of the database's seal (see Verify). Provost
// derives it from the server secret, so a row cannot be added, dropped or
// edited outside Provost without the seal showing it. Without it the seal
// still catches corruption. Neither catches an older copy of the whole file
// (its seal is as valid as it was).
func WithSealKey(key []byte) SQLiteOption {
	return func(s *SQLite) { s.key = key }
}

// OpenSQLite opens (creating if needed) the revocation store in the SQLite
// database at path, migrates its schema, checks the rows against the seal
// (ErrTampered when they differ), deletes expired revocations and loads the
// rest into memory. now is the clock; time.Now when nil.
func OpenSQLite(ctx context.Context, path string, now func() time.Time, opts ...SQLiteOption) (*SQLite, error) {
	if now == nil {
		now = time.Now
	}
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	s := &SQLite{db: db, now: now, live: newLiveIndex()}
	for _, o := range opts {
		o(s)
	}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *SQLite) init(ctx context.Context) error {
	before, err := sqlitedb.Version(ctx, s.db, "revocation")
	if err != nil {
		return fmt.Errorf("revocation: %w", err)
	}
	if err := sqlitedb.Migrate(ctx, s.db, "revocation", schema); err != nil {
		return fmt.Errorf("revocation: %w", err)
	}
	all, err := s.query(ctx, selectAll)
	if err != nil {
		return fmt.Errorf("revocation: load: %w", err)
	}
	if s.adopted, err = s.checkSeal(ctx, all, before < sealedSince); err != nil {
		return err
	}
	s.live.replace(all)
	if _, err := s.purge(ctx); err != nil {
		return err
	}
	return nil
}

// Adopted reports whether OpenSQLite found revocations but no seal (a
// database from before seals, or one replaced by a file without one) and
// sealed them as they were.
func (s *SQLite) Adopted() bool { return s.adopted }

// write runs f and stores next as the seal in one transaction; the
// in-memory seal follows only once it commits.
func (s *SQLite) write(ctx context.Context, next seal, f func(*sql.Tx) error) (err error) {
	if s.broken != nil {
		return s.broken
	}
	defer func() { s.noteWrite(ctx, err) }()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	if err := writeSeal(ctx, tx, next); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.seal = next
	return nil
}

// WriteErr is the error of the last write to the database that failed
// (the disk full, the file system read-only), or nil: none failed, or a
// write or Probe succeeded since. While it is set no revocation can be
// added or removed, though Match still answers from memory.
func (s *SQLite) WriteErr() error {
	if p := s.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// noteWrite keeps the outcome of a write for WriteErr: a refusal for
// tampering, or a write its caller gave up on, says nothing of the disk.
func (s *SQLite) noteWrite(ctx context.Context, err error) {
	switch {
	case err == nil:
		s.writeErr.Store(nil)
	case errors.Is(err, ErrTampered) || ctx.Err() != nil:
	default:
		s.writeErr.Store(&err)
	}
}

// Probe commits a write that changes no revocation (a row added and
// deleted in one transaction, which still writes its pages), to learn
// whether the database takes writes again; a success clears WriteErr.
func (s *SQLite) Probe(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.write(ctx, s.seal, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocation (id, kind, value, created_at) VALUES ('probe', 'probe', '', 0)`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM revocation WHERE id = 'probe'`)
		return err
	})
	if err != nil {
		return fmt.Errorf("revocation: probe write: %w", err)
	}
	return nil
}

// Close closes the database. It is safe to call more than once.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Add implements Store.
func (s *SQLite) Add(ctx context.Context, r Revocation) (Revocation, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.now()
	id, err := newID()
	if err != nil {
		return Revocation{}, err
	}
	r.ID = id
	r.CreatedAt = micro(now)
	r.IssuedBefore = micro(r.IssuedBefore)
	r.ExpiresAt = micro(r.ExpiresAt)
	if err := r.Validate(); err != nil {
		return Revocation{}, fmt.Errorf("revocation: %w", err)
	}
	if now.Sub(s.lastPurge) >= purgeInterval {
		if _, err := s.purgeLocked(ctx, now); err != nil {
			return Revocation{}, err
		}
	}
	next := s.seal
	next.toggle(rowMAC(s.key, r), true)
	err = s.write(ctx, next, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO revocation
			(id, kind, value, issuer, issued_before, reason, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, string(r.Kind), r.Value, r.Issuer, toDB(r.IssuedBefore), r.Reason, toDB(r.CreatedAt), toDB(r.ExpiresAt))
		return err
	})
	if err != nil {
		return Revocation{}, fmt.Errorf("revocation: add: %w", err)
	}
	s.live.add(r)
	return r, nil
}

// Remove implements Store.
func (s *SQLite) Remove(ctx context.Context, id string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	rows, err := s.query(ctx, selectAll+` WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("revocation: remove %s: %w", id, err)
	}
	if len(rows) == 0 {
		return fmt.Errorf("revocation: remove %q: %w", id, ErrNotFound)
	}
	next := s.seal
	next.toggle(rowMAC(s.key, rows[0]), false)
	err = s.write(ctx, next, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM revocation WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revocation: remove %s: %w", id, err)
	}
	s.live.remove(id)
	return nil
}

// List implements Store. It reads the database, not the index.
func (s *SQLite) List(ctx context.Context) ([]Revocation, error) {
	list, err := s.query(ctx, `SELECT id, kind, value, issuer, issued_before, reason, created_at, expires_at
		FROM revocation WHERE expires_at IS NULL OR expires_at > ?
		ORDER BY created_at, id`, toDB(s.now()))
	if err != nil {
		return nil, fmt.Errorf("revocation: list: %w", err)
	}
	return list, nil
}

// Match implements Store. It does no I/O and allocates only for a match.
func (s *SQLite) Match(_ context.Context, q Query) (*Revocation, error) {
	return s.live.match(q, s.now()), nil
}

// PurgeExpired deletes expired revocations now, and returns how many. Add also
// purges, at most once a minute.
func (s *SQLite) PurgeExpired(ctx context.Context) (int, error) {
	return s.purge(ctx)
}

func (s *SQLite) purge(ctx context.Context) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.purgeLocked(ctx, s.now())
}

func (s *SQLite) purgeLocked(ctx context.Context, now time.Time) (int, error) {
	expired, err := s.query(ctx, selectAll+` WHERE expires_at IS NOT NULL AND expires_at <= ?`, toDB(now))
	if err != nil {
		return 0, fmt.Errorf("revocation: purge expired: %w", err)
	}
	n := len(expired)
	if n > 0 {
		next := s.seal
		for _, r := range expired {
			next.toggle(rowMAC(s.key, r), false)
		}
		err = s.write(ctx, next, func(tx *sql.Tx) error {
			for chunk := range slices.Chunk(expired, 500) {
				ids := make([]any, len(chunk))
				for i, r := range chunk {
					ids[i] = r.ID
				}
				marks := strings.Repeat(",?", len(chunk))[1:]
				if _, err := tx.ExecContext(ctx, `DELETE FROM revocation WHERE id IN (`+marks+`)`, ids...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("revocation: purge expired: %w", err)
		}
	}
	s.live.dropExpired(now)
	s.lastPurge = now
	return int(n), nil
}

func (s *SQLite) query(ctx context.Context, q string, args ...any) ([]Revocation, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []Revocation
	for rows.Next() {
		var (
			r                     Revocation
			kind                  string
			issuedBefore, expires sql.NullInt64
			created               int64
		)
		if err := rows.Scan(&r.ID, &kind, &r.Value, &r.Issuer, &issuedBefore, &r.Reason, &created, &expires); err != nil {
			return nil, err
		}
		r.Kind = Kind(kind)
		r.IssuedBefore = fromDB(issuedBefore)
		r.CreatedAt = time.UnixMicro(created).UTC()
		r.ExpiresAt = fromDB(expires)
		list = append(list, r)
	}
	return list, rows.Err()
}

func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("revocation: generate id: %w", err)
	}
	return "rev_" + hex.EncodeToString(b[:]), nil
}

// micro truncates t to the microseconds the database keeps, in UTC; the zero
// time stays zero.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

func toDB(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromDB(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}
