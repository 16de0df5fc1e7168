package admin_test

import (
	"bytes"
	"context"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/revocation"
	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/verdict"
)

func TestMetricsAfterChecks(t *testing.T) {
	e := newEnv(t, admintest.Options{})
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	checker := telemetry.Instrument(e.w.Engine, e.m, tp)
	ctx := context.Background()
	good := e.w.MustToken(admintest.Subject, nil)
	shadow := e.w.MustToken("svc:unknown", nil)
	for _, tok := range []string{good, good, shadow} {
		if _, err := checker.Check(ctx, e.w.Request(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.w.App.Revocations.Add(ctx, revocationFor(e, good)); err != nil {
		t.Fatal(err)
	}
	resp, body := e.call(t, e.w.HTTPClient(), "token", "GET", "/metrics", "")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	if got := sum(fams["provost_decisions_total"], map[string]string{"outcome": "allow"}); got != 2 {
		t.Errorf("allow decisions = %v, want 2", got)
	}
	if got := sum(fams["provost_decisions_total"], nil); got != 3 {
		t.Errorf("decisions = %v, want 3", got)
	}
	if got := sum(fams["provost_decision_reasons_total"], map[string]string{"outcome": "deny", "reason": "shadow_automation"}); got != 1 {
		t.Errorf("deny/shadow_automation = %v, want 1", got)
	}
	if got := sum(fams["provost_credential_verdicts_total"], map[string]string{"verdict": "accepted"}); got != 3 {
		t.Errorf("accepted verdicts = %v, want 3", got)
	}
	if h := fams["provost_decision_duration_seconds"]; h == nil || h.Metric[0].GetHistogram().GetSampleCount() != 3 {
		t.Errorf("duration histogram: %v", h)
	}
	if got := sum(fams["provost_revocations"], nil); got != 1 {
		t.Errorf("revocations gauge = %v, want 1", got)
	}
	if fams["provost_replay_cache_entries"] == nil || fams["go_goroutines"] == nil {
		t.Error("replay gauge or Go collector missing")
	}
	if bytes.Contains(body, []byte(good)) {
		t.Error("a credential appears in the metrics")
	}
	// This scrape itself is counted once it has finished: scrape again.
	_, body = e.call(t, e.w.HTTPClient(), "token", "GET", "/metrics", "")
	fams, _ = p.TextToMetricFamilies(bytes.NewReader(body))
	if got := sum(fams["provost_admin_requests_total"], map[string]string{"route": "GET /metrics", "code": "200"}); got < 1 {
		t.Errorf("admin requests counter = %v", got)
	}

	spans := sr.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range spans[0].Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
		if bytes.Contains([]byte(kv.Value.String()), []byte(good)) {
			t.Errorf("span attribute %s holds the credential", kv.Key)
		}
	}
	if spans[0].Name() != telemetry.SpanCheck || attrs["provost.decision"] != string(verdict.Allow) ||
		attrs["provost.binding"] != "reports" || attrs["provost.credential.fingerprint"] != e.w.App.Fingerprint(good) ||
		attrs["provost.provenance"] != string(verdict.Verified) {
		t.Errorf("span %s attributes %v", spans[0].Name(), attrs)
	}
}

func revocationFor(e *env, tok string) revocation.Revocation {
	return revocation.Revocation{Kind: "fingerprint", Value: e.w.App.Fingerprint(tok)}
}

// sum adds the values of the family's series whose labels include want.
func sum(f *dto.MetricFamily, want map[string]string) float64 {
	if f == nil {
		return -1
	}
	var total float64
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		}
	}
	return total
}
