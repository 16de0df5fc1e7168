package trail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
)

// The in-memory matcher (Follow's filter) selects what the index selects.
func TestMatcherAgreesWithIndex(t *testing.T) {
	x := scenarioIndex(t)
	var recs []evidence.Record
	for _, s := range scenario {
		r, err := evidence.Unmarshal(s.record(t))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	filters := []Filter{
		{}, {Fingerprint: "fp1:ci"}, {Workload: "spiffe://x/agent"}, {Network: "10.30.0.0/16"}, {Network: "203.0.113.9"},
		{Network: "2001:db8::/32"}, {Network: "0.0.0.0/0"}, {Network: "::/0"}, {Decision: "deny"}, {Decision: "step_up"},
		{Reason: "network_not_approved"}, {Reason: "network_not_approved", Fingerprint: "fp1:agent"}, {Binding: "b1"},
		{Binding: "other"}, {From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, {From: t0.Add(26 * time.Hour)}, {To: t0.Add(time.Nanosecond)},
	}
	for _, f := range filters {
		shown, err := x.Show(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMatcher(f)
		if err != nil {
			t.Fatal(err)
		}
		matched := []int64{}
		for i := range recs {
			if m.Match(&recs[i]) {
				matched = append(matched, int64(i))
			}
		}
		if !slices.Equal(indexes(shown), matched) {
			t.Errorf("%+v: index %v, matcher %v", f, indexes(shown), matched)
		}
	}
	if _, err := NewMatcher(Filter{Network: "10.0.0.0/40"}); err == nil {
		t.Error("a bad network was accepted")
	}
}

// Fingerprints that share their first ShortLen characters: Shorten shows
// them whole, Resolve lists them for a shared prefix.
func TestResolveAndShorten(t *testing.T) {
	ctx := context.Background()
	x := openIndex(t)
	fps := []string{
		"fp1:AAAAbbbbccccDDDD-one", "fp1:AAAAbbbbccccDDDD-two", // share 20 characters
		"fp1:AAAAbbbbzzzzEEEE", "fp1:Qqqqrrrrsssstttt", "fp1:short",
	}
	log := &memLog{}
	for i, fp := range fps {
		log.recs = append(log.recs, spec{fp: fp, client: "10.0.0.1", method: "GET", path: "/", at: time.Duration(i) * time.Second}.record(t))
	}
	if _, err := Sync(ctx, log, x); err != nil {
		t.Fatal(err)
	}
	short, err := x.Shorten(ctx, append(fps, fps[3]))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{fps[0]: fps[0], fps[1]: fps[1], fps[2]: "fp1:AAAAbbbbzzzz", fps[3]: "fp1:Qqqqrrrrssss", fps[4]: "fp1:short"}
	for fp, w := range want {
		if short[fp] != w {
			t.Errorf("Shorten(%s) = %q, want %q", fp, short[fp], w)
		}
		// Whatever a table shows, Resolve takes back.
		if got, err := x.Resolve(ctx, short[fp]); err != nil || got != fp {
			t.Errorf("Resolve(%q) = %q, %v; want %s", short[fp], got, err, fp)
		}
	}
	if got, err := x.Resolve(ctx, "fp1:Qqqq"); err != nil || got != fps[3] {
		t.Errorf("a unique prefix: %q, %v", got, err)
	}
	_, err = x.Resolve(ctx, "fp1:AAAAbbbb")
	var amb *AmbiguousError
	if !errors.As(err, &amb) || !slices.Equal(amb.Candidates, []string{fps[0], fps[1], fps[2]}) || amb.More {
		t.Errorf("an ambiguous prefix: %v", err)
	} else if msg := amb.Error(); !strings.Contains(msg, fps[0]) || !strings.Contains(msg, fps[2]) {
		t.Errorf("the message does not list the candidates: %s", msg)
	}
	if _, err := x.Resolve(ctx, "fp1:Zzzz"); !errors.Is(err, ErrNoFingerprint) {
		t.Errorf("an unknown prefix: %v", err)
	}
	if known, err := x.Known(ctx, fps[2]); err != nil || !known {
		t.Errorf("Known(%s) = %v, %v", fps[2], known, err)
	}
	if known, _ := x.Known(ctx, "fp1:AAAAbbbb"); known {
		t.Error("a prefix is Known")
	}
}

func TestResolveListsAtMostTen(t *testing.T) {
	x := openIndex(t)
	log := &memLog{}
	for i := range 12 {
		log.recs = append(log.recs, spec{fp: "fp1:same" + string(rune('a'+i)), client: "10.0.0.1", method: "GET", path: "/"}.record(t))
	}
	if _, err := Sync(context.Background(), log, x); err != nil {
		t.Fatal(err)
	}
	_, err := x.Resolve(context.Background(), "fp1:same")
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != maxCandidates || !amb.More || !strings.Contains(err.Error(), "the first 10 shown") {
		t.Errorf("got %v", err)
	}
}

// A timeline marks the decision that revoked the credential, a step-up and
// a use refused as revoked; a first use in a window is a new origin only
// when no earlier use came from it.
func TestTimelineMarks(t *testing.T) {
	ctx := context.Background()
	x := openIndex(t)
	mk := func(at time.Duration, client, decision string, edit func(*evidence.Record)) []byte {
		r, err := evidence.Unmarshal(spec{fp: "fp1:tok", client: client, decision: decision, method: "GET", path: "/x", at: at}.record(t))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(client, "10.0.0.") {
			r.Signals.Network.Origin = "10.0.0.0/24" // one origin, as origin history keys it
		}
		if edit != nil {
			edit(&r)
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	log := &memLog{recs: [][]byte{
		mk(0, "10.0.0.1", "allow", nil),
		mk(time.Hour, "10.0.0.2", "step_up", nil),
		mk(2*time.Hour, "203.0.113.1", "deny", func(r *evidence.Record) {
			r.Actions, r.RevocationID = []evidenceAction{"alert", "revoke"}, "rev-9"
		}),
		mk(3*time.Hour, "10.0.0.3", "deny", func(r *evidence.Record) {
			r.Credential.Verdict, r.Credential.Reason, r.Credential.RevocationID = "rejected", "revoked", "rev-9"
		}),
	}}
	if _, err := Sync(ctx, log, x); err != nil {
		t.Fatal(err)
	}
	uses, err := x.Timeline(ctx, Filter{Fingerprint: "fp1:tok"})
	if err != nil || len(uses) != 4 {
		t.Fatalf("%d uses, %v", len(uses), err)
	}
	type marks struct{ newOrigin, stepUp, revoked, wasRevoked bool }
	got := []marks{}
	for _, u := range uses {
		got = append(got, marks{u.NewOrigin, u.StepUp, u.Revoked, u.WasRevoked})
	}
	want := []marks{{true, false, false, false}, {false, true, false, false}, {true, false, true, false}, {false, false, false, true}}
	if !slices.Equal(got, want) || uses[2].RevocationID != "rev-9" || !slices.Equal(uses[2].Actions, []string{"alert", "revoke"}) {
		t.Errorf("marks %+v, want %+v; use 2: %+v", got, want, uses[2])
	}
	// From the second use on: 10.0.0.2 is in the 10.0.0.0/24 origin seen before.
	uses, err = x.Timeline(ctx, Filter{Fingerprint: "fp1:tok", From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)})
	if err != nil || len(uses) != 2 || uses[0].NewOrigin || !uses[1].NewOrigin {
		t.Errorf("window: %+v, %v", uses, err)
	}
	if _, err := x.Timeline(ctx, Filter{}); err == nil {
		t.Error("a timeline of no credential was accepted")
	}
}

// The report leaves empty hours or days out of its table, says how many,
// and counts in words that agree with their numbers.
func TestReportSkipsEmptyAndPlurals(t *testing.T) {
	ctx := context.Background()
	x := openIndex(t)
	log := &memLog{recs: [][]byte{
		spec{fp: "fp1:a", client: "10.0.0.1", method: "GET", path: "/"}.record(t),
		spec{fp: "fp1:a", client: "10.0.0.1", method: "GET", path: "/", decision: "deny", at: 5 * 24 * time.Hour}.record(t),
	}}
	if _, err := Sync(ctx, log, x); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := x.Report(ctx, &b, "markdown", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"2 decisions, 1 allowed, 0 stepped up, 1 denied", "(per day)", "| 2026-03-01T00:00:00Z | 1 | 0 | 0 |",
		"| 2026-03-06T00:00:00Z | 0 | 0 | 1 |", "4 days without a decision are left out."} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| 0 | 0 | 0 |") {
		t.Errorf("an empty day is listed:\n%s", md)
	}
	b.Reset()
	if err := x.Report(ctx, &b, "markdown", t0, t0.Add(time.Hour)); err != nil || !strings.Contains(b.String(), ": 1 decision, 1 allowed") {
		t.Errorf("one decision:\n%s", b.String())
	}
	b.Reset()
	if err := x.Report(ctx, &b, "json", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Total int64 `json:"total"`
		Over  struct {
			Width   string   `json:"width"`
			Buckets []Bucket `json:"buckets"`
		} `json:"decisions_over_time"`
		Findings []Finding `json:"findings"`
	}
	if err := json.Unmarshal(b.Bytes(), &s); err != nil || s.Total != 2 || s.Over.Width != "day" || len(s.Over.Buckets) != 2 || s.Findings == nil {
		t.Errorf("json report: %+v, %v\n%s", s, err, b.String())
	}
	for n, want := range map[int64]string{0: "0 uses", 1: "1 use", 2: "2 uses"} {
		if got := Plural(n, "use", "uses"); got != want {
			t.Errorf("Plural(%d) = %q", n, got)
		}
	}
}

func TestSyncProgress(t *testing.T) {
	x := openIndex(t)
	log := &memLog{}
	for i := range 2500 {
		log.recs = append(log.recs, spec{fp: "fp1:a", client: "10.0.0.1", method: "GET", path: "/", at: time.Duration(i)}.record(t))
	}
	var calls [][2]int64
	if _, err := SyncProgress(context.Background(), log, x, func(done, total int64) { calls = append(calls, [2]int64{done, total}) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, [][2]int64{{1000, 2500}, {2000, 2500}, {2500, 2500}}) {
		t.Errorf("progress calls %v", calls)
	}
}

// ScanNewest yields the newest n records a filter selects, in log order,
// and says when older ones were left out; with n at least the count it
// yields them all, as Scan does.
func TestScanNewest(t *testing.T) {
	ctx := context.Background()
	x := scenarioIndex(t)
	for _, f := range []Filter{{}, {Fingerprint: "fp1:ci"}, {Decision: "deny"}} {
		var all []Entry
		for e, err := range x.Scan(ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		if len(all) < 2 {
			t.Fatalf("%+v selects %d records: the scenario needs at least 2", f, len(all))
		}
		for _, n := range []int{1, len(all) - 1, len(all), len(all) + 5} {
			seq, truncated, err := x.ScanNewest(ctx, f, n)
			if err != nil {
				t.Fatal(err)
			}
			var got []Entry
			for e, err := range seq {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e)
			}
			want := all[max(0, len(all)-n):]
			if !slices.Equal(indexes(got), indexes(want)) || truncated != (n < len(all)) {
				t.Errorf("%+v, newest %d: %v truncated %v, want %v truncated %v", f, n, indexes(got), truncated, indexes(want), n < len(all))
			}
		}
	}
}
