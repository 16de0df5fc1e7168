package origin

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// schema is the origin schema's migration steps; append, never edit. Times
// are Unix microseconds (the precision PostgreSQL keeps too).
var schema = []string{
	`CREATE TABLE origin_seen (
		fingerprint TEXT NOT NULL,
		workload    TEXT NOT NULL,
		network     TEXT NOT NULL,
		proxy_chain TEXT NOT NULL,
		posture     TEXT NOT NULL,
		first_seen  INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL,
		uses        INTEGER NOT NULL,
		allowed     INTEGER NOT NULL,
		PRIMARY KEY (fingerprint, workload, network, proxy_chain, posture)
	) STRICT, WITHOUT ROWID`,
	`CREATE TABLE origin_credential (
		fingerprint TEXT PRIMARY KEY,
		last_seen   INTEGER NOT NULL,
		uses        INTEGER NOT NULL
	) STRICT, WITHOUT ROWID`,
	`CREATE TABLE origin_learned (
		binding     TEXT NOT NULL,
		workload    TEXT NOT NULL,
		network     TEXT NOT NULL,
		proxy_chain TEXT NOT NULL,
		posture     TEXT NOT NULL,
		first_seen  INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL,
		uses        INTEGER NOT NULL,
		allowed     INTEGER NOT NULL,
		PRIMARY KEY (binding, workload, network, proxy_chain, posture)
	) STRICT, WITHOUT ROWID`,
	`CREATE INDEX origin_learned_recent ON origin_learned (binding, last_seen)`,
	// Learned and its eviction walk this index in order, without sorting.
	`DROP INDEX origin_learned_recent`,
	`CREATE INDEX origin_learned_order ON origin_learned
		(binding, last_seen DESC, first_seen DESC, workload, network, proxy_chain, posture)`,
}

// orderSQL is CompareSeen's order.
const orderSQL = ` ORDER BY last_seen DESC, first_seen DESC, workload, network, proxy_chain, posture`

// The statements. Lookup's rows are sorted in Go: no temporary B-tree.
const (
	lookupSQL = `SELECT c.last_seen, c.uses, s.workload, s.network, s.proxy_chain, s.posture,
		s.first_seen, s.last_seen, s.uses, s.allowed
		FROM origin_credential c JOIN origin_seen s ON s.fingerprint = c.fingerprint
		WHERE c.fingerprint = ?`

	upsertSeenSQL = `INSERT INTO origin_seen
		(fingerprint, workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (fingerprint, workload, network, proxy_chain, posture) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + 1,
			allowed = allowed + excluded.allowed
		RETURNING uses`

	evictSeenSQL = `DELETE FROM origin_seen WHERE fingerprint = ?1 AND (workload, network, proxy_chain, posture) IN (
		SELECT workload, network, proxy_chain, posture FROM origin_seen WHERE fingerprint = ?1` +
		orderSQL + ` LIMIT -1 OFFSET ?2)`

	upsertCredentialSQL = `INSERT INTO origin_credential (fingerprint, last_seen, uses) VALUES (?, ?, 1)
		ON CONFLICT (fingerprint) DO UPDATE SET
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + 1`

	upsertLearnedSQL = `INSERT INTO origin_learned
		(binding, workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (binding, workload, network, proxy_chain, posture) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + 1,
			allowed = allowed + excluded.allowed
		RETURNING uses`

	evictLearnedSQL = `DELETE FROM origin_learned WHERE binding = ?1 AND (workload, network, proxy_chain, posture) IN (
		SELECT workload, network, proxy_chain, posture FROM origin_learned WHERE binding = ?1` +
		orderSQL + ` LIMIT -1 OFFSET ?2)`

	learnedSQL = `SELECT workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed
		FROM origin_learned WHERE binding = ? AND last_seen >= ?` + orderSQL
)

// SQLite is a Store in an SQLite database, for the embedded single-replica
// deployment. Every Record is one durable transaction. Recent histories are
// also kept in a small in-memory LRU that Record keeps current, so only one
// SQLite store (one process) may write a given database file: uses recorded
// by another process may not be seen until reopen.
type SQLite struct {
	db     *sql.DB
	lookup *sql.Stmt
	cache  *cache

	writeMu sync.Mutex // serialises Record: commit, then cache update

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the origin store in the SQLite
// database at path and migrates its schema. Origin history feeds
// heuristics, so it is opened with relaxed durability: a power loss may
// drop the last few uses, never corrupt the store, and a request does not
// pay for an fsync.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	db, err := sqlitedb.OpenWith(ctx, path, sqlitedb.Relaxed)
	if err != nil {
		return nil, fmt.Errorf("origin: %w", err)
	}
	if err := sqlitedb.Migrate(ctx, db, "origin", schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("origin: %w", err)
	}
	lookup, err := db.PrepareContext(ctx, lookupSQL)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("origin: prepare lookup: %w", err)
	}
	return &SQLite{db: db, lookup: lookup, cache: newCache(cacheBudget)}, nil
}

