package origin

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
)

func seenN(n int) History {
	h := History{Uses: int64(n)}
	for i := range n {
		h.Origins = append(h.Origins, Seen{Origin: Origin{Network: string(rune('a' + i))}, Uses: 1})
	}
	return h
}

func TestCacheBudgetAndGenerations(t *testing.T) {
	c := newCache(5)
	c.set("a", seenN(2))
	c.set("b", seenN(2))
	if _, ok, _ := c.get("a"); !ok { // a is now the most recent
		t.Fatal("a not cached")
	}
	c.set("c", seenN(2)) // 6 > 5: evicts b, the least recently used
	if _, ok, _ := c.get("b"); ok {
		t.Fatal("b not evicted")
	}
	if _, ok, _ := c.get("a"); !ok {
		t.Fatal("a evicted though recently used")
	}
	if c.used != 4 || len(c.byFP) != 2 || c.lru.Len() != 2 {
		t.Fatalf("used %d, %d entries, %d in list", c.used, len(c.byFP), c.lru.Len())
	}
	c.set("big", seenN(6)) // larger than the budget: not kept
	if _, ok, _ := c.get("big"); ok || c.used != 4 {
		t.Fatalf("over-budget history cached (used %d)", c.used)
	}
	c.set("empty", History{})
	if _, ok, _ := c.get("empty"); ok {
		t.Fatal("empty history cached")
	}

	// A fill from a read that overlapped a write is dropped.
	_, ok, gen := c.get("d")
	if ok {
		t.Fatal("d cached")
	}
	c.set("e", seenN(1))
	c.fill("d", seenN(1), gen)
	if _, ok, _ := c.get("d"); ok {
		t.Fatal("stale fill was kept")
	}
	_, _, gen = c.get("d")
	c.fill("d", seenN(1), gen)
	if _, ok, _ := c.get("d"); !ok {
		t.Fatal("fill without an overlapping write was dropped")
	}
	c.drop("d")
	if _, ok, _ := c.get("d"); ok {
		t.Fatal("dropped entry still cached")
	}

	// Callers get copies.
	h, _, _ := c.get("a")
	h.Origins[0].Uses = 99
	if h2, _, _ := c.get("a"); h2.Origins[0].Uses != 1 {
		t.Fatal("caller changed the cached history")
	}
}

// TestSQLiteCacheMatchesDatabase records random uses, with late ones,
// refusals and more origins than MaxOrigins, and checks that every history
// the store answers from memory equals what a reopened store reads.
func TestSQLiteCacheMatchesDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	secret := make([]byte, fingerprint.SecretSize)
	f, _ := fingerprint.New(secret)
	fps := []string{f.Of("a"), f.Of("b"), f.Of("c")}
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 140 {
		fp, network := fps[rng.IntN(len(fps))], rng.IntN(70)
		if i < 70 {
			fp, network = fps[0], i // fps[0] goes over the cap
		}
		if i%7 == 0 {
			if _, err := s.Lookup(ctx, fp); err != nil { // fill from the database now and then
				t.Fatal(err)
			}
		}
		u := Use{
			Fingerprint: fp, Origin: Origin{Network: strconv.Itoa(network)},
			At: t0.Add(time.Duration(rng.IntN(1000)) * time.Second), Allowed: rng.IntN(3) > 0,
		}
		if err := s.Record(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	cached := map[string]History{}
	for _, fp := range fps {
		h, err := s.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.cache.get(fp); !ok {
			t.Fatalf("%s not answered from memory", fp)
		}
		cached[fp] = h
	}
	s.Close()
	s2, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, fp := range fps {
		want, err := s2.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		got := cached[fp]
		if fp == fps[0] && len(want.Origins) != MaxOrigins {
			t.Fatalf("test did not reach the cap: %d origins", len(want.Origins))
		}
		if !got.LastSeen.Equal(want.LastSeen) || got.Uses != want.Uses || len(got.Origins) != len(want.Origins) {
			t.Fatalf("%s: cached summary %v/%d/%d, database %v/%d/%d", fp, got.LastSeen, got.Uses, len(got.Origins),
				want.LastSeen, want.Uses, len(want.Origins))
		}
		for i := range got.Origins {
			g, w := got.Origins[i], want.Origins[i]
			if g.Origin != w.Origin || !g.FirstSeen.Equal(w.FirstSeen) || !g.LastSeen.Equal(w.LastSeen) || g.Uses != w.Uses || g.Allowed != w.Allowed {
				t.Fatalf("%s Origins[%d]: cached %+v, database %+v", fp, i, g, w)
			}
		}
	}
}

func TestSQLiteLookupHitAllocs(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, _ := fingerprint.New(make([]byte, fingerprint.SecretSize))
	fp := f.Of("x")
	for i := range 3 {
		if err := s.Record(ctx, Use{Fingerprint: fp, Origin: Origin{Network: string(rune('a' + i))}, At: time.Now(), Allowed: true}); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		if h, err := s.Lookup(ctx, fp); err != nil || len(h.Origins) != 3 {
			t.Fatal(h, err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Lookup from memory allocates %v times, want at most 1 (the copy)", allocs)
	}
}

// TestSQLiteLearnedCap fills one binding past MaxLearned in one batch (a
// Record each would be slow) and checks the oldest were evicted.
func TestSQLiteLearnedCap(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, _ := fingerprint.New(make([]byte, fingerprint.SecretSize))
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	const extra = 5
	var uses []Use
	for i := range MaxLearned + extra {
		uses = append(uses, Use{Fingerprint: f.Of(strconv.Itoa(i)), Binding: "ci", Origin: Origin{Network: strconv.Itoa(i)},
			At: t0.Add(time.Duration(i) * time.Second), Learn: true})
	}
	if err := s.RecordBatch(ctx, uses); err != nil {
		t.Fatal(err)
	}
	got, err := s.Learned(ctx, "ci", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxLearned {
		t.Fatalf("Learned kept %d, want %d", len(got), MaxLearned)
	}
	if first, last := got[0].Origin.Network, got[len(got)-1].Origin.Network; first != strconv.Itoa(MaxLearned+extra-1) || last != strconv.Itoa(extra) {
		t.Fatalf("Learned spans %s..%s, want %d..%d", first, last, MaxLearned+extra-1, extra)
	}
}
