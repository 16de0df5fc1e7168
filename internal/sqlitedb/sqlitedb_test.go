package sqlitedb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var ctx = context.Background()

func TestOpenSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?#% name")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"},
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
	}
	for _, tt := range tests {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
	fi, err := os.Stat(path) // the file landed at the exact path, escaping worked
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %#o, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRejectsNonFiles(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if db, err := Open(ctx, p); err == nil {
			db.Close()
			t.Errorf("Open(%q): no error", p)
		}
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "missing", "x.db")); err == nil {
		t.Error("Open in a missing directory: no error")
	}
}

func TestMigrate(t *testing.T) {
	db, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v1 := []string{`CREATE TABLE a (x INTEGER)`}
	v2 := append(v1, `ALTER TABLE a ADD COLUMN y TEXT`)

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
		{"older binary", "s", v1, ErrSchemaTooNew, 2},
		{"other schema independent", "other", []string{`CREATE TABLE b (z INTEGER)`}, nil, 1},
	}
	for _, st := range steps {
		err := Migrate(ctx, db, st.schema, st.steps)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
		v, err := Version(ctx, db, st.schema)
		if err != nil {
			t.Fatal(err)
		}
		if v != st.wantVer {
			t.Fatalf("%s: version %d, want %d", st.name, v, st.wantVer)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO a (x, y) VALUES (1, 'ok')`); err != nil {
		t.Fatalf("migrated table unusable: %v", err)
	}
}

func TestMigrateFailedStepRollsBack(t *testing.T) {
	db, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = Migrate(ctx, db, "s", []string{`CREATE TABLE a (x INTEGER)`, `NOT SQL`})
	if err == nil {
		t.Fatal("no error for a bad step")
	}
	if v, _ := Version(ctx, db, "s"); v != 0 {
		t.Fatalf("version %d after failed migration, want 0", v)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'a'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("step 1 of a failed migration was kept")
	}
}

func TestMigrateConcurrentOpeners(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	steps := []string{`CREATE TABLE a (x INTEGER)`, `CREATE TABLE b (x INTEGER)`}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(ctx, path)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = Migrate(ctx, db, "s", steps)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
	}
}

func TestVersionWithoutTable(t *testing.T) {
	db, err := Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := Version(ctx, db, "s"); err != nil || v != 0 {
		t.Fatalf("Version = %d, %v; want 0, nil", v, err)
	}
}

func TestOpenRelaxed(t *testing.T) {
	db, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "r.db"), Relaxed)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var level int
	if err := db.QueryRow("PRAGMA synchronous").Scan(&level); err != nil || level != 1 {
		t.Fatalf("synchronous = %d (%v), want 1 (NORMAL)", level, err)
	}
}
