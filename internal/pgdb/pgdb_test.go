package pgdb_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provost-dev/provost/internal/pgdb"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
)

var ctx = context.Background()

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []pgdb.Config{
		{},
		{DSN: "  "},
		{DSN: pgdbtest.DefaultDSN, MaxConns: -1},
		{DSN: pgdbtest.DefaultDSN, ConnectTimeout: -time.Second},
	} {
		if pool, err := pgdb.Open(ctx, cfg); err == nil {
			pool.Close()
			t.Errorf("Open(%+v): no error", cfg)
		}
	}
	pc, err := pgdb.ParseConfig(pgdb.Config{DSN: "postgres://u@h/db", MaxConns: 7, ConnectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 7 || pc.ConnConfig.ConnectTimeout != 3*time.Second {
		t.Errorf("MaxConns %d, ConnectTimeout %v; want 7, 3s", pc.MaxConns, pc.ConnConfig.ConnectTimeout)
	}
	pc, err = pgdb.ParseConfig(pgdb.Config{DSN: "postgres://u@h/db?pool_max_conns=9&connect_timeout=2"})
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 9 || pc.ConnConfig.ConnectTimeout != 2*time.Second {
		t.Errorf("from DSN: MaxConns %d, ConnectTimeout %v; want 9, 2s", pc.MaxConns, pc.ConnConfig.ConnectTimeout)
	}
	pc, err = pgdb.ParseConfig(pgdb.Config{DSN: "host=h dbname=db"})
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.ConnectTimeout != pgdb.DefaultConnectTimeout {
		t.Errorf("default ConnectTimeout %v, want %v", pc.ConnConfig.ConnectTimeout, pgdb.DefaultConnectTimeout)
	}
}

func TestErrorsNeverPrintThePassword(t *testing.T) {
	const pw = "Hunter2-s3cret"
	bad := []string{
		"postgres://svc:" + pw + "@db.example:notaport/provost",
		"postgres://svc:" + pw + "@db.example:5432/provost?sslmode=bogus",
		"postgres://svc:" + pw + "@db.example:5432/provost?pool_max_conns=zero",
		"postgres://svc:" + pw + "@db.example:5432/provost?connect_timeout=soon",
		"postgres://svc:" + pw + "@@db.example:5432/provost?sslmode=bogus",
		"postgres://svc:" + pw + "@db.example:5432/provost?password=" + pw + "&sslmode=bogus",
		"postgresql://svc:Hunter2%2Ds3cret@db.example:5432/provost?sslmode=bogus",
		"postgres://svc:" + pw + "@[::1:5432/provost",
		"postgres://svc:" + pw + "@db.example:5432/provost?x",
		"host=db.example password=" + pw + " sslmode=bogus",
		"host=db.example password='" + pw + " with space' sslmode=bogus",
		"host=db.example password=" + pw + "&more port=x",
		"host=db.example password = " + pw + " port=x",
		"host=db.example sslpassword=" + pw + " port=x",
		"host=db.example password='" + pw,
	}
	for _, dsn := range bad {
		_, err := pgdb.Open(ctx, pgdb.Config{DSN: dsn})
		if err == nil {
			t.Errorf("Open(%q): no error", dsn)
			continue
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if msg := e.Error(); strings.Contains(msg, "Hunter2") || strings.Contains(msg, "s3cret") {
				t.Errorf("error for %q shows the password: %s", dsn, msg)
			}
		}
	}
	// A well-formed DSN naming a server that refuses connections.
	_, err := pgdb.Open(ctx, pgdb.Config{DSN: "postgres://svc:" + pw + "@127.0.0.1:1/provost?sslmode=disable", ConnectTimeout: 2 * time.Second})
	if err == nil {
		t.Fatal("Open of a closed port: no error")
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("connect error shows the password: %s", err)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ dsn, in, want string }{
		{"postgres://u:p%40ss@h/db", "p@ss and p%40ss", "xxxxx and xxxxx"},
		{"host=h password='it\\'s'", "it's", "xxxxx"},
		{"postgres://u@h/db", "nothing secret", "nothing secret"},
	}
	for _, tt := range tests {
		if got := pgdb.Redact(tt.dsn, tt.in); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.dsn, tt.in, got, tt.want)
		}
	}
}

func TestLockKeyIsStable(t *testing.T) {
	// Replicas of every release must agree on the key: never change it.
	if got, want := pgdb.LockKey("revocation"), pgdb.LockKey("revocation"); got != want {
		t.Fatalf("LockKey not deterministic: %d, %d", got, want)
	}
	if pgdb.LockKey("revocation") == pgdb.LockKey("binding") {
		t.Fatal("two names share a lock key")
	}
}

