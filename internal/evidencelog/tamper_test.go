package evidencelog

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/provost-dev/provost/internal/sqlitedb"
)

// tamperedLog is a closed log of 20 records with checkpoints at sizes 5,
// 12 and 20.
func tamperedLog(t *testing.T) string {
	t.Helper()
	l, dir := openLog(t, Options{Async: true})
	for _, size := range []int64{5, 12, 20} {
		appendN(t, l, l.Size(), size)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Verify(ctx, nil); err != nil {
		t.Fatalf("untouched log: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withDB runs fn on the log's database, as an attacker with file access would.
func withDB(t *testing.T, dir string, fn func(db *sql.DB)) {
	t.Helper()
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fn(db)
}

func sqlExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// rehash rewrites every stored tree hash from the records, as a careful
// attacker would after changing one.
func rehash(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT record FROM evidence_leaf ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	var f frontier
	var all []tlog.Hash
	for rows.Next() {
		var rec []byte
		if err := rows.Scan(&rec); err != nil {
			t.Fatal(err)
		}
		hs, err := f.append(tlog.RecordHash(rec))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hs...)
	}
	rows.Close()
	sqlExec(t, db, `DELETE FROM evidence_hash`)
	for id, h := range all {
		sqlExec(t, db, `INSERT INTO evidence_hash (id, hash) VALUES (?, ?)`, id, h[:])
	}
	for i := int64(0); i < f.size; i++ {
		sqlExec(t, db, `UPDATE evidence_leaf SET hash = (SELECT hash FROM evidence_hash WHERE id = ?) WHERE idx = ?`,
			tlog.StoredHashIndex(0, i), i)
	}
}

// otherKeyNote signs body with a new key of the same name as the log's.
func otherKeyNote(t *testing.T, body string) []byte {
	t.Helper()
	skey, _, err := note.GenerateKey(nil, testName)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: body}, s)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestVerifyTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sql.DB)
		want   error
		index  int64
	}{
		{"changed record", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_leaf SET record = ? WHERE idx = 7`, []byte(`{"test":"forged"}`))
		}, ErrRecordChanged, 7},
		{"changed record and its hash column", func(t *testing.T, db *sql.DB) {
			forged := []byte(`{"test":"forged"}`)
			h := tlog.RecordHash(forged)
			sqlExec(t, db, `UPDATE evidence_leaf SET record = ?, hash = ? WHERE idx = 7`, forged, h[:])
		}, ErrRecordChanged, 7},
		{"changed leaf hash column", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_leaf SET hash = ? WHERE idx = 7`, make([]byte, 32))
		}, ErrRecordChanged, 7},
		{"changed record, whole tree rehashed", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_leaf SET record = ? WHERE idx = 7`, []byte(`{"test":"forged"}`))
			rehash(t, db)
		}, ErrInconsistent, 12}, // the first signed checkpoint covering record 7
		{"removed record", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `DELETE FROM evidence_leaf WHERE idx = 7`)
		}, ErrRecordMissing, 7},
		{"removed first record", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `DELETE FROM evidence_leaf WHERE idx = 0`)
		}, ErrRecordMissing, 0},
		{"removed last record", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `DELETE FROM evidence_leaf WHERE idx = 19`)
		}, ErrRecordMissing, 19},
		{"removed last records and their checkpoint", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `DELETE FROM evidence_leaf WHERE idx >= 15`)
			sqlExec(t, db, `DELETE FROM evidence_checkpoint WHERE size > 15`)
		}, ErrRecordMissing, 15},
		{"reordered pair", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = -1 WHERE idx = 3`)
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = 3 WHERE idx = 9`)
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = 9 WHERE idx = -1`)
		}, ErrRecordsReordered, 3},
		{"reordered adjacent pair", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = -1 WHERE idx = 18`)
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = 18 WHERE idx = 19`)
			sqlExec(t, db, `UPDATE evidence_leaf SET idx = 19 WHERE idx = -1`)
		}, ErrRecordsReordered, 18},
		{"corrupt interior hash", func(t *testing.T, db *sql.DB) {
			sqlExec(t, db, `UPDATE evidence_hash SET hash = ? WHERE id = ?`, make([]byte, 32), tlog.StoredHashIndex(2, 1))
		}, ErrTreeCorrupt, 7},
		{"checkpoint signed by another key", func(t *testing.T, db *sql.DB) {
			var body string
			if err := db.QueryRow(`SELECT note FROM evidence_checkpoint WHERE size = 12`).Scan(&body); err != nil {
				t.Fatal(err)
			}
			forged := otherKeyNote(t, body[:indexBlank(body)+1])
			sqlExec(t, db, `UPDATE evidence_checkpoint SET note = ? WHERE size = 12`, forged)
		}, ErrUnknownKey, 12},
		{"checkpoint signature altered", func(t *testing.T, db *sql.DB) {
			var signed []byte
			if err := db.QueryRow(`SELECT note FROM evidence_checkpoint WHERE size = 12`).Scan(&signed); err != nil {
				t.Fatal(err)
			}
			alterSignature(signed)
			sqlExec(t, db, `UPDATE evidence_checkpoint SET note = ? WHERE size = 12`, signed)
		}, ErrBadSignature, 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tamperedLog(t)
			withDB(t, dir, func(db *sql.DB) { tt.tamper(t, db) })
			l, err := Open(ctx, dir, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			err = l.Verify(ctx, nil)
			t.Log(err)
			wantProblem(t, err, tt.want, tt.index)
		})
	}
}