// Close closes the database. It is safe to call more than once.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		s.lookup.Close()
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Lookup implements Store: from memory for a recently used credential,
// else with one indexed query.
// CacheStats counts the lookups answered from the in-process cache (hits)
// and from the database (misses) since the store was opened.
func (s *SQLite) CacheStats() (hits, misses uint64) {
	return s.cache.hits.Load(), s.cache.misses.Load()
}

// Lookup returns the history of fp.
func (s *SQLite) Lookup(ctx context.Context, fp string) (History, error) {
	if !fingerprint.Valid(fp) {
		return History{}, fmt.Errorf("%w: lookup: not a fingerprint", ErrInvalid)
	}
	h, ok, gen := s.cache.get(fp)
	if ok {
		return h, nil
	}
	h, err := readHistory(ctx, s.lookup, fp)
	if err != nil {
		return History{}, fmt.Errorf("origin: lookup: %w", err)
	}
	s.cache.fill(fp, h, gen)
	return h, nil
}

func readHistory(ctx context.Context, stmt *sql.Stmt, fp string) (History, error) {
	rows, err := stmt.QueryContext(ctx, fp)
	if err != nil {
		return History{}, err
	}
	defer rows.Close()
	var h History
	for rows.Next() {
		var (
			last, first, seenLast int64
			o                     Seen
		)
		if err := rows.Scan(&last, &h.Uses, &o.Origin.Workload, &o.Origin.Network, &o.Origin.ProxyChain,
			&o.Origin.Posture, &first, &seenLast, &o.Uses, &o.Allowed); err != nil {
			return History{}, err
		}
		h.LastSeen = fromDB(last)
		o.FirstSeen, o.LastSeen = fromDB(first), fromDB(seenLast)
		h.Origins = append(h.Origins, o)
	}
	if err := rows.Err(); err != nil {
		return History{}, err
	}
	slices.SortFunc(h.Origins, CompareSeen)
	return h, nil
}

// Record implements Store in one transaction, and updates the cached
// history with the one it committed.
func (s *SQLite) Record(ctx context.Context, u Use) error {
	if err := u.Validate(); err != nil {
		return fmt.Errorf("origin: record: %w", err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	h, err := s.record(ctx, u)
	if err != nil {
		s.cache.drop(u.Fingerprint) // a failed commit may still have landed
		return fmt.Errorf("origin: record: %w", err)
	}
	s.cache.set(u.Fingerprint, h)
	return nil
}

func (s *SQLite) record(ctx context.Context, u Use) (_ History, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return History{}, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := upsert(ctx, tx, upsertSeenSQL, evictSeenSQL, u.Fingerprint, u, MaxOrigins); err != nil {
		return History{}, err
	}
	if _, err := tx.ExecContext(ctx, upsertCredentialSQL, u.Fingerprint, u.At.UnixMicro()); err != nil {
		return History{}, err
	}
	if u.Learn {
		if err := upsert(ctx, tx, upsertLearnedSQL, evictLearnedSQL, u.Binding, u, MaxLearned); err != nil {
			return History{}, fmt.Errorf("learned: %w", err)
		}
	}
	h, err := readHistory(ctx, tx.StmtContext(ctx, s.lookup), u.Fingerprint)
	if err != nil {
		return History{}, fmt.Errorf("read back: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return History{}, fmt.Errorf("commit: %w", err)
	}
	return h, nil
}

// upsert adds u's origin under owner (a fingerprint or a binding) and, when
// that made a new row, evicts the least recently seen rows beyond max.
func upsert(ctx context.Context, tx *sql.Tx, upsertSQL, evictSQL, owner string, u Use, max int) error {
	var allowed int64
	if u.Allowed {
		allowed = 1
	}
	at := u.At.UnixMicro()
	var uses int64
	if err := tx.QueryRowContext(ctx, upsertSQL, owner, u.Origin.Workload, u.Origin.Network,
		u.Origin.ProxyChain, u.Origin.Posture, at, at, allowed).Scan(&uses); err != nil {
		return err
	}
	if uses != 1 {
		return nil // an existing origin: the count did not grow
	}
	_, err := tx.ExecContext(ctx, evictSQL, owner, max)
	return err
}

// Learned implements Store.
func (s *SQLite) Learned(ctx context.Context, binding string, since time.Time) ([]Seen, error) {
	var sinceDB int64 = -1 << 63
	if !since.IsZero() {
		sinceDB = since.UnixMicro()
	}
	rows, err := s.db.QueryContext(ctx, learnedSQL, binding, sinceDB)
	if err != nil {
		return nil, fmt.Errorf("origin: learned: %w", err)
	}
	defer rows.Close()
	var list []Seen
	for rows.Next() {
		var (
			first, last int64
			o           Seen
		)
		if err := rows.Scan(&o.Origin.Workload, &o.Origin.Network, &o.Origin.ProxyChain, &o.Origin.Posture,
			&first, &last, &o.Uses, &o.Allowed); err != nil {
			return nil, fmt.Errorf("origin: learned: %w", err)
		}
		o.FirstSeen, o.LastSeen = fromDB(first), fromDB(last)
		list = append(list, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("origin: learned: %w", err)
	}
	return list, nil
}

func fromDB(v int64) time.Time { return time.UnixMicro(v).UTC() }
