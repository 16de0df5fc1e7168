// Package otelattr names what Provost records in OpenTelemetry: its
// instrumentation scope, the span around each decision and that span's
// attributes, and the decision instruments. The engine records them
// (provost.Options.TracerProvider, MeterProvider) and internal/telemetry
// reuses them, so a dashboard or a trace query finds one set of names.
//
// Nothing here ever carries a raw credential: a decision is described by
// its outcome, reason codes, binding and the credential's fingerprint.
package otelattr
