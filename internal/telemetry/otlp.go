package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// ServiceName is the OpenTelemetry service.name of Provost's spans and
// metrics unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says
// otherwise.
const ServiceName = "provost"

// Export is the OpenTelemetry export of a running Provost, set up from the
// standard OTEL_* environment variables by StartExport. A signal the
// environment does not ask for is off: its provider is nil and nothing is
// started for it.
type Export struct {
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider
}

// StartExport reads the environment and starts the exporters it asks for,
// through go.opentelemetry.io/contrib/exporters/autoexport:
//
//   - traces when OTEL_TRACES_EXPORTER is otlp or console, or is unset
//     while OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//     is set;
//   - metrics (the engine's decision instruments) likewise with
//     OTEL_METRICS_EXPORTER and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT;
//     OTEL_METRICS_EXPORTER=prometheus is refused: the admin API serves
//     /metrics;
//   - nothing at all when OTEL_SDK_DISABLED is true.
//
// The OTLP exporters read their own variables (OTEL_EXPORTER_OTLP_PROTOCOL
// grpc or http/protobuf, the default; _ENDPOINT, _HEADERS, _TIMEOUT,
// _COMPRESSION, _CERTIFICATE and their per-signal forms), and the SDK its
// own (OTEL_TRACES_SAMPLER, OTEL_BSP_*, OTEL_METRIC_EXPORT_INTERVAL). The
// resource is service.name "provost" and service.version version, then
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over them.
//
// Call Shutdown when the program stops: it sends what is buffered.
func StartExport(ctx context.Context, version string) (*Export, error) {
	x := &Export{}
	traces, metrics := exportWanted(os.Getenv)
	if !traces && !metrics {
		return x, nil
	}
	if metrics && strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER")) == "prometheus" {
		return nil, errors.New("OTEL_METRICS_EXPORTER=prometheus: Provost serves Prometheus metrics at the admin API's /metrics; use otlp, console or none")
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", ServiceName), attribute.String("service.version", version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	if traces {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("OpenTelemetry traces (OTEL_TRACES_EXPORTER): %w", err)
		}
		x.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	}
	if metrics {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("OpenTelemetry metrics (OTEL_METRICS_EXPORTER): %w", err), x.Shutdown(ctx))
		}
		x.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r), sdkmetric.WithResource(res))
	}
	return x, nil
}

// exportWanted reports which signals the environment asks to export.
func exportWanted(getenv func(string) string) (traces, metrics bool) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, false
	}
	wanted := func(exporter, endpoint string) bool {
		switch v := strings.TrimSpace(getenv(exporter)); v {
		case "":
			return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv(endpoint) != ""
		case "none":
			return false
		default:
			return true // otlp, console; autoexport refuses other values
		}
	}
	return wanted("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
		wanted("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
}

// TracerProvider is the provider of exported spans, or nil when traces
// are off.
func (x *Export) TracerProvider() trace.TracerProvider {
	if x.tp == nil {
		return nil
	}
	return x.tp
}

// MeterProvider is the provider of exported metrics, or nil when metrics
// are off.
func (x *Export) MeterProvider() metric.MeterProvider {
	if x.mp == nil {
		return nil
	}
	return x.mp
}

// Enabled reports which signals are exported.
func (x *Export) Enabled() (traces, metrics bool) { return x.tp != nil, x.mp != nil }

// Shutdown sends what is buffered and stops the exporters; ctx bounds how
// long it may take.
func (x *Export) Shutdown(ctx context.Context) error {
	var errs []error
	if x.tp != nil {
		errs = append(errs, x.tp.Shutdown(ctx))
	}
	if x.mp != nil {
		errs = append(errs, x.mp.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
