package trail

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost/internal/evidence"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// spec describes a synthetic record.
type spec struct {
	fp, workload, client, decision, method, path string
	reasons                                      []string
	nhi                                          string // an OWASP NHI id to tag, or ""
	at                                           time.Duration
}

func (s spec) record(t testing.TB) []byte {
	t.Helper()
	r := evidence.Record{
		Version: evidence.Version, Time: evidence.At(t0.Add(s.at)), Decision: "allow", Provenance: "verified",
		Binding: "b1", Request: evidence.Request{Method: s.method, Path: s.path},
		Credential: evidence.Credential{Verdict: "accepted", Fingerprint: s.fp, Issuer: evidence.Issuer{Subject: "sub-" + s.fp, Issuer: "https://iss"}},
		Signals:    evidence.Signals{Network: evidence.Network{Peer: s.client, Origin: s.client + "/24"}},
		Origin:     evidence.Origin{Workload: s.workload},
	}
	if s.decision != "" {
		r.Decision = evidenceOutcome(s.decision)
		if s.decision != "allow" {
			r.Provenance = "violated"
		}
	}
	for _, c := range s.reasons {
		r.Reasons = append(r.Reasons, evidence.Reason{Code: reasonCode(c), Message: "because " + c})
	}
	if s.nhi != "" {
		r.Tags = append(r.Tags, evidence.Tag{Framework: "OWASP Non-Human Identity Top 10 (2025)", ID: s.nhi, Name: "risk <" + s.nhi + ">"},
			evidence.Tag{Framework: "NIST CSF 2.0", ID: "DE.CM-01", Name: "Networks are monitored"})
	}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memLog is a Source over records in memory.
type memLog struct{ recs [][]byte }

func (m *memLog) Size() int64 { return int64(len(m.recs)) }
func (m *memLog) Entries(_ context.Context, start, end int64) ([][]byte, error) {
	end = min(end, start+BatchSize, int64(len(m.recs)))
	return slices.Clone(m.recs[start:end]), nil
}

func openIndex(t testing.TB) *Index {
	t.Helper()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), File))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// scenario is a small history: one CI credential used from its host, then
// from another; an agent credential from its workload then copied.
var scenario = []spec{
	{fp: "fp1:ci", workload: "spiffe://x/ci", client: "10.0.0.5", method: "POST", path: "/deploy", reasons: []string{"provenance_verified"}},
	{fp: "fp1:ci", client: "203.0.113.9", decision: "deny", method: "POST", path: "/deploy", reasons: []string{"network_not_approved"}, nhi: "NHI2:2025", at: time.Hour},
	{fp: "fp1:agent", workload: "spiffe://x/agent", client: "10.30.1.5", method: "GET", path: "/tools", reasons: []string{"provenance_verified"}, at: 2 * time.Hour},
	{fp: "fp1:agent", client: "2001:db8::7", decision: "deny", method: "GET", path: "/tools", reasons: []string{"copied_credential", "network_not_approved"}, nhi: "NHI9:2025", at: 3 * time.Hour},
	{fp: "fp1:agent", workload: "spiffe://x/agent", client: "10.30.1.6", method: "GET", path: "/admin", decision: "step_up", reasons: []string{"posture_missing"}, at: 26 * time.Hour},
}

