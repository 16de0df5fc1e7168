package main

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, `provost serve` exports a span
// provost.check for each decision, and its decision counts, over
// OTLP/HTTP: a real exporter posts them to a collector in the test, which
// decodes them. What is buffered is sent when serve stops. No attribute
// holds the credential, although it was sent in the header and the query.
func TestServeExportsOTLP(t *testing.T) {
	col := newCollector(t)
	setOTelEnv(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_SERVICE_NAME":           "provost-under-test",
	})
	w := newTelemetryWorld(t, "")
	run := startLogged(t, cmdServe, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0")
	addr := run.waitAddr(t, "listening")
	// The allowed request comes with the caller's trace context: its span
	// must join that trace as a child of the caller's span.
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	allowedID, allowed := postCheckTraced(t, addr, w.token, "10.40.2.2", "00-"+callerTrace+"-"+callerSpan+"-01")
	deniedID, denied := postCheck(t, addr, "not-a-token", "10.40.2.2")
	if allowed != "allow" || denied != "deny" {
		t.Fatalf("decisions %s, %s", allowed, denied)
	}
	if code := run.stop(t); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	if !slices.ContainsFunc(run.logged(), func(l string) bool { return strings.Contains(l, `"msg":"OpenTelemetry export on"`) }) {
		t.Error("serve did not say the export is on")
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	secret := w.token[strings.LastIndex(w.token, ".")+1:] // the signature: in no attribute
	spans := map[string]map[string]string{}               // by provost.request_id
	for _, req := range col.traces {
		for _, rs := range req.ResourceSpans {
			res := attrs(rs.GetResource().GetAttributes())
			if res["service.name"] != "provost-under-test" || res["service.version"] == "" {
				t.Errorf("resource %v", res)
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					a := attrs(s.Attributes)
					for _, e := range s.Events {
						for k, v := range attrs(e.Attributes) {
							a["event."+k] = v
						}
					}
					for k, v := range a {
						if strings.Contains(v, secret) || strings.Contains(v, w.token) {
							t.Errorf("span %s: attribute %s holds the credential", s.Name, k)
						}
					}
					if s.Name == "provost.check" && ss.GetScope().GetName() == "github.com/provost-dev/provost" {
						a["trace_id"], a["parent_span_id"] = hex.EncodeToString(s.TraceId), hex.EncodeToString(s.ParentSpanId)
						spans[a["provost.request_id"]] = a
					}
				}
			}
		}
	}
	for _, tc := range []struct{ id, decision, verdict string }{
		{allowedID, "allow", "accepted"},
		{deniedID, "deny", "rejected"},
	} {
		a := spans[tc.id]
		if a == nil {
			t.Errorf("no span provost.check for request %s; spans by request id: %v", tc.id, spans)
			continue
		}
		if a["provost.decision"] != tc.decision || a["provost.credential.verdict"] != tc.verdict ||
			a["provost.transport"] != "check_api" || a["http.request.method"] != "GET" {
			t.Errorf("request %s: span attributes %v", tc.id, a)
		}
	}
	if a := spans[allowedID]; a != nil && (a["trace_id"] != callerTrace || a["parent_span_id"] != callerSpan) {
		t.Errorf("allowed span: trace %s parent %s, want the caller's trace %s and span %s", a["trace_id"], a["parent_span_id"], callerTrace, callerSpan)
	}
	if a := spans[deniedID]; a != nil && (a["trace_id"] == callerTrace || a["parent_span_id"] != "") {
		t.Errorf("denied span (no traceparent sent): trace %s parent %q, want a trace of its own", a["trace_id"], a["parent_span_id"])
	}
	if a := spans[allowedID]; a != nil && (!strings.HasPrefix(a["provost.credential.fingerprint"], "fp1:") || a["provost.binding"] != "reports") {
		t.Errorf("allowed span: fingerprint %q binding %q", a["provost.credential.fingerprint"], a["provost.binding"])
	}

	var decisions int64
	for _, req := range col.metrics {
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name == "provost.decisions" {
						for _, dp := range m.GetSum().GetDataPoints() {
							decisions += dp.GetAsInt()
						}
					}
				}
			}
		}
	}
	if decisions != 2 {
		t.Errorf("provost.decisions exported %d, want 2 (%d metric exports)", decisions, len(col.metrics))
	}
	if len(col.other) != 0 {
		t.Errorf("posts to %v", col.other)
	}
}

// Without the OTEL_* variables that ask for it, serve sets up no export:
// it says nothing about one, and a collector named by an endpoint whose
// exporters are "none" receives nothing.
func TestServeWithoutOTLP(t *testing.T) {
	col := newCollector(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"no variables", nil},
		{"a service name only", map[string]string{"OTEL_SERVICE_NAME": "provost-under-test"}},
		{"exporters none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL, "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}},
		{"SDK disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL, "OTEL_SDK_DISABLED": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setOTelEnv(t, tc.env)
			w := newTelemetryWorld(t, "")
			run := startLogged(t, cmdServe, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0")
			addr := run.waitAddr(t, "listening")
			if _, d := postCheck(t, addr, w.token, "10.40.2.2"); d != "allow" {
				t.Fatalf("decision %s", d)
			}
			if code := run.stop(t); code != exitOK {
				t.Fatalf("serve exited %d", code)
			}
			for _, l := range run.logged() {
				if strings.Contains(l, "OpenTelemetry") {
					t.Errorf("serve logged %s", l)
				}
			}
			if n := col.received(); n != 0 {
				t.Errorf("the collector received %d exports", n)
			}
		})
	}
}

// A misspelt exporter stops serve at start, saying why.
func TestServeOTLPBadExporter(t *testing.T) {
	for _, tc := range []struct{ name, key, value, want string }{
		{"unknown traces exporter", "OTEL_TRACES_EXPORTER", "jaeger", "OTEL_TRACES_EXPORTER"},
		{"prometheus metrics exporter", "OTEL_METRICS_EXPORTER", "prometheus", "admin API"},
		{"unknown protocol", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_TRACES_EXPORTER"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setOTelEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", tc.key: tc.value})
			w := newTelemetryWorld(t, "")
			run := startLogged(t, cmdServe, "--config", w.ConfigFile(), "--listen", "127.0.0.1:0")
			var code int
			select {
			case code = <-run.code:
				run.code <- code
			case <-time.After(20 * time.Second):
				t.Fatal("serve did not stop")
			}
			time.Sleep(50 * time.Millisecond)
			logs := strings.Join(run.logged(), "\n")
			if code != exitUsage || !strings.Contains(logs, tc.want) || strings.Contains(logs, `"msg":"listening"`) {
				t.Errorf("exit %d, logs:\n%s", code, logs)
			}
		})
	}
}

// attrs flattens OTLP attributes to strings (arrays as JSON).
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch {
		case v.GetArrayValue() != nil:
			var vals []string
			for _, e := range v.GetArrayValue().GetValues() {
				vals = append(vals, e.GetStringValue())
			}
			b, _ := json.Marshal(vals)
			out[kv.Key] = string(b)
		default:
			out[kv.Key] = v.GetStringValue()
		}
	}
	return out
}
