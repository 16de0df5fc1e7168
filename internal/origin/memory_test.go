package origin_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/origin"
	"github.com/provost-dev/provost/internal/origin/origintest"
)

// openMemory returns an opener for the conformance suite: each test gets
// its own store, and opening again for the same test returns that store
// (Memory has no Close, so the suite's reopen finds it as it was).
func openMemory(newStore func() *origin.Memory) func(t *testing.T) origin.Store {
	var mu sync.Mutex
	stores := map[*testing.T]*origin.Memory{}
	return func(t *testing.T) origin.Store {
		mu.Lock()
		defer mu.Unlock()
		s, ok := stores[t]
		if !ok {
			s = newStore()
			stores[t] = s
		}
		return s
	}
}

func TestMemoryConformance(t *testing.T) {
	origintest.Run(t, openMemory(origin.NewMemory))
}

// TestMemoryConformanceSmallLimit runs the suite with a cap just above the
// most credentials one of its tests uses.
func TestMemoryConformanceSmallLimit(t *testing.T) {
	origintest.Run(t, openMemory(func() *origin.Memory { return origin.NewMemoryLimit(2) }))
}

var t0 = time.Date(2031, 3, 4, 5, 6, 7, 123456000, time.UTC)

func TestMemoryCredentialLimit(t *testing.T) {
	const limit = 3
	s := origin.NewMemoryLimit(limit)
	fps := make([]string, limit+2)
	for i := range fps {
		fps[i] = origintest.NewFingerprint(t)
	}
	use := func(i int, at time.Time) {
		t.Helper()
		if err := s.Record(ctx, origin.Use{Fingerprint: fps[i], Origin: origin.Origin{Network: "n" + strconv.Itoa(i)}, At: at, Allowed: true}); err != nil {
			t.Fatal(err)
		}
	}
	uses := func(i int) int64 {
		t.Helper()
		h, err := s.Lookup(ctx, fps[i])
		if err != nil {
			t.Fatal(err)
		}
		return h.Uses
	}
	for i := range limit {
		use(i, t0)
	}
	// Recording credential 0 again makes 1 the least recently recorded,
	// even though its uses are later in time: eviction follows the order
	// of recording, not of At.
	use(0, t0.Add(-time.Hour))
	use(limit, t0) // evicts 1
	if s.Len() != limit {
		t.Fatalf("Len = %d, want %d", s.Len(), limit)
	}
	for i, want := range []int64{2, 0, 1, 1} {
		if got := uses(i); got != want {
			t.Fatalf("credential %d: Uses = %d, want %d", i, got, want)
		}
	}
	// Lookup does not count as recent: 2 is now the least recently recorded.
	use(limit+1, t0)
	if uses(2) != 0 || uses(0) != 2 || uses(limit) != 1 || uses(limit+1) != 1 {
		t.Fatalf("after one more credential: uses %d %d %d %d", uses(0), uses(2), uses(limit), uses(limit+1))
	}
	// A forgotten credential starts over.
	use(1, t0.Add(time.Hour))
	if h, _ := s.Lookup(ctx, fps[1]); h.Uses != 1 || len(h.Origins) != 1 || !h.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("forgotten credential used again: %+v", h)
	}
	if s.Len() != limit {
		t.Fatalf("Len = %d, want %d", s.Len(), limit)
	}
}

