// Package revocationtest is the conformance suite every revocation.Store
// backend must pass. A backend's test calls Run with a function that opens a
// store:
//
//	func TestConformance(t *testing.T) {
//		revocationtest.Run(t, func(t *testing.T) revocation.Store { ... })
//	}
//
// The open function's contract:
//   - Called with a *testing.T it has not seen, it returns a store over empty
//     data.
//   - Called again with the same *testing.T, it returns a store over the same
//     data as before (the reopen test). Before that second call the suite closes
//     the first store if it implements io.Closer.
//   - The store uses the real clock (time.Now): the expiry test waits for a
//     revocation to expire.
//   - The open function registers its own cleanup with t.Cleanup; Close may
//     then be called twice.
package revocationtest

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/fingerprint"
	"github.com/provost-dev/provost/internal/revocation"
)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) revocation.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) revocation.Store)
	}{
		{"EveryKind", testEveryKind},
		{"IssuerScoping", testIssuerScoping},
		{"IssuedBefore", testIssuedBefore},
		{"MatchOrder", testMatchOrder},
		{"AddAssignsFields", testAddAssignsFields},
		{"AddRejectsInvalid", testAddRejectsInvalid},
		{"Remove", testRemove},
		{"ListOrder", testListOrder},
		{"Expiry", testExpiry},
		{"ReopenPersists", testReopenPersists},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

var ctx = context.Background()

// newFingerprint returns a fingerprint of a random credential.
func newFingerprint(t *testing.T) string {
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

func mustAdd(t *testing.T, s revocation.Store, r revocation.Revocation) revocation.Revocation {
	t.Helper()
	got, err := s.Add(ctx, r)
	if err != nil {
		t.Fatalf("Add(%s %s): %v", r.Kind, r.Value, err)
	}
	return got
}

// wantMatch checks that q matches the revocation with wantID ("" for none).
func wantMatch(t *testing.T, s revocation.Store, q revocation.Query, wantID string) {
	t.Helper()
	got, err := s.Match(ctx, q)
	if err != nil {
		t.Fatalf("Match(%+v): %v", q, err)
	}
	switch {
	case wantID == "" && got != nil:
		t.Fatalf("Match(%+v) = %s (%s %s), want no match", q, got.ID, got.Kind, got.Value)
	case wantID != "" && got == nil:
		t.Fatalf("Match(%+v) = nil, want %s", q, wantID)
	case wantID != "" && got.ID != wantID:
		t.Fatalf("Match(%+v) = %s (%s), want %s", q, got.ID, got.Kind, wantID)
	}
}

func same(a, b revocation.Revocation) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Value == b.Value && a.Issuer == b.Issuer &&
		a.Reason == b.Reason && a.IssuedBefore.Equal(b.IssuedBefore) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func ids(list []revocation.Revocation) []string {
	out := make([]string, len(list))
	for i, r := range list {
		out[i] = r.ID
	}
	return out
}

func testEveryKind(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	fp := newFingerprint(t)
	const iss = "https://issuer.example"
	tests := []struct {
		rev     revocation.Revocation
		hit     revocation.Query
		nearMis revocation.Query
	}{
		{
			revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp, Reason: "leaked in CI log"},
			revocation.Query{Fingerprint: fp, Issuer: iss, Subject: "any"},
			revocation.Query{Fingerprint: newFingerprint(t), Issuer: iss},
		},
		{
			revocation.Revocation{Kind: revocation.KindJTI, Value: "jti-1"},
			revocation.Query{JTI: "jti-1", Issuer: iss},
			revocation.Query{JTI: "jti-2", Issuer: iss},
		},
		{
			revocation.Revocation{Kind: revocation.KindSubject, Value: "ci-runner"},
			revocation.Query{Subject: "ci-runner", Issuer: iss},
			revocation.Query{Subject: "CI-RUNNER", Issuer: iss},
		},
		{
			revocation.Revocation{Kind: revocation.KindIssuer, Value: "https://bad.example"},
			revocation.Query{Issuer: "https://bad.example", Subject: "x"},
			revocation.Query{Issuer: "https://bad.example/", Subject: "x"},
		},
		{
			revocation.Revocation{Kind: revocation.KindBinding, Value: "vendor-connector"},
			revocation.Query{Binding: "vendor-connector"},
			revocation.Query{Binding: "vendor"},
		},
	}
	for _, tt := range tests {
		wantMatch(t, s, tt.hit, "")
		r := mustAdd(t, s, tt.rev)
		wantMatch(t, s, tt.hit, r.ID)
		wantMatch(t, s, tt.nearMis, "")
		wantMatch(t, s, revocation.Query{}, "")
	}
}

func testIssuerScoping(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	const a, b = "https://a.example", "https://b.example"
	jti := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "j1", Issuer: a})
	sub := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc", Issuer: a})
	tests := []struct {
		q    revocation.Query
		want string
	}{
		{revocation.Query{JTI: "j1", Issuer: a}, jti.ID},
		{revocation.Query{JTI: "j1", Issuer: b}, ""},
		{revocation.Query{JTI: "j1"}, ""},
		{revocation.Query{Subject: "svc", Issuer: a}, sub.ID},
		{revocation.Query{Subject: "svc", Issuer: b}, ""},
		{revocation.Query{Subject: "svc"}, ""},
	}
	for _, tt := range tests {
		wantMatch(t, s, tt.q, tt.want)
	}
	unscoped := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "j1"})
	wantMatch(t, s, revocation.Query{JTI: "j1", Issuer: b}, unscoped.ID)
}

