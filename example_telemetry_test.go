package provost_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/stores"
)

// An embedder hands the engine its own OpenTelemetry providers and logger:
// each decision is a span "provost.check" and counts once on
// provost.decisions. A service would pass the providers it exports with
// (an OTLP exporter); this one records in memory to show what arrives.
func ExampleOptions_telemetry() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	pol, err := provost.LoadPolicy(ctx, "examples/provost.yaml")
	if err != nil {
		log.Fatal(err)
	}
	eng, err := provost.New(ctx, pol, stores.Memory(stores.Options{}), provost.Options{
		Secret:         stores.NewSecret(),
		Logger:         logger,
		TracerProvider: tp,
		MeterProvider:  mp,
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := eng.Check(ctx, &provost.Request{Method: "GET", Target: "/v1/reports"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("decision:", d.Outcome)

	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "provost.decision" || kv.Key == "provost.reason_codes" {
				fmt.Printf("span %s: %s=%s\n", s.Name(), kv.Key, kv.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "provost.decisions" {
				fmt.Println(m.Name, sum.DataPoints[0].Value)
			}
		}
	}
	// Output:
	// decision: deny
	// span provost.check: provost.decision=deny
	// span provost.check: provost.reason_codes=["token_missing"]
	// provost.decisions 1
}
