package evidencelog_test

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/evidencelog"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
)

// A shared log opened read-only, with no private key, verifies; a changed
// record, a changed tree hash and a rolled-back tree head are each reported
// with the index concerned.
func TestPostgresVerify(t *testing.T) {
	build := func(t *testing.T) (*evidencelog.Postgres, string, func(string, ...any)) {
		cfg := pgdbtest.FreshSchema(t)
		w := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: pgKey(t, t.TempDir())})
		for i := range 10 {
			if _, err := w.Append(pgCtx, fmt.Appendf(nil, "record %d", i)); err != nil {
				t.Fatal(err)
			}
			if i == 4 || i == 9 {
				if _, err := w.Checkpoint(pgCtx); err != nil {
					t.Fatal(err)
				}
			}
		}
		vkey := w.VerifierKey()
		w.Close()
		admin := pgdbtest.Open(t, cfg)
		exec := func(sql string, args ...any) {
			t.Helper()
			if _, err := admin.Exec(pgCtx, sql, args...); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		// Read-only: no key file, the verifier key pinned in the database.
		r := openPG(t, cfg, evidencelog.PostgresOptions{ReadOnly: true})
		return r, vkey, exec
	}
	want := func(t *testing.T, err, problem error, index int64) {
		t.Helper()
		var e *evidencelog.Error
		if !errors.Is(err, problem) || !errors.As(err, &e) || e.Index != index {
			t.Fatalf("Verify: %v, want %v at %d", err, problem, index)
		}
	}

	t.Run("good", func(t *testing.T) {
		r, vkey, _ := build(t)
		if r.VerifierKey() != vkey {
			t.Fatalf("verifier key %s, want %s", r.VerifierKey(), vkey)
		}
		var done, total int64
		if err := r.Verify(pgCtx, func(d, n int64) { done, total = d, n }); err != nil {
			t.Fatal(err)
		}
		if done != 10 || total != 10 {
			t.Fatalf("progress %d/%d", done, total)
		}
		if _, err := r.Append(pgCtx, []byte("x")); !errors.Is(err, evidencelog.ErrReadOnly) {
			t.Fatalf("Append read-only: %v", err)
		}
		// A database no replica opened has no log to read.
		if _, err := evidencelog.OpenPostgres(pgCtx, pgdbtest.Open(t, pgdbtest.FreshSchema(t)),
			evidencelog.PostgresOptions{ReadOnly: true}); err == nil {
			t.Fatal("read-only open of an empty database succeeded")
		}
	})
	t.Run("record", func(t *testing.T) {
		r, _, exec := build(t)
		exec(`UPDATE evidence_leaf SET record = 'forged' WHERE idx = 3`)
		want(t, r.Verify(pgCtx, nil), evidencelog.ErrRecordChanged, 3)
	})
	t.Run("tree hash", func(t *testing.T) {
		r, _, exec := build(t)
		// The hash of the subtree of records 6 and 7.
		exec(`UPDATE evidence_hash SET hash = sha256(hash) WHERE id = $1`, tlog.StoredHashIndex(1, 3))
		want(t, r.Verify(pgCtx, nil), evidencelog.ErrTreeCorrupt, 7)
	})
	t.Run("rolled back head", func(t *testing.T) {
		r, _, exec := build(t)
		exec(`DELETE FROM evidence_leaf WHERE idx >= 5`)
		exec(`DELETE FROM evidence_hash WHERE id >= $1`, tlog.StoredHashIndex(0, 5))
		exec(`UPDATE evidence_head SET size = 5`)
		want(t, r.Verify(pgCtx, nil), evidencelog.ErrRolledBack, 10)
	})
	t.Run("other key", func(t *testing.T) {
		cfg := pgdbtest.FreshSchema(t)
		w := openPG(t, cfg, evidencelog.PostgresOptions{KeyFile: pgKey(t, t.TempDir())})
		w.Close()
		_, err := evidencelog.OpenPostgres(pgCtx, pgdbtest.Open(t, cfg),
			evidencelog.PostgresOptions{ReadOnly: true, KeyFile: pgKey(t, t.TempDir())})
		if !errors.Is(err, evidencelog.ErrUnknownKey) {
			t.Fatalf("another key: %v", err)
		}
	})
}