func TestMemoryLimitDefault(t *testing.T) {
	for _, n := range []int{0, -1} {
		s := origin.NewMemoryLimit(n)
		for range 10 {
			if err := s.Record(ctx, origin.Use{Fingerprint: origintest.NewFingerprint(t), At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		if s.Len() != 10 {
			t.Fatalf("NewMemoryLimit(%d): Len = %d after 10 credentials, want 10", n, s.Len())
		}
	}
}

func TestMemoryLookupReturnsCopy(t *testing.T) {
	s := origin.NewMemory()
	fp := origintest.NewFingerprint(t)
	o := origin.Origin{Workload: "spiffe://example.org/a"}
	if err := s.Record(ctx, origin.Use{Fingerprint: fp, Binding: "b", Origin: o, At: t0, Allowed: true, Learn: true}); err != nil {
		t.Fatal(err)
	}
	h, _ := s.Lookup(ctx, fp)
	h.Origins[0].Uses = 99
	h.Origins[0].Origin.Workload = "changed"
	l, _ := s.Learned(ctx, "b", time.Time{})
	l[0].Uses = 99
	h, _ = s.Lookup(ctx, fp)
	l, _ = s.Learned(ctx, "b", time.Time{})
	if h.Origins[0].Uses != 1 || h.Origins[0].Origin != o || l[0].Uses != 1 {
		t.Fatalf("the store changed through a returned value: %+v, %+v", h, l)
	}
}

func TestMemoryLearnedCap(t *testing.T) {
	s := origin.NewMemory()
	fp := origintest.NewFingerprint(t)
	net := func(i int) origin.Origin { return origin.Origin{Network: "n" + strconv.Itoa(i)} }
	learn := func(i int, at time.Time) {
		t.Helper()
		if err := s.Record(ctx, origin.Use{Fingerprint: fp, Binding: "b", Origin: net(i), At: at, Learn: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Origin 0 is the least recently seen, though recorded last.
	for i := 1; i <= origin.MaxLearned; i++ {
		learn(i, t0.Add(time.Duration(i)*time.Second))
	}
	learn(0, t0)
	l, err := s.Learned(ctx, "b", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != origin.MaxLearned || l[0].Origin != net(origin.MaxLearned) || l[len(l)-1].Origin != net(1) {
		t.Fatalf("Learned kept %d, first %s, last %s; want %d, %s, %s (the new, least recently seen origin evicted)",
			len(l), l[0].Origin, l[len(l)-1].Origin, origin.MaxLearned, net(origin.MaxLearned), net(1))
	}
	// Using a kept origin again evicts nothing; a new one evicts the oldest.
	learn(1, t0.Add(time.Hour))
	learn(origin.MaxLearned+1, t0.Add(2*time.Hour))
	l, _ = s.Learned(ctx, "b", time.Time{})
	if len(l) != origin.MaxLearned || l[0].Origin != net(origin.MaxLearned+1) || l[1].Origin != net(1) || l[1].Uses != 2 ||
		l[len(l)-1].Origin != net(3) {
		t.Fatalf("after reuse and one more: %d kept, first %s %s, last %s", len(l), l[0].Origin, l[1].Origin, l[len(l)-1].Origin)
	}
	// The other binding and the credential's own history are apart.
	if l, _ := s.Learned(ctx, "other", time.Time{}); len(l) != 0 {
		t.Fatalf("other binding learned %d", len(l))
	}
	if h, _ := s.Lookup(ctx, fp); h.Uses != origin.MaxLearned+3 || len(h.Origins) != origin.MaxOrigins {
		t.Fatalf("history: uses %d, %d origins", h.Uses, len(h.Origins))
	}
}

// TestMemoryMatchesSQLite records the same random uses in a Memory and an
// SQLite store and checks that every Lookup and Learned answer is the same:
// uses out of order in time, ties on LastSeen, allowed and refused uses,
// more origins than MaxOrigins per credential and than MaxLearned per
// binding, and times with sub-microsecond digits in other zones.
func TestMemoryMatchesSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("records two thousand uses in SQLite")
	}
	sq, err := origin.OpenSQLite(ctx, filepath.Join(t.TempDir(), "origin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	mem := origin.NewMemory()
	rng := rand.New(rand.NewPCG(1, 2))
	fps := []string{origintest.NewFingerprint(t), origintest.NewFingerprint(t), origintest.NewFingerprint(t)}
	bindings := []string{"ci", "vendor"}
	zone := time.FixedZone("X", -7*3600)
	randomAt := func(spread int) time.Time {
		// Whole seconds most of the time, so LastSeen and FirstSeen tie.
		at := t0.Add(time.Duration(rng.IntN(spread)) * time.Second)
		if rng.IntN(4) == 0 {
			at = at.Add(time.Duration(rng.IntN(2000)) * time.Nanosecond).In(zone)
		}
		return at
	}
	both := func(u origin.Use) {
		t.Helper()
		if err := sq.Record(ctx, u); err != nil {
			t.Fatalf("SQLite Record: %v", err)
		}
		if err := mem.Record(ctx, u); err != nil {
			t.Fatalf("Memory Record: %v", err)
		}
	}
	compare := func(when string) {
		t.Helper()
		compareStores(t, when, mem, sq, fps, append(bindings, "big", "none"), zone)
	}
	// Credentials: origins from a pool larger than MaxOrigins.
	for i := range diffUses {
		both(origin.Use{
			Fingerprint: fps[rng.IntN(len(fps))],
			Binding:     bindings[rng.IntN(len(bindings))],
			Origin:      origin.Origin{Workload: "w" + strconv.Itoa(rng.IntN(3)), Network: "n" + strconv.Itoa(rng.IntN(40))},
			At:          randomAt(300),
			Allowed:     rng.IntN(3) > 0,
			Learn:       rng.IntN(2) == 0,
		})
		if i%20 == 19 {
			compare(fmt.Sprintf("after %d uses", i+1))
		}
	}
	for _, fp := range fps {
		if h, _ := mem.Lookup(ctx, fp); len(h.Origins) != origin.MaxOrigins {
			t.Fatalf("credential kept %d origins, want the test to fill MaxOrigins (%d)", len(h.Origins), origin.MaxOrigins)
		}
	}
	// One binding: more distinct origins than MaxLearned, some used twice.
	networks := rng.Perm(origin.MaxLearned + 100)
	if !diffLearnedCap {
		networks = networks[:100]
	}
	for range 200 {
		networks = append(networks, rng.IntN(len(networks)))
	}
	for i, n := range networks {
		both(origin.Use{
			Fingerprint: fps[0],
			Binding:     "big",
			Origin:      origin.Origin{Network: "n" + strconv.Itoa(n)},
			At:          randomAt(400),
			Allowed:     rng.IntN(2) == 0,
			Learn:       true,
		})
		if i >= min(origin.MaxLearned, len(networks)-100) && i%5 == 4 {
			compare(fmt.Sprintf("after %d learned uses", i+1))
		}
	}
	compare("at the end")
	if l, _ := mem.Learned(ctx, "big", time.Time{}); diffLearnedCap && len(l) != origin.MaxLearned {
		t.Fatalf("binding kept %d learned origins, want the test to fill MaxLearned (%d)", len(l), origin.MaxLearned)
	}
}

// compareStores checks that got answers as want does: the history of
// every credential in fps (none when fps is empty) and the Learned of every
// binding, with since before, inside and after the uses, and between
// microseconds.
func compareStores(t *testing.T, when string, got, want origin.Store, fps, bindings []string, zone *time.Location) {
	t.Helper()
	for _, fp := range fps {
		w, err := want.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		g, err := got.Lookup(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if !sameSeen(g.Origins, w.Origins) || !g.LastSeen.Equal(w.LastSeen) || g.Uses != w.Uses {
			t.Fatalf("%s: Lookup differs:\ngot  %s\nwant %s", when, describe(g.LastSeen, g.Uses, g.Origins), describe(w.LastSeen, w.Uses, w.Origins))
		}
	}
	for _, b := range bindings {
		for _, since := range []time.Time{{}, t0, t0.Add(150 * time.Second), t0.Add(150*time.Second + 500*time.Nanosecond).In(zone), t0.Add(time.Hour)} {
			w, err := want.Learned(ctx, b, since)
			if err != nil {
				t.Fatal(err)
			}
			g, err := got.Learned(ctx, b, since)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSeen(g, w) {
				t.Fatalf("%s: Learned(%q, %s) differs:\ngot  %s\nwant %s", when, b, since, describe(time.Time{}, 0, g), describe(time.Time{}, 0, w))
			}
		}
	}
}

func sameSeen(a, b []origin.Seen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Origin != b[i].Origin || !a[i].FirstSeen.Equal(b[i].FirstSeen) || !a[i].LastSeen.Equal(b[i].LastSeen) ||
			a[i].Uses != b[i].Uses || a[i].Allowed != b[i].Allowed ||
			a[i].FirstSeen.Location() != b[i].FirstSeen.Location() || a[i].LastSeen.Location() != b[i].LastSeen.Location() {
			return false
		}
	}
	return true
}

func describe(last time.Time, uses int64, list []origin.Seen) string {
	s := fmt.Sprintf("last=%s uses=%d", last.Format(time.RFC3339Nano), uses)
	for _, o := range list {
		s += fmt.Sprintf("\n  {%s first=%s last=%s uses=%d allowed=%d}", o.Origin,
			o.FirstSeen.Format(time.RFC3339Nano), o.LastSeen.Format(time.RFC3339Nano), o.Uses, o.Allowed)
	}
	return s
}
