package revocation_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

var sealKey = []byte("0123456789abcdef0123456789abcdef")

// sealedStore opens a store at path with two revocations and closes it.
func sealedStore(t *testing.T, path string) (first revocation.Revocation) {
	t.Helper()
	s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Adopted() {
		t.Fatal("a new database reports adopted revocations")
	}
	first, err = s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j-1", Reason: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:a", Issuer: "https://iss"}); err != nil {
		t.Fatal(err)
	}
	return first
}

// editDB changes the database behind the store's back, as an operator with
// the sqlite3 shell or a restored backup would.
func editDB(t *testing.T, path, stmt string, args ...any) {
	t.Helper()
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, stmt, args...)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 && !strings.HasPrefix(stmt, "DROP") {
		t.Fatalf("%s changed nothing", stmt)
	}
}

// TestSealRefusesEditedDatabase: a revocation removed, added or changed
// outside the store, or the seal dropped, and the store refuses to open
// instead of enforcing a list it cannot vouch for (a revoked token would
// otherwise be allowed after the restart).
func TestSealRefusesEditedDatabase(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, path string, first revocation.Revocation)
	}{
		{"row deleted", func(t *testing.T, path string, first revocation.Revocation) {
			editDB(t, path, `DELETE FROM revocation WHERE id = ?`, first.ID)
		}},
		{"every row deleted", func(t *testing.T, path string, _ revocation.Revocation) {
			editDB(t, path, `DELETE FROM revocation`)
		}},
		{"value changed", func(t *testing.T, path string, first revocation.Revocation) {
			editDB(t, path, `UPDATE revocation SET value = 'j-2' WHERE id = ?`, first.ID)
		}},
		{"expiry added", func(t *testing.T, path string, first revocation.Revocation) {
			editDB(t, path, `UPDATE revocation SET expires_at = 1 WHERE id = ?`, first.ID)
		}},
		{"row inserted", func(t *testing.T, path string, _ revocation.Revocation) {
			editDB(t, path, `INSERT INTO revocation (id, kind, value, created_at) VALUES ('rev_x', 'issuer', 'https://evil', 1)`)
		}},
		{"seal dropped", func(t *testing.T, path string, _ revocation.Revocation) {
			editDB(t, path, `DELETE FROM revocation_seal`)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "revocations.db")
			first := sealedStore(t, path)
			c.edit(t, path, first)
			s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey))
			if err == nil {
				s.Close()
				t.Fatal("the edited database opened")
			}
			if !errors.Is(err, revocation.ErrTampered) {
				t.Fatalf("err = %v, want ErrTampered", err)
			}
		})
	}
	t.Run("another key", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "revocations.db")
		sealedStore(t, path)
		if _, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey([]byte("other"))); !errors.Is(err, revocation.ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	t.Run("untouched reopens", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "revocations.db")
		first := sealedStore(t, path)
		s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r, _ := s.Match(ctx, revocation.Query{JTI: "j-1"}); r == nil || r.ID != first.ID {
			t.Fatalf("Match = %v, want %s", r, first.ID)
		}
		if err := s.Remove(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx); err != nil {
			t.Fatalf("Verify after Remove: %v", err)
		}
	})
}

// TestSealVerifyWhileOpen: Verify catches a change made to the file while
// the store is open, and the store then refuses writes.
func TestSealVerifyWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.db")
	first := sealedStore(t, path)
	s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify of an untouched store: %v", err)
	}
	editDB(t, path, `DELETE FROM revocation WHERE id = ?`, first.ID)
	if err := s.Verify(ctx); !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("Verify = %v, want ErrTampered", err)
	}
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j-3"}); !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("Add after tampering = %v, want ErrTampered", err)
	}
}

// TestSealExpiredPurge: purging expired revocations keeps the seal.
func TestSealExpiredPurge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.db")
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := revocation.OpenSQLite(ctx, path, clk.Now, revocation.WithSealKey(sealKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j", ExpiresAt: clk.Now().Add(time.Duration(i+1) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(150 * time.Minute)
	if n, err := s.PurgeExpired(ctx); err != nil || n != 2 {
		t.Fatalf("PurgeExpired = %d, %v, want 2", n, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = revocation.OpenSQLite(ctx, path, clk.Now, revocation.WithSealKey(sealKey))
	if err != nil {
		t.Fatalf("reopen after purge: %v", err)
	}
	s.Close()
}

// TestSealAdoptsUnsealedDatabase: a database from before seals (schema
// version 3) is sealed as it is on first open, and reports it.
func TestSealAdoptsUnsealedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.db")
	sealedStore(t, path)
	editDB(t, path, `DROP TABLE revocation_seal`)
	editDB(t, path, `UPDATE schema_version SET version = 3 WHERE name = 'revocation'`)
	s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Adopted() {
		t.Fatal("Adopted = false for a database without a seal")
	}
	s.Close()
	editDB(t, path, `DELETE FROM revocation WHERE kind = 'jti'`)
	if _, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(sealKey)); !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("after adoption, an edit is still caught: err = %v", err)
	}
}