func testIssuedBefore(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	T := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	r := mustAdd(t, s, revocation.Revocation{
		Kind: revocation.KindSubject, Value: "agent-7", IssuedBefore: T, Reason: "session revoked",
	})
	if !r.IssuedBefore.Equal(T) {
		t.Fatalf("IssuedBefore stored as %v, want %v", r.IssuedBefore, T)
	}
	tests := []struct {
		name string
		iat  time.Time
		want string
	}{
		{"well before", T.Add(-time.Hour), r.ID},
		{"one second before", T.Add(-time.Second), r.ID},
		{"equal is not revoked", T, ""},
		{"after", T.Add(time.Second), ""},
		{"no iat fails closed", time.Time{}, r.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantMatch(t, s, revocation.Query{Subject: "agent-7", IssuedAt: tt.iat}, tt.want)
			wantMatch(t, s, revocation.Query{Subject: "agent-8", IssuedAt: tt.iat}, "")
		})
	}
}

func testMatchOrder(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	fp := newFingerprint(t)
	q := revocation.Query{Fingerprint: fp, Issuer: "https://i.example", Subject: "s", JTI: "j", Binding: "b"}
	// Added in reverse of the kind order: Match must still prefer by kind.
	var byKind []revocation.Revocation
	for _, r := range []revocation.Revocation{
		{Kind: revocation.KindBinding, Value: "b"},
		{Kind: revocation.KindIssuer, Value: "https://i.example"},
		{Kind: revocation.KindSubject, Value: "s"},
		{Kind: revocation.KindJTI, Value: "j"},
		{Kind: revocation.KindFingerprint, Value: fp},
	} {
		byKind = append([]revocation.Revocation{mustAdd(t, s, r)}, byKind...)
	}
	// Within a kind, the oldest wins.
	time.Sleep(2 * time.Millisecond)
	mustAdd(t, s, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp, Reason: "second"})
	for _, r := range byKind {
		wantMatch(t, s, q, r.ID)
		if err := s.Remove(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if r.Kind == revocation.KindFingerprint {
			got, err := s.Match(ctx, q)
			if err != nil || got == nil || got.Reason != "second" {
				t.Fatalf("after removing the first fingerprint revocation, Match = %+v, %v; want the second", got, err)
			}
			if err := s.Remove(ctx, got.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantMatch(t, s, q, "")
}

func testAddAssignsFields(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	before := time.Now().Add(-time.Millisecond)
	r := mustAdd(t, s, revocation.Revocation{
		ID: "caller-chosen", CreatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		Kind: revocation.KindJTI, Value: "x", Issuer: "https://i.example", Reason: "test",
	})
	after := time.Now().Add(time.Millisecond)
	if r.ID == "" || r.ID == "caller-chosen" {
		t.Fatalf("ID = %q, want one assigned by the store", r.ID)
	}
	if r.CreatedAt.Before(before) || r.CreatedAt.After(after) {
		t.Fatalf("CreatedAt = %v, want between %v and %v", r.CreatedAt, before, after)
	}
	if r.Kind != revocation.KindJTI || r.Value != "x" || r.Issuer != "https://i.example" || r.Reason != "test" {
		t.Fatalf("Add changed fields: %+v", r)
	}
	r2 := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "x"})
	if r2.ID == r.ID {
		t.Fatal("two revocations got the same ID")
	}
	got, err := s.Match(ctx, revocation.Query{JTI: "x", Issuer: "https://i.example"})
	if err != nil || got == nil || !same(*got, r) {
		t.Fatalf("Match = %+v, %v; want %+v", got, err, r)
	}
}

func testAddRejectsInvalid(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	tests := []struct {
		name string
		r    revocation.Revocation
	}{
		{"unknown kind", revocation.Revocation{Kind: "email", Value: "x"}},
		{"empty value", revocation.Revocation{Kind: revocation.KindJTI}},
		{"raw credential as fingerprint", revocation.Revocation{Kind: revocation.KindFingerprint, Value: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"}},
		{"issued_before on jti", revocation.Revocation{Kind: revocation.KindJTI, Value: "x", IssuedBefore: time.Now()}},
		{"issuer scope on binding", revocation.Revocation{Kind: revocation.KindBinding, Value: "b", Issuer: "https://i.example"}},
		{"expires in the past", revocation.Revocation{Kind: revocation.KindJTI, Value: "x", ExpiresAt: time.Now().Add(-time.Minute)}},
	}
	for _, tt := range tests {
		if _, err := s.Add(ctx, tt.r); !errors.Is(err, revocation.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("invalid revocations were stored: %v", ids(list))
	}
}

func testRemove(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	keep := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindSubject, Value: "a"})
	gone := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindSubject, Value: "b"})
	if err := s.Remove(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	wantMatch(t, s, revocation.Query{Subject: "b"}, "")
	wantMatch(t, s, revocation.Query{Subject: "a"}, keep.ID)
	if err := s.Remove(ctx, gone.ID); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("second Remove: err = %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, "rev_unknown"); !errors.Is(err, revocation.ErrNotFound) {
		t.Fatalf("Remove unknown: err = %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(list), []string{keep.ID}) {
		t.Fatalf("List = %v, want [%s]", ids(list), keep.ID)
	}
}

func testListOrder(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	if list, err := s.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store: List = %v, %v", list, err)
	}
	var added []revocation.Revocation
	kinds := []revocation.Revocation{
		{Kind: revocation.KindBinding, Value: "b"},
		{Kind: revocation.KindFingerprint, Value: newFingerprint(t)},
		{Kind: revocation.KindSubject, Value: "s", IssuedBefore: time.Now().Truncate(time.Second)},
		{Kind: revocation.KindIssuer, Value: "https://i.example"},
		{Kind: revocation.KindJTI, Value: "j", Issuer: "https://i.example", ExpiresAt: time.Now().Add(time.Hour)},
	}
	for i, r := range kinds {
		r.Reason = "reason " + strconv.Itoa(i)
		added = append(added, mustAdd(t, s, r))
		time.Sleep(2 * time.Millisecond) // distinct CreatedAt: insertion order is list order
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(added) {
		t.Fatalf("List has %d, want %d", len(list), len(added))
	}
	for i := range added {
		if !same(list[i], added[i]) {
			t.Fatalf("List[%d] = %+v, want %+v", i, list[i], added[i])
		}
	}
}

func testExpiry(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	const life = 400 * time.Millisecond
	expiresAt := time.Now().Add(life)
	short := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "short", ExpiresAt: expiresAt})
	long := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "long", ExpiresAt: time.Now().Add(time.Hour)})
	forever := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "forever"})
	if time.Now().Before(expiresAt) {
		wantMatch(t, s, revocation.Query{JTI: "short"}, short.ID)
	}
	time.Sleep(time.Until(expiresAt) + 50*time.Millisecond)
	wantMatch(t, s, revocation.Query{JTI: "short"}, "")
	wantMatch(t, s, revocation.Query{JTI: "long"}, long.ID)
	wantMatch(t, s, revocation.Query{JTI: "forever"}, forever.ID)
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(list), []string{long.ID, forever.ID}) {
		t.Fatalf("List = %v, want [%s %s] (expired one left out)", ids(list), long.ID, forever.ID)
	}
}

