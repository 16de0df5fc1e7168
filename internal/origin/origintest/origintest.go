// Package origintest is the conformance suite every origin.Store backend
// must pass. A backend's test calls Run with a function that opens a store:
//
//	func TestConformance(t *testing.T) {
//		origintest.Run(t, func(t *testing.T) origin.Store { ... })
//	}
//
// The open function's contract:
//   - Called with a *testing.T it has not seen, it returns a store over empty
//     data.
//   - Called again with the same *testing.T, it returns a store over the same
//     data as before (the reopen test). Before that second call the suite closes
//     the first store if it implements io.Closer.
//   - The open function registers its own cleanup with t.Cleanup; Close may
//     then be called twice.
//
// Times are compared at microsecond precision, which every backend keeps.
package origintest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/origin"
)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) origin.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) origin.Store)
	}{
		{"RecordLookup", testRecordLookup},
		{"AllowedCounting", testAllowedCounting},
		{"Ordering", testOrdering},
		{"OutOfOrderUses", testOutOfOrder},
		{"FieldsExact", testFieldsExact},
		{"OriginCap", testOriginCap},
		{"Learned", testLearned},
		{"RejectsInvalid", testRejectsInvalid},
		{"ReopenPersists", testReopenPersists},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ctx = context.Background()

// t0 is a fixed time with microsecond precision.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 123456000, time.UTC)

// NewFingerprint returns a fingerprint of a random credential.
func NewFingerprint(t testing.TB) string {
	t.Helper()
	secret := make([]byte, fingerprint.SecretSize)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	f, err := fingerprint.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	return f.Of(rand.Text())
}

func record(t *testing.T, s origin.Store, u origin.Use) {
	t.Helper()
	if err := s.Record(ctx, u); err != nil {
		t.Fatalf("Record(%s at %s): %v", u.Origin, u.At.Format(time.RFC3339Nano), err)
	}
}

func lookup(t *testing.T, s origin.Store, fp string) origin.History {
	t.Helper()
	h, err := s.Lookup(ctx, fp)
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	return h
}

func net(i int) origin.Origin {
	return origin.Origin{Workload: "spiffe://example.org/agent", Network: fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}
}

func describe(h origin.History) string {
	var b strings.Builder
	fmt.Fprintf(&b, "last=%s uses=%d [", h.LastSeen.Format(time.RFC3339Nano), h.Uses)
	for _, s := range h.Origins {
		fmt.Fprintf(&b, "\n  {%s first=%s last=%s uses=%d allowed=%d}", s.Origin,
			s.FirstSeen.Format(time.RFC3339Nano), s.LastSeen.Format(time.RFC3339Nano), s.Uses, s.Allowed)
	}
	return b.String() + "]"
}

func sameSeen(a, b origin.Seen) bool {
	return a.Origin == b.Origin && a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen) &&
		a.Uses == b.Uses && a.Allowed == b.Allowed
}

func sameHistory(a, b origin.History) bool {
	if !a.LastSeen.Equal(b.LastSeen) || a.Uses != b.Uses || len(a.Origins) != len(b.Origins) {
		return false
	}
	for i := range a.Origins {
		if !sameSeen(a.Origins[i], b.Origins[i]) {
			return false
		}
	}
	return true
}

func wantHistory(t *testing.T, got, want origin.History) {
	t.Helper()
	if !sameHistory(got, want) {
		t.Fatalf("history:\n got %s\nwant %s", describe(got), describe(want))
	}
}

