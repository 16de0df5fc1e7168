// Package pgdb opens Provost's PostgreSQL connection pools the same way
// everywhere, and runs their schema migrations. It is the scale-out
// counterpart of package sqlitedb: several Provost replicas share one
// PostgreSQL database.
//
// Each store owns a named schema and passes its ordered list of migration
// steps to Migrate; the version reached is kept per name in the
// schema_version table of the first schema on the connection's search_path:
//
//	pool, err := pgdb.Open(ctx, pgdb.Config{DSN: dsn})
//	if err != nil { ... }
//	defer pool.Close()
//	err = pgdb.Migrate(ctx, pool, "revocation", []string{
//		`CREATE TABLE revocation (...)`, // version 1
//		`CREATE INDEX ...`,              // version 2
//	})
//
// Steps are append-only: never edit or reorder a released step, add a new one.
//
// Replicas that start together all call Migrate at once. Migrate applies the
// steps of one name in a single transaction that first takes a transaction
// advisory lock whose key is derived from the name (LockKey), so exactly one
// replica runs them and the others wait, then find the schema current. The
// lock is released when that transaction ends, by commit, rollback or a
// dropped connection, so a crashed migrator cannot leave it held.
package pgdb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultConnectTimeout bounds each new connection when neither the Config
// nor the DSN (connect_timeout) sets a timeout.
const DefaultConnectTimeout = 10 * time.Second

// Config says how to reach the database.
type Config struct {
	// DSN is a PostgreSQL connection string, URL
	// (postgres://user:pass@host:5432/db?sslmode=verify-full) or
	// keyword/value (host=... dbname=...); required. It may carry secrets:
	// errors from this package never repeat its password.
	DSN string
	// MaxConns caps the pool's connections; 0 keeps the DSN's
	// pool_max_conns or pgx's default (the greater of 4 and the CPUs).
	MaxConns int32
	// ConnectTimeout bounds each new connection, dial to ready; 0 keeps the
	// DSN's connect_timeout or DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Open parses cfg, creates the pool and checks that a connection can be
// made. The caller closes the pool.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, scrub(cfg.DSN, "pgdb: open", err, true)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, scrub(cfg.DSN, "pgdb: connect", err, true)
	}
	return pool, nil
}

// ParseConfig validates cfg and returns the pool configuration Open uses,
// for callers that need to adjust it (for example, to add an AfterConnect
// hook) before pgxpool.NewWithConfig.
func ParseConfig(cfg Config) (*pgxpool.Config, error) {
	switch {
	case strings.TrimSpace(cfg.DSN) == "":
		return nil, errors.New("pgdb: a DSN is required")
	case cfg.MaxConns < 0:
		return nil, fmt.Errorf("pgdb: MaxConns is %d, want 0 (default) or more", cfg.MaxConns)
	case cfg.ConnectTimeout < 0:
		return nil, fmt.Errorf("pgdb: ConnectTimeout is %v, want 0 (default) or more", cfg.ConnectTimeout)
	}
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's parse errors quote the DSN, with a best-effort redaction;
		// the result is not unwrappable, so nothing reaches the password.
		return nil, scrub(cfg.DSN, "pgdb: invalid DSN", err, false)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	switch {
	case cfg.ConnectTimeout > 0:
		pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	case pc.ConnConfig.ConnectTimeout == 0:
		pc.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return pc, nil
}

// scrubbedError is an error whose message has had every password found in
// the DSN masked. It unwraps to the original error only when asked to (for
// errors pgx builds from a parsed config, which do not print the password).
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrub(dsn, prefix string, err error, unwrap bool) error {
	e := &scrubbedError{msg: prefix + ": " + Redact(dsn, err.Error())}
	if unwrap {
		e.err = err
	}
	return e
}

const mask = "xxxxx"

// keywordPassword finds password=... and sslpassword=... in a keyword/value
// DSN, quoted or not, and in a URL's query (where '&' ends the value).
var keywordPassword = regexp.MustCompile(`(?i)password\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s&]*)([^\s]*)`)

// Redact returns s with every password that can be found in dsn replaced by
// "xxxxx", as it is written in dsn and percent-decoded. It looks for the
// password of a URL's user info, and for password= and sslpassword= values,
// generously: in a malformed DSN it masks every candidate rather than miss
// one.
func Redact(dsn, s string) string {
	secrets := passwords(dsn)
	// The longest first, so a password containing another is masked whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, p := range secrets {
		s = strings.ReplaceAll(s, p, mask)
	}
	return s
}

