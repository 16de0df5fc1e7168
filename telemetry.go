package provost

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/provost-dev/provost/internal/telemetry/otelattr"
	"github.com/provost-dev/provost/internal/transport"
)

// observer records each decision of an Engine in OpenTelemetry: the span
// provost.check from Options.TracerProvider and the decision instruments
// on Options.MeterProvider. It records no raw credential: the span and the
// instruments carry the outcome, the reason codes, the binding and the
// credential's fingerprint.
type observer struct {
	tracer    trace.Tracer
	decisions metric.Int64Counter
	reasons   metric.Int64Counter
	duration  metric.Float64Histogram
	failures  metric.Int64Counter
	// sets holds the instruments' options by attribute set, read without
	// a lock and copied to add a set; the sets are bounded (outcomes,
	// transports, reason codes).
	sets  atomic.Pointer[map[setKey]*measureOpts]
	setMu sync.Mutex
}

// measureOpts are the options of one attribute set, made once so that
// recording allocates no option slice.
type measureOpts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// spanStart are the options of every span provost.check.
var spanStart = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal)}

type setKey struct{ outcome, transport, reason string }

func newObserver(tp trace.TracerProvider, mp metric.MeterProvider) (*observer, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &observer{tracer: tp.Tracer(otelattr.Scope)}
	m := mp.Meter(otelattr.Scope)
	var err error
	if o.decisions, err = m.Int64Counter(otelattr.MetricDecisions, metric.WithUnit("{decision}"),
		metric.WithDescription("Decisions by outcome and transport; each decision counts once.")); err != nil {
		return nil, fmt.Errorf("provost: Options.MeterProvider: %w", err)
	}
	if o.reasons, err = m.Int64Counter(otelattr.MetricReasons, metric.WithUnit("{reason}"),
		metric.WithDescription("Reason codes of decisions, by outcome and reason code; a decision counts once per reason.")); err != nil {
		return nil, fmt.Errorf("provost: Options.MeterProvider: %w", err)
	}
	if o.duration, err = m.Float64Histogram(otelattr.MetricDuration, metric.WithUnit("s"),
		metric.WithDescription("Time taken by one decision."),
		metric.WithExplicitBucketBoundaries(otelattr.DurationBuckets...)); err != nil {
		return nil, fmt.Errorf("provost: Options.MeterProvider: %w", err)
	}
	if o.failures, err = m.Int64Counter(otelattr.MetricFailures, metric.WithUnit("{decision}"),
		metric.WithDescription("Decisions where one of Provost's own parts failed and it denied (fail closed).")); err != nil {
		return nil, fmt.Errorf("provost: Options.MeterProvider: %w", err)
	}
	return o, nil
}

// check runs c for r inside the span and records its decision.
func (o *observer) check(ctx context.Context, c Checker, r *Request) (*Decision, error) {
	ctx, span := o.tracer.Start(ctx, otelattr.SpanCheck, spanStart...)
	defer span.End()
	start := time.Now()
	d, err := Judge(ctx, c, r)
	took := time.Since(start)
	tr := string(transport.From(ctx))
	if span.IsRecording() {
		span.SetAttributes(otelattr.Method.String(r.Method), otelattr.Transport.String(tr))
		span.SetAttributes(otelattr.Of(d)...)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "decision failed closed")
		}
	}
	outcome := string(d.Outcome)
	o.decisions.Add(ctx, 1, o.opts(setKey{outcome: outcome, transport: tr}).add...)
	for _, rs := range d.Reasons {
		o.reasons.Add(ctx, 1, o.opts(setKey{outcome: outcome, reason: string(rs.Code)}).add...)
	}
	byTransport := o.opts(setKey{transport: tr})
	o.duration.Record(ctx, took.Seconds(), byTransport.rec...)
	if err != nil {
		o.failures.Add(ctx, 1, byTransport.add...)
	}
	return d, err
}

// opts returns the measurement options of k's attribute set (its empty
// fields left out), made once per distinct k.
func (o *observer) opts(k setKey) *measureOpts {
	if m := o.sets.Load(); m != nil {
		if opts := (*m)[k]; opts != nil {
			return opts
		}
	}
	o.setMu.Lock()
	defer o.setMu.Unlock()
	old := map[setKey]*measureOpts{}
	if m := o.sets.Load(); m != nil {
		if opts := (*m)[k]; opts != nil {
			return opts
		}
		old = *m
	}
	kv := make([]attribute.KeyValue, 0, 2)
	if k.outcome != "" {
		kv = append(kv, otelattr.Decision.String(k.outcome))
	}
	if k.transport != "" {
		kv = append(kv, otelattr.Transport.String(k.transport))
	}
	if k.reason != "" {
		kv = append(kv, otelattr.Reason.String(k.reason))
	}
	opt := metric.WithAttributeSet(attribute.NewSet(kv...))
	opts := &measureOpts{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	m := make(map[setKey]*measureOpts, len(old)+1)
	maps.Copy(m, old)
	m[k] = opts
	o.sets.Store(&m)
	return opts
}
