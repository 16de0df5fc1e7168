package revocation_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

// A write the SQLite store cannot make (here a trigger refuses new rows,
// as a full disk would) is remembered by WriteErr; Probe fails while the
// fault lasts and clears WriteErr once a write goes through again, with
// no revocation added, the seal intact and Match answering throughout.
func TestSQLiteWriteErrAndProbe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.db")
	key := []byte("0123456789abcdef0123456789abcdef")
	s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:leaked"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteErr(); err != nil {
		t.Fatalf("WriteErr after a good write: %v", err)
	}
	exec := func(q string) {
		t.Helper()
		db, err := sqlitedb.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TRIGGER fault BEFORE INSERT ON revocation BEGIN SELECT RAISE(ABORT, 'injected write fault'); END`)
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:other"}); err == nil {
		t.Fatal("Add under the fault succeeded")
	}
	if err := s.WriteErr(); err == nil {
		t.Fatal("WriteErr is nil after a failed write")
	}
	if err := s.Probe(ctx); err == nil {
		t.Fatal("Probe succeeded while writes fail")
	}
	if err := s.WriteErr(); err == nil {
		t.Fatal("WriteErr cleared by a failed probe")
	}
	if m, err := s.Match(ctx, revocation.Query{Subject: "svc:leaked"}); err != nil || m == nil || m.ID != before.ID {
		t.Fatalf("Match under the fault: %+v %v, want the revocation made before it", m, err)
	}

	exec(`DROP TRIGGER fault`)
	if err := s.Probe(ctx); err != nil {
		t.Fatalf("Probe after the fault: %v", err)
	}
	if err := s.WriteErr(); err != nil {
		t.Fatalf("WriteErr after a good probe: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != before.ID {
		t.Fatalf("List after probes: %+v %v, want only the one revocation", list, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("the seal after probes: %v", err)
	}
	s.Close()
	again, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey(key))
	if err != nil {
		t.Fatalf("reopen after probes: %v", err)
	}
	again.Close()
}

// A write refused for tampering says nothing of the disk: WriteErr stays nil.
func TestSQLiteWriteErrIgnoresTampering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revocations.db")
	s, err := revocation.OpenSQLite(ctx, path, nil, revocation.WithSealKey([]byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO revocation (id, kind, value, created_at) VALUES ('rev_x', 'subject', 'svc:x', 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := s.Verify(ctx); !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("Verify after a row added behind the store: %v, want ErrTampered", err)
	}
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc:y"}); !errors.Is(err, revocation.ErrTampered) {
		t.Fatalf("Add on a tampered store: %v, want ErrTampered", err)
	}
	if err := s.WriteErr(); err != nil {
		t.Fatalf("WriteErr after a refusal for tampering: %v, want nil", err)
	}
}
