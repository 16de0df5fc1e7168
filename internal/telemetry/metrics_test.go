package telemetry_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/buildinfo"
	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/reason"
	"github.com/provost-dev/provost/verdict"
)

// families gathers m's registry by name.
func families(t *testing.T, m *telemetry.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

// total adds the values of f's series whose labels include want.
func total(f *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if ok {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// fixed is a Checker that answers d.
type fixed struct{ d *provost.Decision }

func (f fixed) Check(context.Context, *provost.Request) (*provost.Decision, error) { return f.d, nil }

func denial(codes ...reason.Code) *provost.Decision {
	d := &provost.Decision{Outcome: verdict.Deny}
	d.Credential.Verdict = verdict.Accepted
	for _, c := range codes {
		d.Reasons = append(d.Reasons, verdict.Reason{Code: c})
	}
	return d
}

// Each decision counts once in provost_decisions_total, by the transport
// its context names, whatever number of reasons it carries; the reasons
// counter counts each distinct code.
func TestDecisionsCountOncePerDecision(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.Sources{})
	three := fixed{denial(reason.ShadowAutomation, reason.NetworkNotApproved, reason.WorkloadAbsent)}
	cases := []struct {
		ctx  context.Context
		n    int
		want string
	}{
		{transport.With(context.Background(), transport.CheckAPI), 3, "check_api"},
		{transport.With(context.Background(), transport.ForwardAuth), 2, "forward_auth"},
		{transport.With(context.Background(), transport.ExtAuthz), 1, "ext_authz"},
		{transport.With(context.Background(), transport.Proxy), 4, "proxy"},
		{transport.With(context.Background(), "made_up"), 1, "other"},
		{context.Background(), 1, "other"},
	}
	made := 0
	for _, tc := range cases {
		for range tc.n {
			if _, err := telemetry.Instrument(three, m, nil).Check(tc.ctx, &provost.Request{}); err != nil {
				t.Fatal(err)
			}
			made++
		}
	}
	fams := families(t, m)
	if got := total(fams["provost_decisions_total"], nil); got != float64(made) {
		t.Errorf("sum(provost_decisions_total) = %v, want %d", got, made)
	}
	want := map[string]float64{}
	for _, tc := range cases {
		want[tc.want] += float64(tc.n)
	}
	for tr, n := range want {
		if got := total(fams["provost_decisions_total"], map[string]string{"outcome": "deny", "transport": tr}); got != n {
			t.Errorf("deny via %s = %v, want %v", tr, got, n)
		}
	}
	for _, c := range []string{"shadow_automation", "network_not_approved", "workload_absent"} {
		if got := total(fams["provost_decision_reasons_total"], map[string]string{"reason": c, "outcome": "deny"}); got != float64(made) {
			t.Errorf("reason %s = %v, want %d", c, got, made)
		}
	}
	if got := total(fams["provost_decision_reasons_total"], nil); got != float64(3*made) {
		t.Errorf("sum(provost_decision_reasons_total) = %v, want %d", got, 3*made)
	}
	// Every outcome and transport is there from the start, at zero.
	if n := len(fams["provost_decisions_total"].GetMetric()); n != 3*len(transport.All()) {
		t.Errorf("%d decision series, want %d", n, 3*len(transport.All()))
	}
	for _, l := range fams["provost_decisions_total"].GetMetric()[0].GetLabel() {
		if l.GetName() != "outcome" && l.GetName() != "transport" {
			t.Errorf("label %s", l.GetName())
		}
	}
}

func TestBuildInfo(t *testing.T) {
	m := telemetry.NewMetrics(telemetry.Sources{Build: buildinfo.Info{Version: "v1.2.3", Revision: "0123abcd", GoVersion: "go1.26.1"}})
	if text := scrape(t, m); !strings.Contains(text, `provost_build_info{goversion="go1.26.1",revision="0123abcd",version="v1.2.3"} 1`) {
		t.Errorf("build info missing:\n%s", text)
	}
	// Without one, what Go recorded: in a test binary, "dev" and this Go.
	m = telemetry.NewMetrics(telemetry.Sources{})
	f := families(t, m)["provost_build_info"]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("build info: %v", f)
	}
	labels := map[string]string{}
	for _, l := range f.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] == "" || labels["goversion"] != runtime.Version() {
		t.Errorf("build info labels %v", labels)
	}
}

// Evidence appends, the queue and readiness, from the sources.
func TestEvidenceAndReadySources(t *testing.T) {
	var observe func(time.Duration, error)
	ready := errors.New("evidence log: appends refused")
	depth := int64(3)
	m := telemetry.NewMetrics(telemetry.Sources{
		EvidenceAppends: func(f func(time.Duration, error)) { observe = f },
		EvidenceQueue:   func() int64 { return depth },
		Ready:           func(context.Context) error { return ready },
	})
	if observe == nil {
		t.Fatal("NewMetrics did not hand over its append observer")
	}
	observe(2*time.Millisecond, nil)
	observe(3*time.Second, errors.New("disk full"))
	text := scrape(t, m)
	for _, want := range []string{
		"provost_evidence_append_duration_seconds_count 2",
		`provost_evidence_append_duration_seconds_bucket{le="0.0025"} 1`,
		`provost_evidence_append_duration_seconds_bucket{le="5"} 2`,
		"provost_evidence_append_errors_total 1",
		"provost_evidence_queue_depth 3",
		"provost_ready 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	ready, depth = nil, -1
	text = scrape(t, m)
	if !strings.Contains(text, "provost_ready 1") || strings.Contains(text, "provost_evidence_queue_depth") {
		t.Errorf("ready, unknown depth:\n%s", text)
	}
}

// With a real App, every decision appends one evidence record, and the
// append is observed; the exposition passes promlint.
func TestRealAppEvidenceAndLint(t *testing.T) {
	w := admintest.New(t, admintest.Options{})
	m := telemetry.NewMetrics(telemetry.AppSources(w.App))
	c := telemetry.Instrument(w.Engine, m, nil)
	toks := []string{w.MustToken(admintest.Subject, nil), w.MustToken("svc:nobody", nil), ""}
	for _, tok := range toks {
		r := w.Request(tok)
		if tok == "" {
			r.Authorization = ""
		}
		if _, err := c.Check(transport.With(context.Background(), transport.CheckAPI), r); err != nil {
			t.Fatal(err)
		}
	}
	fams := families(t, m)
	h := fams["provost_evidence_append_duration_seconds"]
	if h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() != uint64(len(toks)) || h.GetMetric()[0].GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("append histogram: %v", h)
	}
	for name, want := range map[string]float64{"provost_evidence_append_errors_total": 0, "provost_ready": 1, "provost_evidence_queue_depth": 0} {
		if f := fams[name]; f == nil || total(f, nil) != want {
			t.Errorf("%s = %v, want %v", name, f, want)
		}
	}
	if got := total(fams["provost_decisions_total"], map[string]string{"transport": "check_api"}); got != float64(len(toks)) {
		t.Errorf("check_api decisions = %v", got)
	}
	problems, err := promlint.New(strings.NewReader(scrape(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