func testRecordLookup(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp, other := NewFingerprint(t), NewFingerprint(t)
	if h := lookup(t, s, fp); !sameHistory(h, origin.History{}) {
		t.Fatalf("never recorded: got %s, want the zero History", describe(h))
	}
	a := origin.Origin{Workload: "spiffe://example.org/ci", Network: "203.0.113.0/24", ProxyChain: "edge>mesh", Posture: "hardened"}
	record(t, s, origin.Use{Fingerprint: fp, Binding: "ci", Origin: a, At: t0, Allowed: true})
	record(t, s, origin.Use{Fingerprint: fp, Binding: "ci", Origin: a, At: t0.Add(time.Minute), Allowed: true})
	record(t, s, origin.Use{Fingerprint: other, Origin: net(1), At: t0.Add(time.Hour), Allowed: true})
	wantHistory(t, lookup(t, s, fp), origin.History{
		LastSeen: t0.Add(time.Minute), Uses: 2,
		Origins: []origin.Seen{{Origin: a, FirstSeen: t0, LastSeen: t0.Add(time.Minute), Uses: 2, Allowed: 2}},
	})
	wantHistory(t, lookup(t, s, other), origin.History{
		LastSeen: t0.Add(time.Hour), Uses: 1,
		Origins: []origin.Seen{{Origin: net(1), FirstSeen: t0.Add(time.Hour), LastSeen: t0.Add(time.Hour), Uses: 1, Allowed: 1}},
	})
	// A non-UTC time with sub-microsecond digits is kept as the same instant, to the microsecond.
	odd := time.Date(2031, 3, 4, 10, 6, 7, 987654321, time.FixedZone("X", 3*3600))
	record(t, s, origin.Use{Fingerprint: other, Origin: net(1), At: odd, Allowed: true})
	if h := lookup(t, s, other); !h.LastSeen.Equal(odd.Truncate(time.Microsecond)) {
		t.Fatalf("LastSeen = %s, want %s", h.LastSeen, odd.Truncate(time.Microsecond))
	}
}

func testAllowedCounting(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	good, bad := net(1), net(2)
	record(t, s, origin.Use{Fingerprint: fp, Origin: good, At: t0, Allowed: true})
	record(t, s, origin.Use{Fingerprint: fp, Origin: good, At: t0.Add(1 * time.Second), Allowed: false})
	record(t, s, origin.Use{Fingerprint: fp, Origin: bad, At: t0.Add(2 * time.Second), Allowed: false})
	record(t, s, origin.Use{Fingerprint: fp, Origin: bad, At: t0.Add(3 * time.Second), Allowed: false})
	h := lookup(t, s, fp)
	wantHistory(t, h, origin.History{
		LastSeen: t0.Add(3 * time.Second), Uses: 4,
		Origins: []origin.Seen{
			{Origin: bad, FirstSeen: t0.Add(2 * time.Second), LastSeen: t0.Add(3 * time.Second), Uses: 2, Allowed: 0},
			{Origin: good, FirstSeen: t0, LastSeen: t0.Add(1 * time.Second), Uses: 2, Allowed: 1},
		},
	})
	if _, ok := h.Known(good); !ok {
		t.Error("origin with an allowed use is not known")
	}
	if _, ok := h.Known(bad); ok {
		t.Error("origin with only refused uses is known")
	}
	record(t, s, origin.Use{Fingerprint: fp, Origin: bad, At: t0.Add(4 * time.Second), Allowed: true})
	if _, ok := lookup(t, s, fp).Known(bad); !ok {
		t.Error("origin not known after an allowed use")
	}
}

func testOrdering(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	// Recorded in an order unlike the expected one.
	at := map[int]time.Time{3: t0, 1: t0.Add(2 * time.Minute), 2: t0.Add(time.Minute), 0: t0.Add(3 * time.Minute)}
	for _, i := range []int{2, 0, 3, 1} {
		record(t, s, origin.Use{Fingerprint: fp, Origin: net(i), At: at[i], Allowed: true})
	}
	// Use 3 again, last: it moves to the front.
	record(t, s, origin.Use{Fingerprint: fp, Origin: net(3), At: t0.Add(4 * time.Minute), Allowed: true})
	// Ties on LastSeen: the more recent FirstSeen first, then by the fields.
	tieA := origin.Origin{Network: "b"}
	tieB := origin.Origin{Network: "a"}
	tieC := origin.Origin{Network: "c"}
	record(t, s, origin.Use{Fingerprint: fp, Origin: tieC, At: t0.Add(5 * time.Minute)})
	record(t, s, origin.Use{Fingerprint: fp, Origin: tieC, At: t0.Add(6 * time.Minute)})
	for _, o := range []origin.Origin{tieA, tieB} {
		record(t, s, origin.Use{Fingerprint: fp, Origin: o, At: t0.Add(6 * time.Minute)})
	}
	h := lookup(t, s, fp)
	want := []origin.Origin{tieB, tieA, tieC, net(3), net(0), net(1), net(2)}
	if len(h.Origins) != len(want) {
		t.Fatalf("got %s", describe(h))
	}
	for i := range want {
		if h.Origins[i].Origin != want[i] {
			t.Fatalf("Origins[%d] = %s, want %s; history %s", i, h.Origins[i].Origin, want[i], describe(h))
		}
	}
	if !h.LastSeen.Equal(t0.Add(6*time.Minute)) || h.Uses != 9 {
		t.Fatalf("summary: %s", describe(h))
	}
}