func scenarioIndex(t testing.TB) *Index {
	x := openIndex(t)
	log := &memLog{}
	for _, s := range scenario {
		log.recs = append(log.recs, s.record(t))
	}
	if _, err := Sync(context.Background(), log, x); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestSyncIncrementalAndStale(t *testing.T) {
	ctx := context.Background()
	x := openIndex(t)
	log := &memLog{}
	for i := range 2500 {
		log.recs = append(log.recs, spec{fp: "fp1:a", client: "10.0.0.1", method: "GET", path: "/", at: time.Duration(i) * time.Second}.record(t))
	}
	log.recs[7] = []byte(`{"example":7}`) // not an evidence record: skipped, not fatal
	res, err := Sync(ctx, log, x)
	if err != nil {
		t.Fatal(err)
	}
	if res != (SyncResult{Indexed: 2499, Skipped: 1, Size: 2500}) {
		t.Fatalf("first sync: %+v", res)
	}
	log.recs = append(log.recs, spec{fp: "fp1:b", client: "10.0.0.2", method: "GET", path: "/b"}.record(t))
	if res, err = Sync(ctx, log, x); err != nil || res != (SyncResult{Indexed: 1, Size: 2501}) {
		t.Fatalf("second sync: %+v, %v", res, err)
	}
	if res, err = Sync(ctx, log, x); err != nil || res != (SyncResult{Size: 2501}) {
		t.Fatalf("idle sync: %+v, %v", res, err)
	}
	got, err := x.Show(ctx, Filter{Fingerprint: "fp1:b"})
	if err != nil || len(got) != 1 || got[0].Index != 2500 {
		t.Fatalf("show after sync: %+v, %v", got, err)
	}
	if page, err := x.Show(ctx, Filter{Limit: 1500}); err != nil || len(page) != 1500 || page[1499].Index != 1500 {
		t.Errorf("show limit 1500: %d records, %v", len(page), err)
	}
	if tl, err := x.Timeline(ctx, Filter{Fingerprint: "fp1:a", Limit: 3}); err != nil || len(tl) != 3 || !tl[0].NewOrigin || tl[1].NewOrigin || tl[2].NewOrigin {
		t.Errorf("timeline of one origin: %+v, %v", tl, err)
	}
	n := 0
	for e, err := range x.Scan(ctx, Filter{Fingerprint: "fp1:a"}) {
		if err != nil || e.Index == 7 {
			t.Fatalf("scan: %+v, %v", e.Index, err)
		}
		n++
	}
	if n != 2499 {
		t.Errorf("scan: %d records, want 2499", n)
	}
	for name, mutate := range map[string]func(*memLog){
		"last record changed": func(m *memLog) { m.recs[2500] = m.recs[0] },
		"log shorter":         func(m *memLog) { m.recs = m.recs[:2000] },
	} {
		m := &memLog{recs: slices.Clone(log.recs)}
		mutate(m)
		if _, err := Sync(ctx, m, x); !errors.Is(err, ErrStale) {
			t.Errorf("%s: got %v, want ErrStale", name, err)
		}
	}
}

func indexes(es []Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.Index)
	}
	return out
}

func TestShowFilters(t *testing.T) {
	x := scenarioIndex(t)
	tests := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{0, 1, 2, 3, 4}},
		{"fingerprint", Filter{Fingerprint: "fp1:ci"}, []int64{0, 1}},
		{"workload", Filter{Workload: "spiffe://x/agent"}, []int64{2, 4}},
		{"network cidr", Filter{Network: "10.30.0.0/16"}, []int64{2, 4}},
		{"network address", Filter{Network: "203.0.113.9"}, []int64{1}},
		{"network v6", Filter{Network: "2001:db8::/32"}, []int64{3}},
		{"network v4 does not match v6", Filter{Network: "0.0.0.0/0"}, []int64{0, 1, 2, 4}},
		{"decision", Filter{Decision: "deny"}, []int64{1, 3}},
		{"reason", Filter{Reason: "network_not_approved"}, []int64{1, 3}},
		{"reason and fingerprint", Filter{Reason: "network_not_approved", Fingerprint: "fp1:agent"}, []int64{3}},
		{"binding", Filter{Binding: "b1", Limit: 2}, []int64{0, 1}},
		{"no binding", Filter{Binding: "other"}, []int64{}},
		{"time range", Filter{From: t0.Add(time.Hour), To: t0.Add(3 * time.Hour)}, []int64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := x.Show(context.Background(), tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(indexes(got), tt.want) {
				t.Errorf("got %v, want %v", indexes(got), tt.want)
			}
		})
	}
	if _, err := x.Show(context.Background(), Filter{Network: "10.0.0.0/99"}); err == nil {
		t.Error("a bad network was accepted")
	}
}

