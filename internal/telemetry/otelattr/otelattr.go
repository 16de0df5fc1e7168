package otelattr

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/provost-dev/provost/verdict"
)

// Scope is the instrumentation scope of Provost's tracer and meter.
const Scope = "github.com/provost-dev/provost"

// SpanCheck is the name of the span around each decision.
const SpanCheck = "provost.check"

// Span attribute keys, also the attributes of the instruments.
const (
	Decision    = attribute.Key("provost.decision")
	Provenance  = attribute.Key("provost.provenance")
	Binding     = attribute.Key("provost.binding")
	Reasons     = attribute.Key("provost.reason_codes")
	Reason      = attribute.Key("provost.reason_code") // one reason, on provost.decision.reasons
	Verdict     = attribute.Key("provost.credential.verdict")
	Fingerprint = attribute.Key("provost.credential.fingerprint")
	Revocation  = attribute.Key("provost.revocation_id")
	RequestID   = attribute.Key("provost.request_id")
	Transport   = attribute.Key("provost.transport")
	Method      = attribute.Key("http.request.method")
)

// The decision instruments. Their attributes are bounded: an outcome, a
// transport name, a reason code.
const (
	// MetricDecisions counts decisions, once each, by Decision and
	// Transport.
	MetricDecisions = "provost.decisions"
	// MetricReasons counts the reason codes of decisions, by Decision and
	// Reason: a decision with two reasons counts twice here.
	MetricReasons = "provost.decision.reasons"
	// MetricDuration is the time of one decision, in seconds, by
	// Transport.
	MetricDuration = "provost.decision.duration"
	// MetricFailures counts decisions where one of Provost's own parts
	// failed and it denied (fail closed), by Transport.
	MetricFailures = "provost.check.failures"
)

// DurationBuckets are MetricDuration's histogram boundaries, in seconds:
// those of provost_decision_duration_seconds.
var DurationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// Of is the span attributes describing d: its outcome, provenance,
// credential verdict, reason codes, and when present its binding, the
// credential's fingerprint, the revocation it wrote and its request id.
func Of(d *verdict.Decision) []attribute.KeyValue {
	reasons := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		reasons = append(reasons, string(r.Code))
	}
	kv := make([]attribute.KeyValue, 0, 8)
	kv = append(kv,
		Decision.String(string(d.Outcome)),
		Provenance.String(string(d.Provenance)),
		Verdict.String(string(d.Credential.Verdict)),
		Reasons.StringSlice(reasons),
	)
	if d.Binding != "" {
		kv = append(kv, Binding.String(d.Binding))
	}
	if d.Credential.Fingerprint != "" {
		kv = append(kv, Fingerprint.String(d.Credential.Fingerprint))
	}
	if d.RevocationID != "" {
		kv = append(kv, Revocation.String(d.RevocationID))
	}
	if d.RequestID != "" {
		kv = append(kv, RequestID.String(d.RequestID))
	}
	return kv
}
