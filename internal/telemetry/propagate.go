package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// RemoteParent returns ctx carrying the W3C trace context (traceparent,
// tracestate) the caller sent in c, so the span of the decision made with
// it joins the caller's trace. A missing or malformed traceparent leaves
// ctx as it is: the decision starts a trace of its own. It reads the
// headers only (no baggage), whatever the process-wide propagator is.
func RemoteParent(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	return propagation.TraceContext{}.Extract(ctx, c)
}
