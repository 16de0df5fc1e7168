// Package telemetry observes Provost: Prometheus metrics on a registry of
// its own (never the global default), an OpenTelemetry span around each
// decision, and a JSON slog logger that carries a request id.
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
