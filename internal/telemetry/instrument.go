package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/telemetry/otelattr"
)

// TracerName is the instrumentation scope of Provost's spans.
const TracerName = otelattr.Scope

// SpanCheck is the name of the span around each decision.
const SpanCheck = otelattr.SpanCheck

// Span attribute keys (package otelattr names them all).
const (
	AttrDecision    = otelattr.Decision
	AttrProvenance  = otelattr.Provenance
	AttrBinding     = otelattr.Binding
	AttrReasons     = otelattr.Reasons
	AttrVerdict     = otelattr.Verdict
	AttrFingerprint = otelattr.Fingerprint
	AttrMethod      = otelattr.Method
	AttrRevocation  = otelattr.Revocation
)

// Checker is what decides: *provost.Engine, or an Instrumented one.
type Checker interface {
	Check(ctx context.Context, r *provost.Request) (*provost.Decision, error)
}

// Instrumented is a Checker that counts and traces every decision.
type Instrumented struct {
	next    Checker
	metrics *Metrics
	tracer  trace.Tracer
	now     func() time.Time
}

// Instrument wraps c so each Check records m (nil: no metrics) and a span
// "provost.check" from tp (nil: otel.GetTracerProvider()).
func Instrument(c Checker, m *Metrics, tp trace.TracerProvider) *Instrumented {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Instrumented{next: c, metrics: m, tracer: tp.Tracer(TracerName), now: time.Now}
}

// Check implements Checker: it calls the wrapped Checker inside a span and
// records the decision. The request's target is not recorded (its query may
// hold secrets), nor is the credential: only its fingerprint.
func (i *Instrumented) Check(ctx context.Context, r *provost.Request) (*provost.Decision, error) {
	ctx, span := i.tracer.Start(ctx, SpanCheck, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(AttrMethod.String(r.Method)))
	defer span.End()
	start := i.now()
	d, err := i.next.Check(ctx, r)
	if i.metrics != nil {
		i.metrics.Observe(ctx, d, i.now().Sub(start), err)
	}
	if d != nil && span.IsRecording() {
		span.SetAttributes(DecisionAttributes(d)...)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "decision failed closed")
	}
	return d, err
}

// DecisionAttributes are the span attributes describing d (otelattr.Of).
func DecisionAttributes(d *provost.Decision) []attribute.KeyValue { return otelattr.Of(d) }
