package telemetry

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// RemoteParent takes the caller's span from a traceparent header however
// it is carried (HTTP headers for serve and proxy, Envoy's lower-case
// header map for ext_authz), and nothing from a malformed one.
func TestRemoteParent(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	h := http.Header{}
	h.Set("Traceparent", tp)
	cases := []struct {
		name    string
		carrier propagation.TextMapCarrier
		want    string // trace id, "" for none
	}{
		{"HTTP header", propagation.HeaderCarrier(h), "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"ext_authz header map", propagation.MapCarrier{"traceparent": tp}, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"none", propagation.MapCarrier{}, ""},
		{"malformed", propagation.MapCarrier{"traceparent": "00-zz-00f067aa0ba902b7-01"}, ""},
		{"all-zero trace id", propagation.MapCarrier{"traceparent": "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := trace.SpanContextFromContext(RemoteParent(context.Background(), c.carrier))
			got := ""
			if sc.IsValid() {
				got = sc.TraceID().String()
				if !sc.IsRemote() || sc.SpanID().String() != "00f067aa0ba902b7" {
					t.Errorf("span context %+v, want the caller's span, remote", sc)
				}
			}
			if got != c.want {
				t.Errorf("trace %q, want %q", got, c.want)
			}
		})
	}
}