// passwords returns the candidate passwords in dsn, raw and decoded.
func passwords(dsn string) []string {
	var raw []string
	// URL user info: postgres://user:password@host. With '@' in the password
	// or elsewhere, every span from the first ':' to each '@' is a candidate.
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				info := rest[colon+1:]
				for j := range len(info) {
					if info[j] == '@' {
						raw = append(raw, info[:j])
					}
				}
			}
		}
	}
	for _, m := range keywordPassword.FindAllStringSubmatch(dsn, -1) {
		v := m[1]
		raw = append(raw, v, v+m[2]) // up to '&', and up to white space
		if strings.HasPrefix(v, "'") {
			v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
			raw = append(raw, v, strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(v))
		}
	}
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, r := range raw {
		add(r)
		if d, err := url.PathUnescape(r); err == nil {
			add(d)
		}
		if d, err := url.QueryUnescape(r); err == nil {
			add(d)
		}
	}
	return out
}

// ErrSchemaTooNew is returned by Migrate when the database was migrated by a
// newer Provost than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// LockKey is the pg_advisory_xact_lock key Migrate takes for the schema
// called name: the first 8 bytes of SHA-256("provost/pgdb/migrate\x00" +
// name), big-endian, as a signed 64-bit integer. It is the same in every
// replica and every release, so replicas of different versions exclude
// each other too.
func LockKey(name string) int64 {
	sum := sha256.Sum256([]byte("provost/pgdb/migrate\x00" + name))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// versionTableLockKey guards the creation of the schema_version table, which
// every name shares: two concurrent CREATE TABLE IF NOT EXISTS can otherwise
// both try to create it and one fail on a unique index of the catalog.
var versionTableLockKey = LockKey("\x00schema_version")

// Migrate brings the schema called name up to len(steps). In one
// transaction, holding the advisory lock LockKey(name), it reads the version
// recorded for name, runs every step past it, and records the new version;
// so a failed step leaves the schema as it was, and replicas migrating at
// once apply each step exactly once. Version n means steps[0:n] have run. A
// recorded version above len(steps) is an error wrapping ErrSchemaTooNew.
func Migrate(ctx context.Context, pool *pgxpool.Pool, name string, steps []string) error {
	if name == "" {
		return errors.New("pgdb: migrate: empty schema name")
	}
	if pool == nil {
		return fmt.Errorf("pgdb: migrate %s: nil pool", name)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, versionTableLockKey); err != nil {
			return fmt.Errorf("lock schema_version: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			name    text PRIMARY KEY,
			version integer NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgdb: migrate %s: %w", name, err)
	}
	// A fresh transaction (its statements see what others committed before
	// the lock was granted: READ COMMITTED takes a snapshot per statement).
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, LockKey(name)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version WHERE name = $1`, name).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read version: %w", err)
		}
		if version > len(steps) {
			return fmt.Errorf("database is at version %d, this binary knows %d: %w",
				version, len(steps), ErrSchemaTooNew)
		}
		if version == len(steps) {
			return nil
		}
		for i := version; i < len(steps); i++ {
			if _, err := tx.Exec(ctx, steps[i]); err != nil {
				return fmt.Errorf("step %d: %w", i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (name, version) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET version = excluded.version`, name, len(steps)); err != nil {
			return fmt.Errorf("record version: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgdb: migrate %s: %w", name, err)
	}
	return nil
}

// Version returns the schema version recorded for name, 0 if none.
func Version(ctx context.Context, pool *pgxpool.Pool, name string) (int, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("pgdb: read version of %s: %w", name, err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := pool.QueryRow(ctx, `SELECT version FROM schema_version WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pgdb: read version of %s: %w", name, err)
	}
	return v, nil
}
