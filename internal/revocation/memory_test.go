package revocation_test

import (
	"errors"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/revocation/revocationtest"
)

// openMemory returns an opener for the conformance suite: each test gets
// its own store, and opening again for the same test returns that store
// (Memory has no Close, so the suite's reopen finds it as it was).
func openMemory() func(t *testing.T) revocation.Store {
	var mu sync.Mutex
	stores := map[*testing.T]*revocation.Memory{}
	return func(t *testing.T) revocation.Store {
		mu.Lock()
		defer mu.Unlock()
		s, ok := stores[t]
		if !ok {
			s = revocation.NewMemory(time.Now)
			stores[t] = s
		}
		return s
	}
}

func TestMemoryConformance(t *testing.T) {
	revocationtest.Run(t, openMemory())
}

func TestMemoryMatchAllocs(t *testing.T) {
	s := revocation.NewMemory(nil)
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

func TestMemoryMatchReturnsCopy(t *testing.T) {
	s := revocation.NewMemory(nil)
	r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc", Reason: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Match(ctx, revocation.Query{Subject: "svc"})
	got.Value, got.Reason = "other", "changed"
	list, _ := s.List(ctx)
	list[0].Reason = "changed too"
	if again, _ := s.Match(ctx, revocation.Query{Subject: "svc"}); again == nil || again.ID != r.ID || again.Reason != "leaked" {
		t.Fatalf("the store changed through a returned value: %+v", again)
	}
}

func TestMemoryTimesLikeSQLite(t *testing.T) {
	zone := time.FixedZone("X", 5*3600)
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 123456789, zone)}
	s := revocation.NewMemory(clk.Now)
	r, err := s.Add(ctx, revocation.Revocation{
		Kind: revocation.KindSubject, Value: "svc",
		IssuedBefore: time.Date(2029, 1, 1, 0, 0, 0, 999, zone),
		ExpiresAt:    clk.Now().Add(time.Hour + 500*time.Nanosecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", r.CreatedAt, clk.Now().Truncate(time.Microsecond)},
		{"IssuedBefore", r.IssuedBefore, time.Date(2029, 1, 1, 0, 0, 0, 0, zone)},
		{"ExpiresAt", r.ExpiresAt, clk.Now().Add(time.Hour + 500*time.Nanosecond).Truncate(time.Microsecond)},
	} {
		if !tm.got.Equal(tm.want) || tm.got.Location() != time.UTC || tm.got.Nanosecond()%1000 != 0 {
			t.Errorf("%s = %v, want %v in UTC to the microsecond", tm.name, tm.got, tm.want)
		}
	}
	if !regexp.MustCompile(`^rev_[0-9a-f]{32}$`).MatchString(r.ID) {
		t.Errorf("ID %q is not rev_ and 32 hex digits", r.ID)
	}
}

func TestMemoryExpiryWithFakeClockAndPurge(t *testing.T) {
	clk := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := revocation.NewMemory(clk.Now)
	r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "j", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Match(ctx, revocation.Query{JTI: "j"}); got == nil || got.ID != r.ID {
		t.Fatalf("Match before expiry = %+v", got)
	}
	clk.Advance(time.Hour - time.Microsecond)
	if got, _ := s.Match(ctx, revocation.Query{JTI: "j"}); got == nil {
		t.Fatal("Match one microsecond before ExpiresAt = nil")
	}
	clk.Advance(time.Microsecond)
	if got, _ := s.Match(ctx, revocation.Query{JTI: "j"}); got != nil {
		t.Fatalf("Match at ExpiresAt = %+v, want nil", got)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("List at ExpiresAt = %v, want none", list)
	}
	// Expired and not yet purged: still there to remove, as in SQLite.
	if err := s.Remove(ctx, r.ID); err != nil {
		t.Fatalf("Remove expired, not yet purged: %v", err)
	}
	r, err = s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "k", ExpiresAt: clk.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	n, err := s.PurgeExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PurgeExpired = %d, %v; want 1", n, err)
	}
	if err := s.Remove(ctx, r.ID); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("Remove after purge: %v, want ErrNotFound", err)
	}
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "m", ExpiresAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// Add purges by itself once a minute has passed since the last purge.
	clk.Advance(time.Minute)
	if _, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: "l"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.PurgeExpired(ctx); n != 0 {
		t.Fatalf("Add left %d expired revocations", n)
	}
	if list, _ := s.List(ctx); len(list) != 1 || list[0].Value != "l" {
		t.Fatalf("List = %+v, want only l", list)
	}
}
