package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// BusyTimeoutMillis is how long a statement waits for another connection's
// lock before failing with SQLITE_BUSY.
const BusyTimeoutMillis = 5000

// Open opens (creating if needed) the SQLite database at path. The parent
// directory must exist; a new database file is created with mode 0600 (SQLite
// gives its -wal and -shm files the same mode). Open checks that the
// connection works and that WAL mode took effect.
func Open(ctx context.Context, path string) (*sql.DB, error) {
	return OpenWith(ctx, path, Durable)
}

// Durability says when a commit reaches the disk.
type Durability int

const (
	// Durable (synchronous=FULL): every commit is fsynced before it
	// returns. For what must survive a crash: revocations, evidence.
	Durable Durability = iota
	// Relaxed (synchronous=NORMAL in WAL mode): commits are fsynced at
	// checkpoints, so a power loss may drop the last few commits, but the
	// database stays consistent. For state that only feeds heuristics,
	// such as origin history, where one fsync per request costs too much.
	Relaxed
)

// OpenWith is Open with the durability chosen.
func OpenWith(ctx context.Context, path string, d Durability) (*sql.DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitedb: %q is not a file path", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: resolve %s: %w", path, err)
	}
	if err := createPrivate(abs); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn(abs, d))
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	if err := check(ctx, db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitedb: open %s: %w", path, err)
	}
	return db, nil
}

// dsn builds a file: URI for an absolute path, escaping characters such as
// '?' and '#' that would otherwise end the path, and sets the pragmas every
// new connection runs.
func dsn(abs string, d Durability) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeoutMillis))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+d.pragma()+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return u.String() + "?" + q.Encode()
}

// createPrivate creates the database file with mode 0600 if it does not
// exist, so SQLite does not create it world-readable.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlitedb: create %s: %w", path, err)
	}
	return f.Close()
}

func (d Durability) pragma() string {
	if d == Relaxed {
		return "NORMAL"
	}
	return "FULL"
}

// level is the value PRAGMA synchronous reports for d.
func (d Durability) level() int {
	if d == Relaxed {
		return 1
	}
	return 2
}

func check(ctx context.Context, db *sql.DB, d Durability) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if sync != d.level() {
		return fmt.Errorf("synchronous is %d, want %d (%s)", sync, d.level(), d.pragma())
	}
	return nil
}

// ErrSchemaTooNew is returned by Migrate when the database was migrated by a
// newer Provost than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// Migrate brings the schema called name up to len(steps): it runs every step
// past the version recorded for name, and records the new version, in one
// transaction, so a failed step leaves the schema as it was. Version n means
// steps[0:n] have run. A recorded version above len(steps) is an error
// wrapping ErrSchemaTooNew.
func Migrate(ctx context.Context, db *sql.DB, name string, steps []string) (err error) {
	if name == "" {
		return errors.New("sqlitedb: migrate: empty schema name")
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		name    TEXT PRIMARY KEY,
		version INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlitedb: migrate %s: create schema_version: %w", name, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitedb: migrate %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE name = ?`, name).Scan(&version)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitedb: migrate %s: read version: %w", name, err)
	}
	if version > len(steps) {
		return fmt.Errorf("sqlitedb: migrate %s: database is at version %d, this binary knows %d: %w",
			name, version, len(steps), ErrSchemaTooNew)
	}
	if version == len(steps) {
		return tx.Commit()
	}
	for i := version; i < len(steps); i++ {
		if _, err = tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("sqlitedb: migrate %s: step %d: %w", name, i+1, err)
		}
	}
	if _, err = tx.ExecContext(ctx, `INSERT INTO schema_version (name, version) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET version = excluded.version`, name, len(steps)); err != nil {
		return fmt.Errorf("sqlitedb: migrate %s: record version: %w", name, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("sqlitedb: migrate %s: commit: %w", name, err)
	}
	return nil
}

// Version returns the schema version recorded for name, 0 if none.
func Version(ctx context.Context, db *sql.DB, name string) (int, error) {
	var tables int
	if err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`).Scan(&tables); err != nil {
		return 0, fmt.Errorf("sqlitedb: read version of %s: %w", name, err)
	}
	if tables == 0 {
		return 0, nil
	}
	var v int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_version WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitedb: read version of %s: %w", name, err)
	}
	return v, nil
}
