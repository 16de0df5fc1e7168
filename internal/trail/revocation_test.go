package trail

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
	"github.com/provost-dev/provost/internal/revocation"
)

// operatorRevocation is the evidence record of an operator revoking the
// credential fp at t0+at.
func operatorRevocation(t testing.TB, kind revocation.Kind, value string, at time.Duration) []byte {
	t.Helper()
	r := evidence.FromRevocation(revocation.Revocation{ID: "rev_" + string(kind), Kind: kind, Value: value,
		Reason: "INC-7 copied token", CreatedAt: t0.Add(at)}, "dashboard: alice", "req-9")
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// revokedIndex is the scenario with the agent credential revoked by an
// operator between its copied use and its step-up (record 5), and a
// revocation of a jti (record 6), which names no credential.
func revokedIndex(t testing.TB) *Index {
	x := openIndex(t)
	log := &memLog{}
	for _, s := range scenario {
		log.recs = append(log.recs, s.record(t))
	}
	log.recs = append(log.recs, operatorRevocation(t, revocation.KindFingerprint, "fp1:agent", 3*time.Hour+time.Minute),
		operatorRevocation(t, revocation.KindJTI, "jti-1", 30*time.Hour))
	res, err := Sync(context.Background(), log, x)
	if err != nil {
		t.Fatal(err)
	}
	if res.Indexed != 7 || res.Skipped != 0 {
		t.Fatalf("sync: %+v, want the 7 records indexed", res)
	}
	return x
}

// An operator's revocation is indexed: the credential's records and
// timeline show it where its time falls, and nothing that counts uses or
// decisions counts it.
func TestOperatorRevocationInTheIndex(t *testing.T) {
	ctx := context.Background()
	x := revokedIndex(t)

	shown, err := x.Show(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil || !slices.Equal(indexes(shown), []int64{2, 3, 4, 5}) {
		t.Fatalf("show of the revoked credential: %v, %v; want its uses and its revocation", indexes(shown), err)
	}
	if r := shown[3].Record; r.Event != evidence.EventRevocation || r.Revocation.Client != "dashboard: alice" {
		t.Errorf("record 5 is %+v", r)
	}
	if all, err := x.Show(ctx, Filter{}); err != nil || len(all) != 7 {
		t.Errorf("show all: %d records, %v", len(all), err)
	}
	if denied, err := x.Show(ctx, Filter{Decision: "deny"}); err != nil || !slices.Equal(indexes(denied), []int64{1, 3}) {
		t.Errorf("show --decision deny: %v, %v", indexes(denied), err)
	}
	if known, err := x.Known(ctx, "fp1:agent"); err != nil || !known {
		t.Errorf("Known: %v, %v", known, err)
	}

	tl, err := x.Timeline(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, u := range tl {
		got = append(got, u.Index)
	}
	if !slices.Equal(got, []int64{2, 3, 5, 4}) {
		t.Fatalf("timeline order %v, want the revocation between the copied use and the step-up", got)
	}
	rev := tl[2]
	if rev.Event != "revocation" || rev.Decision != "" || rev.RevokedBy != "dashboard: alice" || rev.RevocationReason != "INC-7 copied token" ||
		rev.RevocationID != "rev_fingerprint" || rev.NewOrigin || rev.Revoked || !rev.Time.Equal(t0.Add(3*time.Hour+time.Minute)) {
		t.Errorf("the revocation's line: %+v", rev)
	}
	// The step-up still opens a new origin (10.30.1.0/24 with the
	// workload was first seen at record 2: not new), with or without a
	// filter that makes the index ask.
	for _, f := range []Filter{{Fingerprint: "fp1:agent"}, {Fingerprint: "fp1:agent", From: t0.Add(3 * time.Hour)}} {
		tl, err := x.Timeline(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range tl {
			if u.Event != "" && u.NewOrigin {
				t.Errorf("filter %+v: the revocation is marked a new origin", f)
			}
		}
	}

	origins, err := x.Origins(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil {
		t.Fatal(err)
	}
	var uses int64
	for _, o := range origins {
		uses += o.Count
		if o.Network == "" && o.Workload == "" {
			t.Errorf("an origin with no workload and no network: %+v", o)
		}
	}
	if len(origins) != 3 || uses != 3 {
		t.Errorf("origins: %d with %d uses, want the 3 uses' 3 origins", len(origins), uses)
	}
	if all, err := x.Origins(ctx, Filter{}); err != nil || len(all) != 5 {
		t.Errorf("origins of every credential: %d, %v; want 5", len(all), err)
	}
	br, err := x.BlastRadius(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil {
		t.Fatal(err)
	}
	var requests int64
	for _, b := range br {
		requests += b.Count
	}
	if len(br) != 2 || requests != 3 {
		t.Errorf("blast radius: %+v, want 3 requests to 2 targets", br)
	}
	s, err := x.Summarize(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Total != 5 || s.Allow+s.StepUp+s.Deny != 5 {
		t.Errorf("report: %d decisions (%d+%d+%d), want the 5 decisions", s.Total, s.Allow, s.StepUp, s.Deny)
	}
	if want := t0.Add(26*time.Hour + 1); !s.To.Equal(want) {
		t.Errorf("report ends %v, want after the last decision %v", s.To, want)
	}
}

// Follow's matcher selects a revocation by the credential it names, as the
// index does.
func TestMatcherSelectsOperatorRevocation(t *testing.T) {
	rec, err := evidence.Unmarshal(operatorRevocation(t, revocation.KindFingerprint, "fp1:agent", 0))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Fingerprint: "fp1:agent"}, true},
		{Filter{Fingerprint: "fp1:ci"}, false},
		{Filter{Decision: "deny"}, false},
		{Filter{Network: "10.0.0.0/8"}, false},
	}
	for _, tt := range tests {
		m, err := NewMatcher(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match(&rec); got != tt.want {
			t.Errorf("filter %+v: Match = %v, want %v", tt.f, got, tt.want)
		}
	}
}
