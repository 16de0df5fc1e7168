package revocation_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/revocation/revocationtest"
	"github.com/provost-dev/provost/internal/sqlitedb"
)

var ctx = context.Background()

// openSQLite returns an opener for the conformance suite: each test gets its
// own database file, and opening again for the same test reopens that file.
func openSQLite() func(t *testing.T) revocation.Store {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	return func(t *testing.T) revocation.Store {
		mu.Lock()
		path, ok := paths[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "revocations.db")
			paths[t] = path
		}
		mu.Unlock()
		s, err := revocation.OpenSQLite(ctx, path, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func TestSQLiteConformance(t *testing.T) {
	revocationtest.Run(t, openSQLite())
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestSQLiteMatchDoesNoIO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := revocation.OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// With the database closed, Match still answers from memory.
	got, err := s.Match(ctx, revocation.Query{Subject: "svc"})
	if err != nil || got == nil || got.ID != r.ID {
		t.Fatalf("Match after Close = %+v, %v", got, err)
	}
}

func TestSQLiteMatchAllocs(t *testing.T) {
	s, err := revocation.OpenSQLite(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	q := revocation.Query{Subject: "svc", Issuer: "https://i.example", JTI: "not-revoked", Binding: "b"}
	allocs := testing.AllocsPerRun(100, func() {
		if r, _ := s.Match(ctx, q); r != nil {
			t.Fatal("unexpected match")
		}
	})
	if allocs != 0 {
		t.Fatalf("Match without a hit allocates %v times, want 0", allocs)
	}
}

func TestSQLiteExpiryWithFakeClockAndPurge(t *testing.T) {
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := revocation.OpenSQLite(ctx, path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Match(ctx, revocation.Query{JTI: "j"}); got == nil || got.ID != r.ID {
		t.Fatalf("Match before expiry = %+v", got)
	}
	clk.Advance(time.Hour)
	if got, _ := s.Match(ctx, revocation.Query{JTI: "j"}); got != nil {
		t.Fatalf("Match at ExpiresAt = %+v, want nil", got)
	}
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	if err := s.Remove(ctx, r.ID); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("Remove after purge: %v, want ErrNotFound", err)
	}
	// Expired rows left in the file are dropped at open.
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "k", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	clk.Advance(time.Minute)
	s2, err := revocation.OpenSQLite(ctx, path, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, _ := s2.PurgeExpired(ctx); n != 0 {
		t.Fatalf("open left %d expired rows", n)
	}
}

func TestSQLiteSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := revocation.OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sqlitedb.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := sqlitedb.Version(ctx, db, "revocation")
	if err != nil || v < 1 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE schema_version SET version = 99 WHERE name = 'revocation'`); err != nil {
		t.Fatal(err)
	}
	if _, err := revocation.OpenSQLite(ctx, path, nil); !errors.Is(err, sqlitedb.ErrSchemaTooNew) {
		t.Fatalf("open newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

func BenchmarkSQLiteMatch(b *testing.B) {
	s, err := revocation.OpenSQLite(ctx, filepath.Join(b.TempDir(), "r.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "s" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	q := revocation.Query{Subject: "not-revoked", Issuer: "https://i.example", JTI: "j", Binding: "b", Fingerprint: "fp1:x"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Match(ctx, q)
		}
	})
}