// indexBlank is the index of the blank line ending a note's text.
func indexBlank(signed string) int {
	for i := 0; i+1 < len(signed); i++ {
		if signed[i] == '\n' && signed[i+1] == '\n' {
			return i
		}
	}
	return -1
}

func TestRollback(t *testing.T) {
	l, dir := openLog(t, Options{Async: true})
	appendN(t, l, 0, 12)
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	l, err = Open(ctx, dir, Options{Async: true})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 12, 20)
	signed20, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the older database back.
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(dir, dbFile+suffix))
	}
	if err := os.WriteFile(filepath.Join(dir, dbFile), old, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Open(ctx, dir, Options{})
	wantProblem(t, err, ErrRolledBack, 20)

	ro, err := Open(ctx, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	wantProblem(t, ro.Verify(ctx, nil), ErrRolledBack, 20)
	// A checkpoint someone kept shows it too, even without the checkpoint file.
	wantProblem(t, ro.VerifyCheckpoint(ctx, signed20), ErrRolledBack, 20)
	if _, err := ro.Append(ctx, []byte("x")); !errorsIs(err, ErrReadOnly) {
		t.Fatalf("read-only Append: %v", err)
	}
}

func TestVerifyCheckpointFork(t *testing.T) {
	l, _ := openLog(t, Options{Async: true})
	appendN(t, l, 0, 10)
	// A checkpoint of size 5 with another tree's root, signed by the log's key.
	c := Checkpoint{Origin: l.Name(), Size: 5, Root: sha256.Sum256([]byte("another tree"))}
	signed, err := note.Sign(&note.Note{Text: formatCheckpoint(c)}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, l.VerifyCheckpoint(ctx, signed), ErrInconsistent, 5)
	good, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.VerifyCheckpoint(ctx, good); err != nil {
		t.Fatal(err)
	}
	c.Size = 10
	wantProblem(t, l.VerifyCheckpoint(ctx, otherKeyNote(t, formatCheckpoint(c))), ErrUnknownKey, -1)
}

func TestOpenRefusesAnotherKey(t *testing.T) {
	l, dir := openLog(t, Options{})
	l.Close()
	writeKey(t, dir, testName, "another key")
	_, err := Open(ctx, dir, Options{})
	wantProblem(t, err, ErrUnknownKey, -1)
	// A reader needs no private key: it uses the pinned verifier key.
	ro, err := Open(ctx, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.VerifierKey() != l.VerifierKey() {
		t.Fatalf("read-only verifier key %s, want %s", ro.VerifierKey(), l.VerifierKey())
	}
}
