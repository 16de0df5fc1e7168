package telemetry

import (
	"context"
	"testing"
)

// The OTEL_* variables turn each signal's export on, and nothing else
// does: Provost exports nothing by default.
func TestExportWanted(t *testing.T) {
	for _, tc := range []struct {
		name            string
		env             map[string]string
		traces, metrics bool
	}{
		{"nothing set", nil, false, false},
		{"service name only", map[string]string{"OTEL_SERVICE_NAME": "p"}, false, false},
		{"resource attributes only", map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=b"}, false, false},
		{"protocol only", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, true, false},
		{"metrics endpoint", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://c:4318/v1/metrics"}, false, true},
		{"traces exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true, false},
		{"metrics exporter console", map[string]string{"OTEL_METRICS_EXPORTER": "console"}, false, true},
		{"endpoint, traces none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false, true},
		{"endpoint, both none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}, false, false},
		{"SDK disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, false, false},
		{"SDK not disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "false"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			traces, metrics := exportWanted(func(k string) string { return tc.env[k] })
			if traces != tc.traces || metrics != tc.metrics {
				t.Errorf("traces %v metrics %v, want %v %v", traces, metrics, tc.traces, tc.metrics)
			}
		})
	}
}

// With none of the variables set, StartExport starts nothing: no
// providers, and the engine keeps the otel globals (no-ops).
func TestStartExportOff(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("OTEL_SERVICE_NAME", "provost-test")
	x, err := StartExport(context.Background(), "v0")
	if err != nil {
		t.Fatal(err)
	}
	if traces, metrics := x.Enabled(); traces || metrics || x.TracerProvider() != nil || x.MeterProvider() != nil || x.tp != nil || x.mp != nil {
		t.Errorf("export set up: %v %v %v %v", traces, metrics, x.TracerProvider(), x.MeterProvider())
	}
	if err := x.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}
