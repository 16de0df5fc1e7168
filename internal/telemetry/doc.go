// Package telemetry observes Provost: Prometheus metrics on a registry of
// its own (never the global default), an OpenTelemetry span around each
// decision, the OTLP export the OTEL_* environment variables ask for
// (StartExport), and the redacting slog logger (JSON or text) that carries
// a request id. The engine itself records the span provost.check and the
// decision instruments on provost.Options' providers; the names are in
// package otelattr, and the request log schema in package requestlog.
//
// Transports call the engine through Instrument, so every decision is
// counted and traced in one place:
//
//	m := telemetry.NewMetrics(telemetry.EngineSources(eng))
//	checker := telemetry.Instrument(eng, m, nil) // nil: otel.GetTracerProvider()
//	d, err := checker.Check(ctx, req)
//	http.Handle("GET /metrics", m.Handler())
//
// Nothing here ever sees a raw credential: spans and metrics carry the
// decision, its reason codes and the credential's fingerprint only.
package telemetry