func testReopenPersists(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	fp := newFingerprint(t)
	T := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	a := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindFingerprint, Value: fp, Reason: "stolen token replayed"})
	b := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindSubject, Value: "svc", Issuer: "https://i.example", IssuedBefore: T})
	c := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindJTI, Value: "j", ExpiresAt: time.Now().Add(time.Hour)})
	gone := mustAdd(t, s, revocation.Revocation{Kind: revocation.KindBinding, Value: "old"})
	if err := s.Remove(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	before, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if closer, ok := s.(io.Closer); ok {
		if err := closer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	s = open(t)
	after, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || len(after) != 3 {
		t.Fatalf("after reopen List = %v, before %v", ids(after), ids(before))
	}
	for i := range before {
		if !same(before[i], after[i]) {
			t.Fatalf("after reopen List[%d] = %+v, want %+v", i, after[i], before[i])
		}
	}
	wantMatch(t, s, revocation.Query{Fingerprint: fp}, a.ID)
	wantMatch(t, s, revocation.Query{Subject: "svc", Issuer: "https://i.example", IssuedAt: T.Add(-time.Second)}, b.ID)
	wantMatch(t, s, revocation.Query{Subject: "svc", Issuer: "https://i.example", IssuedAt: T}, "")
	wantMatch(t, s, revocation.Query{JTI: "j"}, c.ID)
	wantMatch(t, s, revocation.Query{Binding: "old"}, "")
}

func testConcurrent(t *testing.T, open func(*testing.T) revocation.Store) {
	s := open(t)
	const writers, each = 4, 15
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				r, err := s.Add(ctx, revocation.Revocation{Kind: revocation.KindJTI, Value: v})
				if err != nil {
					t.Error(err)
					return
				}
				// A revocation is visible to Match once Add returns.
				if got, err := s.Match(ctx, revocation.Query{JTI: v}); err != nil || got == nil || got.ID != r.ID {
					t.Errorf("Match right after Add = %+v, %v", got, err)
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Match(ctx, revocation.Query{JTI: "w0-0", Subject: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != writers*each {
		t.Fatalf("List has %d, want %d", len(list), writers*each)
	}
}