func TestMigrate(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	pool := pgdbtest.Open(t, cfg)
	v1 := []string{`CREATE TABLE a (x integer)`}
	v2 := append(v1, `ALTER TABLE a ADD COLUMN y text`)
	steps := []struct {
		name    string
		schema  string
		steps   []string
		wantErr error
		wantVer int
	}{
		{"fresh to 1", "s", v1, nil, 1},
		{"again is a no-op", "s", v1, nil, 1},
		{"1 to 2", "s", v2, nil, 2},
		{"older binary", "s", v1, pgdb.ErrSchemaTooNew, 2},
		{"other schema independent", "other", []string{`CREATE TABLE b (z integer)`}, nil, 1},
	}
	for _, st := range steps {
		err := pgdb.Migrate(ctx, pool, st.schema, st.steps)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		v, err := pgdb.Version(ctx, pool, st.schema)
		if err != nil {
			t.Fatal(err)
		}
		if v != st.wantVer {
			t.Fatalf("%s: version %d, want %d", st.name, v, st.wantVer)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO a (x, y) VALUES (1, 'ok')`); err != nil {
		t.Fatalf("migrated table unusable: %v", err)
	}
}

func TestMigrateRefusesNewerVersion(t *testing.T) {
	pool := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	steps := []string{`CREATE TABLE a (x integer)`}
	if err := pgdb.Migrate(ctx, pool, "s", steps); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE schema_version SET version = 99 WHERE name = 's'`); err != nil {
		t.Fatal(err)
	}
	err := pgdb.Migrate(ctx, pool, "s", append(steps, `CREATE TABLE b (x integer)`))
	if !errors.Is(err, pgdb.ErrSchemaTooNew) {
		t.Fatalf("err = %v, want ErrSchemaTooNew", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'b'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a step ran on a schema newer than the binary")
	}
}

func TestMigrateFailedStepRollsBack(t *testing.T) {
	pool := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	err := pgdb.Migrate(ctx, pool, "s", []string{`CREATE TABLE a (x integer)`, `NOT SQL`})
	if err == nil {
		t.Fatal("no error for a bad step")
	}
	if v, _ := pgdb.Version(ctx, pool, "s"); v != 0 {
		t.Fatalf("version %d after failed migration, want 0", v)
	}
	var reg *string
	if err := pool.QueryRow(ctx, `SELECT to_regclass('a')::text`).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		t.Fatal("step 1 of a failed migration was kept")
	}
}

// TestMigrateConcurrentReplicas starts several replicas (each its own pool)
// migrating the same fresh schema at once: all succeed, and every step runs
// exactly once (a step that ran twice would fail, or insert a second row).
func TestMigrateConcurrentReplicas(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	steps := []string{
		`CREATE TABLE a (x integer)`,
		`INSERT INTO a SELECT 1 FROM pg_sleep(0.2)`, // hold the lock a while
		`INSERT INTO a VALUES (2)`,
	}
	const replicas = 4
	pools := make([]*pgxpool.Pool, replicas)
	for i := range pools {
		pools[i] = pgdbtest.Open(t, cfg)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, replicas)
	)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// A second name at the same time: the shared schema_version
			// table must be created once, whichever name gets there first.
			if i%2 == 1 {
				errs[i] = pgdb.Migrate(ctx, pools[i], "other", []string{`CREATE TABLE b (x integer)`})
				if errs[i] != nil {
					return
				}
			}
			errs[i] = pgdb.Migrate(ctx, pools[i], "s", steps)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	var rows []int
	r, err := pools[0].Query(ctx, `SELECT x FROM a ORDER BY x`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var x int
		if err := r.Scan(&x); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, x)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0] != 1 || rows[1] != 2 {
		t.Fatalf("table a = %v, want [1 2]: a step ran more or less than once", rows)
	}
	for name, want := range map[string]int{"s": len(steps), "other": 1} {
		if v, err := pgdb.Version(ctx, pools[0], name); err != nil || v != want {
			t.Fatalf("version of %s = %d, %v; want %d", name, v, err, want)
		}
	}
}

func TestVersionWithoutTable(t *testing.T) {
	pool := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	if v, err := pgdb.Version(ctx, pool, "s"); err != nil || v != 0 {
		t.Fatalf("Version = %d, %v; want 0, nil", v, err)
	}
}

func TestFreshSchemaIsolated(t *testing.T) {
	a := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	b := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	if _, err := a.Exec(ctx, `CREATE TABLE only_in_a (x integer)`); err != nil {
		t.Fatal(err)
	}
	var reg *string
	if err := b.QueryRow(ctx, `SELECT to_regclass('only_in_a')::text`).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg != nil {
		t.Fatalf("a table of one fresh schema is visible from another: %s", *reg)
	}
}