func testOutOfOrder(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	o := net(7)
	record(t, s, origin.Use{Fingerprint: fp, Origin: o, At: t0.Add(time.Hour), Allowed: true})
	// A use recorded late (another replica) does not move LastSeen back.
	record(t, s, origin.Use{Fingerprint: fp, Origin: o, At: t0, Allowed: true})
	record(t, s, origin.Use{Fingerprint: fp, Origin: o, At: t0.Add(30 * time.Minute), Allowed: false})
	wantHistory(t, lookup(t, s, fp), origin.History{
		LastSeen: t0.Add(time.Hour), Uses: 3,
		Origins: []origin.Seen{{Origin: o, FirstSeen: t0, LastSeen: t0.Add(time.Hour), Uses: 3, Allowed: 2}},
	})
}

func testFieldsExact(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	// Origins that differ only in separators, escapes, emptiness or case.
	origins := []origin.Origin{
		{},
		{Workload: "spiffe://example.org/a"},
		{Workload: "spiffe://example.org/A"},
		{Workload: "a|b"},
		{Workload: "a", Network: "b"},
		{Workload: `a\`, Network: "b"},
		{Workload: `a\|b`},
		{ProxyChain: "edge>mesh"},
		{ProxyChain: "edge", Posture: ">mesh"},
		{Posture: "héllo wörld"},
		{Network: "2001:db8::/64", ProxyChain: "a|b>c", Posture: "|"},
	}
	for i, o := range origins {
		record(t, s, origin.Use{Fingerprint: fp, Origin: o, At: t0.Add(time.Duration(len(origins)-i) * time.Second), Allowed: true})
	}
	h := lookup(t, s, fp)
	if len(h.Origins) != len(origins) {
		t.Fatalf("%d distinct origins stored as %d: %s", len(origins), len(h.Origins), describe(h))
	}
	for i, o := range origins {
		if h.Origins[i].Origin != o || h.Origins[i].Uses != 1 {
			t.Fatalf("Origins[%d] = %#v (uses %d), want %#v", i, h.Origins[i].Origin, h.Origins[i].Uses, o)
		}
	}
}

func testOriginCap(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	const extra = 6
	n := origin.MaxOrigins + extra
	for i := range n {
		record(t, s, origin.Use{Fingerprint: fp, Origin: net(i), At: t0.Add(time.Duration(i) * time.Second), Allowed: true})
	}
	h := lookup(t, s, fp)
	if len(h.Origins) != origin.MaxOrigins {
		t.Fatalf("kept %d origins, want %d", len(h.Origins), origin.MaxOrigins)
	}
	if h.Uses != int64(n) {
		t.Fatalf("Uses = %d, want %d (evicted origins' uses still count)", h.Uses, n)
	}
	for j, seen := range h.Origins {
		if want := net(n - 1 - j); seen.Origin != want {
			t.Fatalf("Origins[%d] = %s, want %s", j, seen.Origin, want)
		}
	}
	for i := range extra {
		if _, ok := h.Known(net(i)); ok {
			t.Fatalf("oldest origin %s was not evicted", net(i))
		}
	}
	// Using a kept origin again does not evict anything.
	record(t, s, origin.Use{Fingerprint: fp, Origin: net(extra), At: t0.Add(time.Hour), Allowed: true})
	h = lookup(t, s, fp)
	if len(h.Origins) != origin.MaxOrigins || h.Origins[0].Origin != net(extra) || h.Origins[0].Uses != 2 {
		t.Fatalf("after reuse: %d origins, first %s uses %d", len(h.Origins), h.Origins[0].Origin, h.Origins[0].Uses)
	}
	if h.Origins[len(h.Origins)-1].Origin != net(extra+1) {
		t.Fatalf("after reuse, oldest = %s, want %s", h.Origins[len(h.Origins)-1].Origin, net(extra+1))
	}
	// An evicted origin comes back new, and evicts the now oldest.
	record(t, s, origin.Use{Fingerprint: fp, Origin: net(0), At: t0.Add(2 * time.Hour), Allowed: false})
	h = lookup(t, s, fp)
	if len(h.Origins) != origin.MaxOrigins || h.Origins[0].Origin != net(0) || h.Origins[0].Uses != 1 ||
		!h.Origins[0].FirstSeen.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("evicted origin back: %d origins, first %+v", len(h.Origins), h.Origins[0])
	}
	if _, ok := h.Known(net(extra + 1)); ok {
		t.Fatalf("%s was not evicted", net(extra+1))
	}
}

func testLearned(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp1, fp2 := NewFingerprint(t), NewFingerprint(t)
	a, b, c, d := net(1), net(2), net(3), net(4)
	uses := []origin.Use{
		{Fingerprint: fp1, Binding: "ci", Origin: a, At: t0, Allowed: true, Learn: true},
		{Fingerprint: fp2, Binding: "ci", Origin: a, At: t0.Add(2 * time.Hour), Allowed: false, Learn: true},
		{Fingerprint: fp1, Binding: "ci", Origin: b, At: t0.Add(time.Hour), Allowed: true, Learn: true},
		{Fingerprint: fp1, Binding: "ci", Origin: c, At: t0.Add(3 * time.Hour), Allowed: true},                  // not learning
		{Fingerprint: fp2, Binding: "vendor", Origin: d, At: t0.Add(3 * time.Hour), Allowed: true, Learn: true}, // other binding
		{Fingerprint: fp1, Binding: "ci", Origin: b, At: t0.Add(-time.Hour), Allowed: true, Learn: true},        // late
	}
	for _, u := range uses {
		record(t, s, u)
	}
	tests := []struct {
		binding string
		since   time.Time
		want    []origin.Seen
	}{
		{"ci", time.Time{}, []origin.Seen{
			{Origin: a, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour), Uses: 2, Allowed: 1},
			{Origin: b, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), Uses: 2, Allowed: 2},
		}},
		{"ci", t0.Add(time.Hour), []origin.Seen{ // since is inclusive
			{Origin: a, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour), Uses: 2, Allowed: 1},
			{Origin: b, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(time.Hour), Uses: 2, Allowed: 2},
		}},
		{"ci", t0.Add(time.Hour + time.Microsecond), []origin.Seen{
			{Origin: a, FirstSeen: t0, LastSeen: t0.Add(2 * time.Hour), Uses: 2, Allowed: 1},
		}},
		{"ci", t0.Add(5 * time.Hour), nil},
		{"vendor", t0, []origin.Seen{{Origin: d, FirstSeen: t0.Add(3 * time.Hour), LastSeen: t0.Add(3 * time.Hour), Uses: 1, Allowed: 1}}},
		{"unknown", time.Time{}, nil},
		{"", time.Time{}, nil},
	}
	for _, tt := range tests {
		got, err := s.Learned(ctx, tt.binding, tt.since)
		if err != nil {
			t.Fatalf("Learned(%q, %s): %v", tt.binding, tt.since, err)
		}
		ok := len(got) == len(tt.want)
		for i := 0; ok && i < len(got); i++ {
			ok = sameSeen(got[i], tt.want[i])
		}
		if !ok {
			t.Errorf("Learned(%q, %s):\n got %s\nwant %s", tt.binding, tt.since,
				describe(origin.History{Origins: got}), describe(origin.History{Origins: tt.want}))
		}
	}
	// Learning does not change the per-credential history.
	if h := lookup(t, s, fp1); h.Uses != 4 || len(h.Origins) != 3 {
		t.Fatalf("fp1 history: %s", describe(h))
	}
}

func testRejectsInvalid(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	raw := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJl"
	ok := origin.Use{Fingerprint: fp, Binding: "b", Origin: net(1), At: t0, Allowed: true, Learn: true}
	tests := []struct {
		name   string
		modify func(*origin.Use)
	}{
		{"raw credential", func(u *origin.Use) { u.Fingerprint = raw }},
		{"empty fingerprint", func(u *origin.Use) { u.Fingerprint = "" }},
		{"zero time", func(u *origin.Use) { u.At = time.Time{} }},
		{"learn without binding", func(u *origin.Use) { u.Binding = "" }},
		{"huge workload", func(u *origin.Use) { u.Origin.Workload = strings.Repeat("w", origin.MaxFieldBytes+1) }},
		{"huge binding", func(u *origin.Use) { u.Binding = strings.Repeat("b", origin.MaxBindingBytes+1) }},
		{"control character", func(u *origin.Use) { u.Origin.Posture = "a\x00b" }},
		{"bad utf-8", func(u *origin.Use) { u.Origin.ProxyChain = "a\xffb" }},
	}
	for _, tt := range tests {
		u := ok
		tt.modify(&u)
		err := s.Record(ctx, u)
		if !errors.Is(err, origin.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
		if err != nil && strings.Contains(err.Error(), raw) {
			t.Errorf("%s: error repeats the raw credential", tt.name)
		}
	}
	if _, err := s.Lookup(ctx, raw); !errors.Is(err, origin.ErrInvalid) {
		t.Errorf("Lookup(raw credential): err = %v, want ErrInvalid", err)
	}
	if h := lookup(t, s, fp); h.Uses != 0 || len(h.Origins) != 0 {
		t.Fatalf("invalid uses were recorded: %s", describe(h))
	}
	if l, err := s.Learned(ctx, "b", time.Time{}); err != nil || len(l) != 0 {
		t.Fatalf("invalid uses were learned: %v, %v", l, err)
	}
	record(t, s, ok)
	if h := lookup(t, s, fp); h.Uses != 1 {
		t.Fatalf("valid use after invalid ones: %s", describe(h))
	}
}

func testReopenPersists(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	for i := range 5 {
		record(t, s, origin.Use{Fingerprint: fp, Binding: "b", Origin: net(i % 3), At: t0.Add(time.Duration(i) * time.Minute), Allowed: i != 2, Learn: true})
	}
	before := lookup(t, s, fp)
	learned, err := s.Learned(ctx, "b", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if closer, ok := s.(io.Closer); ok {
		if err := closer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s = open(t)
	wantHistory(t, lookup(t, s, fp), before)
	after, err := s.Learned(ctx, "b", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 || len(after) != len(learned) {
		t.Fatalf("Learned after reopen: %d origins, before %d", len(after), len(learned))
	}
	for i := range after {
		if !sameSeen(after[i], learned[i]) {
			t.Fatalf("Learned[%d] after reopen = %+v, want %+v", i, after[i], learned[i])
		}
	}
}

func testConcurrent(t *testing.T, open func(*testing.T) origin.Store) {
	s := open(t)
	fp := NewFingerprint(t)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := origin.Use{Fingerprint: fp, Origin: net(w), At: t0.Add(time.Duration(i) * time.Second), Allowed: true}
				if err := s.Record(ctx, u); err != nil {
					t.Error(err)
					return
				}
				// A use is visible to Lookup once Record returns.
				h, err := s.Lookup(ctx, fp)
				if err != nil {
					t.Error(err)
					return
				}
				if got, ok := h.Known(net(w)); !ok || got.Uses < int64(i+1) {
					t.Errorf("Lookup right after Record: %+v, %v", got, ok)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Lookup(ctx, fp); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	h := lookup(t, s, fp)
	if h.Uses != writers*each || len(h.Origins) != writers {
		t.Fatalf("after concurrent records: %s", describe(h))
	}
	for _, seen := range h.Origins {
		if seen.Uses != each || seen.Allowed != each {
			t.Fatalf("origin %s: uses %d allowed %d, want %d", seen.Origin, seen.Uses, seen.Allowed, each)
		}
	}
}
