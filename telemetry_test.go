package provost_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/provost-dev/provost"
	transportname "github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/stores"
)

// An embedder's TracerProvider gets one span provost.check per decision,
// whatever the outcome, and its MeterProvider counts each decision once
// (and each of its reasons on the reasons counter); neither ever holds the
// credential.
func TestEngineTelemetryProviders(t *testing.T) {
	w, a := newWorld(t)
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	ctx := context.Background()
	eng, err := provost.New(ctx, a.Engine.Policy(), stores.Memory(stores.Options{Now: w.Now}),
		provost.Options{Secret: stores.NewSecret(), Now: w.Now, TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	tok := w.MustToken("svc:reports", nil)
	cases := []struct {
		name, auth, transport, outcome, reason string
	}{
		{"allowed", "Bearer " + tok, "forward_auth", "allow", ""},
		{"no credential", "", "other", "deny", "token_missing"},
		{"not a token", "Bearer not-a-jwt", "check_api", "deny", ""},
	}
	reasons := 0
	for i, tc := range cases {
		cctx := ctx
		if tc.transport != "other" {
			cctx = transportname.With(ctx, transportname.Name(tc.transport))
		}
		d, err := eng.Check(cctx, &provost.Request{Method: "GET", Target: "/r?access_token=" + tok, Authorization: tc.auth, Peer: addr("10.40.1.1"), ID: "req-" + tc.name[:3]})
		if err != nil || string(d.Outcome) != tc.outcome {
			t.Fatalf("%s: %s %v", tc.name, d.Outcome, err)
		}
		reasons += len(d.Reasons)
		spans := sr.Ended()
		if len(spans) != i+1 {
			t.Fatalf("%s: %d spans", tc.name, len(spans))
		}
		s := spans[i]
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
			if strings.Contains(kv.Value.String(), strings.Split(tok, ".")[2]) {
				t.Errorf("%s: attribute %s holds the credential", tc.name, kv.Key)
			}
		}
		if s.Name() != "provost.check" || attrs["provost.decision"] != tc.outcome || attrs["provost.transport"] != tc.transport ||
			attrs["provost.request_id"] != "req-"+tc.name[:3] || attrs["http.request.method"] != "GET" || !strings.Contains(attrs["provost.reason_codes"], tc.reason) {
			t.Errorf("%s: span %s %v", tc.name, s.Name(), attrs)
		}
		if s.InstrumentationScope().Name != "github.com/provost-dev/provost" {
			t.Errorf("%s: scope %q", tc.name, s.InstrumentationScope().Name)
		}
	}
	if reasons <= len(cases)-1 {
		t.Fatalf("the denials carry %d reasons: the reasons counter would prove nothing", reasons)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	var histCount uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					sums[m.Name] += dp.Value
					if v, ok := dp.Attributes.Value("provost.decision"); m.Name == "provost.decisions" && (!ok || !slices.Contains([]string{"allow", "deny"}, v.AsString())) {
						t.Errorf("provost.decisions point without an outcome: %v", dp.Attributes)
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					histCount += dp.Count
				}
			}
		}
	}
	if sums["provost.decisions"] != int64(len(cases)) || sums["provost.decision.reasons"] != int64(reasons) || histCount != uint64(len(cases)) {
		t.Errorf("decisions %d (want %d), reasons %d (want %d), durations %d", sums["provost.decisions"], len(cases), sums["provost.decision.reasons"], reasons, histCount)
	}
	if sums["provost.check.failures"] != 0 {
		t.Errorf("failures %d", sums["provost.check.failures"])
	}
}

// Decisions made at once from many goroutines and transports are each
// counted once.
func TestEngineTelemetryConcurrent(t *testing.T) {
	w, a := newWorld(t)
	reader := sdkmetric.NewManualReader()
	ctx := context.Background()
	eng, err := provost.New(ctx, a.Engine.Policy(), stores.Memory(stores.Options{Now: w.Now}),
		provost.Options{Secret: stores.NewSecret(), Now: w.Now, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 20
	names := transportname.All()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			cctx := transportname.With(ctx, names[g%len(names)])
			for range each {
				if _, err := eng.Check(cctx, &provost.Request{Method: "GET", Target: "/r", Peer: addr("10.40.1.1")}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	points := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "provost.decisions" {
				for _, dp := range s.DataPoints {
					total += dp.Value
					points++
				}
			}
		}
	}
	if total != goroutines*each || points != len(names) {
		t.Errorf("provost.decisions %d in %d series, want %d in %d", total, points, goroutines*each, len(names))
	}
}
