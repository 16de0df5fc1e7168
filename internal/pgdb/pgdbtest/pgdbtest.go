// Package pgdbtest connects tests to a real PostgreSQL server and gives each
// test a fresh schema of its own, so test runs (and packages tested in
// parallel) never see each other's tables.
//
// The server is the one named by $PROVOST_TEST_POSTGRES, or DefaultDSN. When
// it cannot be reached the test is skipped, with a hint on starting it, unless
// $CI is set, in which case it fails: CI must not pass by skipping.
//
//	func TestStore(t *testing.T) {
//		cfg := pgdbtest.FreshSchema(t) // skips (or fails under CI) without a server
//		pool := pgdbtest.Open(t, cfg)  // closed when the test ends
//		...
//	}
package pgdbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provost-dev/provost/internal/pgdb"
)

// EnvDSN names the environment variable that overrides DefaultDSN.
const EnvDSN = "PROVOST_TEST_POSTGRES"

// DefaultDSN is the test server: local, database test, trust authentication.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// StartHint says how to start the local test server.
const StartHint = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start" +
	" (or point " + EnvDSN + " at another server)"

// DSN returns $PROVOST_TEST_POSTGRES, or DefaultDSN when it is unset.
func DSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

var probe struct {
	once sync.Once
	err  error
}

// Require returns the configuration of the test server, after checking
// (once per process) that it can be reached. When it cannot, the test is
// skipped with a hint on starting it, or fails if $CI is set.
func Require(t testing.TB) pgdb.Config {
	t.Helper()
	cfg := pgdb.Config{DSN: DSN(), MaxConns: 4, ConnectTimeout: 5 * time.Second}
	probe.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pool, err := pgdb.Open(ctx, pgdb.Config{DSN: cfg.DSN, MaxConns: 1, ConnectTimeout: 5 * time.Second})
		if err != nil {
			probe.err = err
			return
		}
		pool.Close()
	})
	if probe.err != nil {
		// The error is scrubbed by pgdb: it never shows the DSN's password.
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL test server unreachable (CI is set, so this fails): %v; %s", probe.err, StartHint)
		}
		t.Skipf("PostgreSQL test server unreachable: %v; %s", probe.err, StartHint)
	}
	return cfg
}

// FreshSchema creates a schema with a random name on the test server and
// returns a configuration whose connections have it alone on their
// search_path, so unqualified tables are created and found there. The
// schema is dropped, with everything in it, when the test ends; close pools
// opened on it in cleanups registered after this call (Open does), so they
// close first.
func FreshSchema(t testing.TB) pgdb.Config {
	t.Helper()
	cfg := Require(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "provost_test_" + hex.EncodeToString(b[:])
	admin := Open(t, pgdb.Config{DSN: cfg.DSN, MaxConns: 1, ConnectTimeout: cfg.ConnectTimeout})
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	admin.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgdb.Open(ctx, pgdb.Config{DSN: cfg.DSN, MaxConns: 1, ConnectTimeout: cfg.ConnectTimeout})
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dsn, err := WithSearchPath(cfg.DSN, schema)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DSN = dsn
	return cfg
}

// WithSearchPath returns dsn with the run-time parameter search_path set to
// schema, so every connection of a pool opened with it starts there.
func WithSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errScrubbed(dsn, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path='" + schema + "'", nil
}

type scrubbed string

func (s scrubbed) Error() string { return string(s) }

func errScrubbed(dsn string, err error) error {
	return scrubbed("pgdbtest: parse DSN: " + pgdb.Redact(dsn, err.Error()))
}

// Open opens a pool with pgdb.Open and closes it when the test ends. It fails
// the test if the pool cannot be opened.
func Open(t testing.TB, cfg pgdb.Config) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgdb.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
