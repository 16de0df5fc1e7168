package revocation_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/pgdb"
	"github.com/provost-dev/provost/internal/pgdb/pgdbtest"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/revocation/revocationtest"
)

// openPostgres returns an opener for the conformance suite: each test gets
// its own fresh schema, and opening again for the same test opens a new
// store, on a new pool, over that schema (as a restarted replica would).
func openPostgres() func(t *testing.T) revocation.Store {
	var mu sync.Mutex
	cfgs := map[*testing.T]pgdb.Config{}
	return func(t *testing.T) revocation.Store {
		mu.Lock()
		cfg, ok := cfgs[t]
		mu.Unlock()
		if !ok {
			cfg = pgdbtest.FreshSchema(t)
			mu.Lock()
			cfgs[t] = cfg
			mu.Unlock()
		}
		return openPostgresStore(t, cfg, time.Now)
	}
}

// openPostgresStore opens a store on a pool of its own, closing both when
// the test ends.
func openPostgresStore(t *testing.T, cfg pgdb.Config, now func() time.Time) *revocation.Postgres {
	t.Helper()
	pool := pgdbtest.Open(t, cfg)
	s, err := revocation.OpenPostgres(ctx, pool, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	pgdbtest.Require(t)
	revocationtest.Run(t, openPostgres())
}

// TestPostgresReplicas: a revocation added through one replica is matched
// by another once it refreshes, and so is its removal; each replica sees its
// own writes at once.
func TestPostgresReplicas(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	a := openPostgresStore(t, cfg, nil)
	b := openPostgresStore(t, cfg, nil)
	q := revocation.Query{Subject: "vendor-sync", Issuer: "https://i.example"}

	r, err := a.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "vendor-sync", Reason: "handoff"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Match(ctx, q); err != nil || got == nil || got.ID != r.ID {
		t.Fatalf("writer's Match = %+v, %v; want %s", got, err, r.ID)
	}
	if got, _ := b.Match(ctx, q); got != nil {
		t.Fatalf("other replica matched %s before Refresh: its index should be the one loaded at open", got.ID)
	}
	if list, err := b.List(ctx); err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("other replica's List (reads the table) = %+v, %v", list, err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.Match(ctx, q)
	if err != nil || got == nil || got.ID != r.ID || !got.CreatedAt.Equal(r.CreatedAt) || got.Reason != r.Reason {
		t.Fatalf("other replica's Match after Refresh = %+v, %v; want %+v", got, err, r)
	}

	// A store opened later loads it at open.
	c := openPostgresStore(t, cfg, nil)
	if got, _ := c.Match(ctx, q); got == nil || got.ID != r.ID {
		t.Fatalf("replica opened later: Match = %+v", got)
	}

	// Removal travels the same way; removing what the other replica
	// already removed is ErrNotFound and forgets it locally.
	if err := a.Remove(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Match(ctx, q); got != nil {
		t.Fatalf("writer still matches %s after Remove", got.ID)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Match(ctx, q); got != nil {
		t.Fatalf("other replica still matches %s after Refresh", got.ID)
	}
	if err := c.Remove(ctx, r.ID); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("Remove of a revocation another replica removed: %v, want ErrNotFound", err)
	}
	if got, _ := c.Match(ctx, q); got != nil {
		t.Fatalf("replica kept %s after its Remove found it gone", got.ID)
	}

	// A replica can remove what another added, before any Refresh.
	r2, err := b.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Remove(ctx, r2.ID); err != nil {
		t.Fatalf("Remove of another replica's revocation: %v", err)
	}
}

// TestPostgresRefreshKeepsOwnWrites runs Refresh over and over while adding:
// a reload must never drop a write of this store that Add already returned.
func TestPostgresRefreshKeepsOwnWrites(t *testing.T) {
	s := openPostgresStore(t, pgdbtest.FreshSchema(t), nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Refresh(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var added []revocation.Revocation
	for i := range 40 {
		r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, r)
		for _, r := range added {
			if got, _ := s.Match(ctx, revocation.Query{JTI: r.Value}); got == nil || got.ID != r.ID {
				close(stop)
				wg.Wait()
				t.Fatalf("Match(%s) = %+v during Refresh, want %s", r.Value, got, r.ID)
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestPostgresReplicasOpenTogether(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	stores := make([]*revocation.Postgres, 4)
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i := range stores {
		pool := pgdbtest.Open(t, cfg)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := revocation.OpenPostgres(ctx, pool, nil)
			errs[i] = err
			stores[i] = s
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
}

func TestPostgresMatchDoesNoIO(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	pool := pgdbtest.Open(t, cfg)
	s, err := revocation.OpenPostgres(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	pool.Close()
	// With the pool closed, Match still answers from memory...
	got, err := s.Match(ctx, revocation.Query{Subject: "svc"})
	if err != nil || got == nil || got.ID != r.ID {
		t.Fatalf("Match after pool Close = %+v, %v", got, err)
	}
	// ...and a failed Refresh leaves the index as it was.
	if err := s.Refresh(ctx); err == nil {
		t.Fatal("Refresh on a closed pool: no error")
	}
	if got, _ := s.Match(ctx, revocation.Query{Subject: "svc"}); got == nil {
		t.Fatal("a failed Refresh emptied the index")
	}
}

func TestPostgresCloseLeavesPoolOpen(t *testing.T) {
	pool := pgdbtest.Open(t, pgdbtest.FreshSchema(t))
	s, err := revocation.OpenPostgres(ctx, pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("pool unusable after the store's Close: %v", err)
	}
}

func TestPostgresMatchAllocs(t *testing.T) {
	s := openPostgresStore(t, pgdbtest.FreshSchema(t), nil)
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

func TestPostgresExpiryWithFakeClockAndPurge(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := openPostgresStore(t, cfg, clk.Now)
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
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List at ExpiresAt = %+v, %v; want empty", list, err)
	}
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	if err := s.Remove(ctx, r.ID); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("Remove after purge: %v, want ErrNotFound", err)
	}
	// Expired rows left in the table are dropped at open.
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "k", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	s2 := openPostgresStore(t, cfg, clk.Now)
	if n, _ := s2.PurgeExpired(ctx); n != 0 {
		t.Fatalf("open left %d expired rows", n)
	}
}

func TestPostgresSchemaVersion(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	pool := pgdbtest.Open(t, cfg)
	if _, err := revocation.OpenPostgres(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	v, err := pgdb.Version(ctx, pool, "revocation")
	if err != nil || v < 1 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE schema_version SET version = 99 WHERE name = 'revocation'`); err != nil {
		t.Fatal(err)
	}
	if _, err := revocation.OpenPostgres(ctx, pool, nil); !errors.Is(err, pgdb.ErrSchemaTooNew) {
		t.Fatalf("open newer schema: err = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenPostgresNilPool(t *testing.T) {
	if _, err := revocation.OpenPostgres(ctx, nil, nil); err == nil {
		t.Fatal("OpenPostgres(nil pool): no error")
	}
}

// waitMatch polls m until it matches q (or not, when want is false).
func waitMatch(t *testing.T, m *revocation.Postgres, q revocation.Query, want bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := m.Match(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if (got != nil) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Match = %+v after 10s, want matched=%v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Follow carries a revocation added on one replica to another through
// LISTEN/NOTIFY (the reconcile interval is long, so the notification is
// what carries it), and its removal too.
func TestPostgresFollowNotifications(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	a := openPostgresStore(t, cfg, nil)
	b := openPostgresStore(t, cfg, nil)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Follow(fctx, time.Hour, func(err error) { t.Log(err) })
	q := revocation.Query{Fingerprint: fingerprintFor(t)}
	// Follow's first refresh runs once it listens; a write before that is
	// read by it, a write after is notified: either way b must see it.
	r, err := a.Add(ctx, revocation.Revocation{Kind: revocation.KindFingerprint, Value: q.Fingerprint, Reason: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	waitMatch(t, b, q, true)
	if err := a.Remove(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, b, q, false)
}

// A change that no notification announced (written straight into the
// table) is healed by the periodic reconcile.
func TestPostgresFollowReconciles(t *testing.T) {
	cfg := pgdbtest.FreshSchema(t)
	b := openPostgresStore(t, cfg, nil)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go b.Follow(fctx, 100*time.Millisecond, nil)
	pool := pgdbtest.Open(t, cfg)
	fp := fingerprintFor(t)
	if _, err := pool.Exec(ctx, `INSERT INTO revocation (id, kind, value, issuer, reason, created_at)
		VALUES ('rev_manual', 'fingerprint', $1, '', 'written by hand', now())`, fp); err != nil {
		t.Fatal(err)
	}
	waitMatch(t, b, revocation.Query{Fingerprint: fp}, true)
}

// fingerprintFor is a fingerprint under a fresh secret.
func fingerprintFor(t *testing.T) string {
	t.Helper()
	secret := make([]byte, fingerprint.SecretSize)
	rand.Read(secret)
	f, err := fingerprint.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return f.Of("credential")
}