func TestTimelineOriginsBlastRadius(t *testing.T) {
	ctx := context.Background()
	x := scenarioIndex(t)
	tl, err := x.Timeline(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range tl {
		got = append(got, strings.Join([]string{u.Decision, u.Client, u.Workload, strings.Join(u.Reasons, "+")}, " "))
		if u.Index == 4 && !u.NewOrigin || u.Index == 2 && !u.NewOrigin {
			t.Errorf("use %d not marked as a new origin", u.Index)
		}
	}
	want := []string{"allow 10.30.1.5 spiffe://x/agent provenance_verified", "deny 2001:db8::7  copied_credential+network_not_approved", "step_up 10.30.1.6 spiffe://x/agent posture_missing"}
	if !slices.Equal(got, want) {
		t.Errorf("timeline:\n got %q\nwant %q", got, want)
	}

	origins, err := x.Origins(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(origins) != 5 { // agent: 3 networks (10.30.1.5/24 twice as strings differ), ci: 2
		var s []string
		for _, o := range origins {
			s = append(s, o.Fingerprint+" "+o.Workload+" "+o.Network)
		}
		t.Fatalf("origins: %q", s)
	}
	ci, err := x.Origins(ctx, Filter{Fingerprint: "fp1:ci"})
	if err != nil || len(ci) != 2 || ci[0].Network != "10.0.0.5/24" || ci[0].Allowed != 1 || ci[1].Denied != 1 || !ci[1].First.Equal(t0.Add(time.Hour)) {
		t.Errorf("ci origins: %+v, %v", ci, err)
	}

	br, err := x.BlastRadius(ctx, Filter{Fingerprint: "fp1:agent"})
	if err != nil {
		t.Fatal(err)
	}
	if len(br) != 2 || br[0].Path != "/tools" || br[0].Count != 2 || br[0].Denied != 1 || br[1].Path != "/admin" || br[1].SteppedUp != 1 {
		t.Errorf("blast radius: %+v", br)
	}
	wl, err := x.BlastRadius(ctx, Filter{Workload: "spiffe://x/agent"})
	if err != nil || len(wl) != 2 {
		t.Errorf("workload blast radius: %+v, %v", wl, err)
	}
	if _, err := x.BlastRadius(ctx, Filter{}); err == nil {
		t.Error("an empty scope was accepted")
	}
}

func TestReport(t *testing.T) {
	ctx := context.Background()
	x := scenarioIndex(t)
	var h bytes.Buffer
	if err := x.Report(ctx, &h, "html", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	html := h.String()
	for _, want := range []string{"<svg", "NHI2:2025", "NHI9:2025", "DE.CM-01", "risk &lt;NHI9:2025&gt;", "5 decisions, 2 allowed, 1 stepped up, 2 denied", "per hour"} {
		if !strings.Contains(html, want) {
			t.Errorf("html report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "src=", "href=", "risk <NHI"} {
		if strings.Contains(html, bad) {
			t.Errorf("html report holds %q", bad)
		}
	}
	if n := strings.Count(html, "<g><title>"); n != 27 { // 27 hourly bars from 12:00 to 14:00 the next day
		t.Errorf("%d bars, want 27", n)
	}
	var m bytes.Buffer
	if err := x.Report(ctx, &m, "markdown", t0, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	md := m.String()
	for _, want := range []string{"## OWASP Non-Human Identity Top 10 (2025)", "| NHI2:2025 | risk &lt;NHI2:2025&gt; | 1 | 1 | 1 |", "2 decisions, 1 allowed, 0 stepped up, 1 denied", "| 2026-03-01T13:00:00Z | 0 | 0 | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "NHI9") {
		t.Error("the markdown report includes a finding outside its range")
	}
	var empty bytes.Buffer
	if err := openIndex(t).Report(ctx, &empty, "html", time.Time{}, time.Time{}); err != nil || !strings.Contains(empty.String(), "0 decisions") {
		t.Errorf("empty report: %v\n%s", err, empty.String())
	}
	if err := x.Report(ctx, &m, "pdf", time.Time{}, time.Time{}); err == nil {
		t.Error("format pdf was accepted")
	}
}
