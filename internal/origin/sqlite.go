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
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint, workload, network, proxy_chain, posture) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + excluded.uses,
			allowed = allowed + excluded.allowed
		RETURNING uses`

	evictSeenSQL = `DELETE FROM origin_seen WHERE fingerprint = ?1 AND (workload, network, proxy_chain, posture) IN (
		SELECT workload, network, proxy_chain, posture FROM origin_seen WHERE fingerprint = ?1` +
		orderSQL + ` LIMIT -1 OFFSET ?2)`

	upsertCredentialSQL = `INSERT INTO origin_credential (fingerprint, last_seen, uses) VALUES (?, ?, ?)
		ON CONFLICT (fingerprint) DO UPDATE SET
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + excluded.uses`

	upsertLearnedSQL = `INSERT INTO origin_learned
		(binding, workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (binding, workload, network, proxy_chain, posture) DO UPDATE SET
			first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen),
			uses = uses + excluded.uses,
			allowed = allowed + excluded.allowed
		RETURNING uses`

	evictLearnedSQL = `DELETE FROM origin_learned WHERE binding = ?1 AND (workload, network, proxy_chain, posture) IN (
		SELECT workload, network, proxy_chain, posture FROM origin_learned WHERE binding = ?1` +
		orderSQL + ` LIMIT -1 OFFSET ?2)`

	learnedSQL = `SELECT workload, network, proxy_chain, posture, first_seen, last_seen, uses, allowed
		FROM origin_learned WHERE binding = ? AND last_seen >= ?` + orderSQL
)

// SQLite is a Store in an SQLite database, for the embedded single-replica
// deployment. Every Record is one transaction, and RecordBatch records many
// uses in one (Provost puts a WriteBehind in front, which calls it). Recent
// histories are also kept in a small in-memory LRU that Record keeps
// current, so only one SQLite store (one process) may write a given
// database file: uses recorded by another process may not be seen until
// reopen.
type SQLite struct {
	db    *sql.DB
	cache *cache
	// The statements, prepared once; a transaction runs them through
	// Tx.StmtContext, which reuses the connection's prepared statement.
	lookup, upsertSeen, evictSeen, upsertCredential, upsertLearned, evictLearned *sql.Stmt

	writeMu sync.Mutex // serialises Record: commit, then cache update

	closeOnce sync.Once
	closeErr  error
}

var (
	_ Store         = (*SQLite)(nil)
	_ BatchRecorder = (*SQLite)(nil)
)

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
	s := &SQLite{db: db, cache: newCache(cacheBudget)}
	for _, p := range [...]struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.lookup, lookupSQL},
		{&s.upsertSeen, upsertSeenSQL},
		{&s.evictSeen, evictSeenSQL},
		{&s.upsertCredential, upsertCredentialSQL},
		{&s.upsertLearned, upsertLearnedSQL},
		{&s.evictLearned, evictLearnedSQL},
	} {
		if *p.stmt, err = db.PrepareContext(ctx, p.sql); err != nil {
			s.Close()
			return nil, fmt.Errorf("origin: prepare: %w", err)
		}
	}
	return s, nil
}

// Close closes the database. It is safe to call more than once.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		for _, stmt := range []*sql.Stmt{s.lookup, s.upsertSeen, s.evictSeen, s.upsertCredential, s.upsertLearned, s.evictLearned} {
			if stmt != nil {
				stmt.Close()
			}
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// CacheStats counts the lookups answered from the in-process cache (hits)
// and from the database (misses) since the store was opened.
func (s *SQLite) CacheStats() (hits, misses uint64) {
	return s.cache.hits.Load(), s.cache.misses.Load()
}

// Lookup implements Store: from memory for a recently used credential,
// else with one indexed query.
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
	st := s.txStmts(tx)
	if err := st.apply(ctx, runOf([]Use{u})); err != nil {
		return History{}, err
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

// RecordBatch records uses in order, as that many Records would, in one
// transaction: all of them or, on an error, none. It reads nothing back and
// forgets the cached histories of the credentials it wrote. An invalid use
// gives an error wrapping ErrInvalid and records nothing.
func (s *SQLite) RecordBatch(ctx context.Context, uses []Use) error {
	for i, u := range uses {
		if err := u.Validate(); err != nil {
			return fmt.Errorf("origin: record batch: use %d: %w", i, err)
		}
	}
	if len(uses) == 0 {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.recordBatch(ctx, uses)
	// Committed, or failed in a way that may still have landed: either
	// way the cached histories are stale.
	for _, u := range uses {
		s.cache.drop(u.Fingerprint)
	}
	if err != nil {
		return fmt.Errorf("origin: record batch of %d uses: %w", len(uses), err)
	}
	return nil
}

func (s *SQLite) recordBatch(ctx context.Context, uses []Use) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	st := s.txStmts(tx)
	for len(uses) > 0 {
		r := runOf(uses)
		if err := st.apply(ctx, r); err != nil {
			return err
		}
		uses = uses[r.n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// txStatements runs the store's prepared write statements in one
// transaction, binding each to it on first use.
type txStatements struct {
	tx    *sql.Tx
	s     *SQLite
	bound map[*sql.Stmt]*sql.Stmt
}

func (s *SQLite) txStmts(tx *sql.Tx) *txStatements {
	return &txStatements{tx: tx, s: s, bound: make(map[*sql.Stmt]*sql.Stmt, 5)}
}

// stmt returns the store's statement p bound to the transaction.
func (st *txStatements) stmt(ctx context.Context, p *sql.Stmt) *sql.Stmt {
	b, ok := st.bound[p]
	if !ok {
		b = st.tx.StmtContext(ctx, p)
		st.bound[p] = b
	}
	return b
}

// run is n consecutive uses of one credential from one origin (same
// binding, same learning): writing them as one changes nothing, since
// after the first of them creates or refreshes the row, the others only
// add to its counters and times.
type run struct {
	Use
	n, allowed  int64
	first, last int64 // Unix microseconds
}

// runOf returns the run that starts uses (at least its first use).
func runOf(uses []Use) run {
	u := uses[0]
	r := run{Use: u, first: u.At.UnixMicro(), last: u.At.UnixMicro()}
	for _, v := range uses {
		if v.Fingerprint != u.Fingerprint || v.Origin != u.Origin || v.Binding != u.Binding || v.Learn != u.Learn {
			break
		}
		at := v.At.UnixMicro()
		r.first, r.last = min(r.first, at), max(r.last, at)
		r.n++
		if v.Allowed {
			r.allowed++
		}
	}
	return r
}

// apply writes a run of uses: its origin under the credential, the
// credential's summary, and the origin under the binding when learning.
func (st *txStatements) apply(ctx context.Context, r run) error {
	if err := st.upsert(ctx, st.s.upsertSeen, st.s.evictSeen, r.Fingerprint, r, MaxOrigins); err != nil {
		return err
	}
	if _, err := st.stmt(ctx, st.s.upsertCredential).ExecContext(ctx, r.Fingerprint, r.last, r.n); err != nil {
		return err
	}
	if r.Learn {
		if err := st.upsert(ctx, st.s.upsertLearned, st.s.evictLearned, r.Binding, r, MaxLearned); err != nil {
			return fmt.Errorf("learned: %w", err)
		}
	}
	return nil
}

// upsert adds r's origin under owner (a fingerprint or a binding) and, when
// that made a new row, evicts the least recently seen rows beyond max.
func (st *txStatements) upsert(ctx context.Context, upsertStmt, evictStmt *sql.Stmt, owner string, r run, max int) error {
	var uses int64
	if err := st.stmt(ctx, upsertStmt).QueryRowContext(ctx, owner, r.Origin.Workload, r.Origin.Network,
		r.Origin.ProxyChain, r.Origin.Posture, r.first, r.last, r.n, r.allowed).Scan(&uses); err != nil {
		return err
	}
	if uses != r.n {
		return nil // an existing origin: the count of origins did not grow
	}
	_, err := st.stmt(ctx, evictStmt).ExecContext(ctx, owner, max)
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
