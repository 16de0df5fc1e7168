package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/admin/admintest"
	"github.com/provost-dev/provost/internal/issuer"
	"github.com/provost-dev/provost/internal/telemetry"
	"github.com/provost-dev/provost/verdict"
)

func recorder() (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	sr := tracetest.NewSpanRecorder()
	return sr, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
}

func scrape(t *testing.T, m *telemetry.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestInstrumentRealEngine(t *testing.T) {
	w := admintest.New(t, admintest.Options{})
	sr, tp := recorder()
	m := telemetry.NewMetrics(telemetry.AppSources(w.App))
	c := telemetry.Instrument(w.Engine, m, tp)
	cases := []struct {
		name, tok, decision, reasons string
	}{
		{"allowed", w.MustToken(admintest.Subject, nil), "allow", ""},
		{"shadow automation", w.MustToken("svc:nobody", nil), "deny", "shadow_automation"},
		{"no credential", "", "deny", "token_missing"},
	}
	for i, tc := range cases {
		r := w.Request(tc.tok)
		if tc.tok == "" {
			r.Authorization = ""
		}
		d, err := c.Check(context.Background(), r)
		if err != nil || string(d.Outcome) != tc.decision {
			t.Fatalf("%s: %v %v", tc.name, d, err)
		}
		spans := sr.Ended()
		if len(spans) != i+1 {
			t.Fatalf("%s: %d spans", tc.name, len(spans))
		}
		s := spans[i]
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
			if tc.tok != "" && strings.Contains(kv.Value.String(), tc.tok) {
				t.Errorf("%s: attribute %s holds the credential", tc.name, kv.Key)
			}
		}
		if s.Name() != "provost.check" || attrs["provost.decision"] != tc.decision || !strings.Contains(attrs["provost.reason_codes"], tc.reasons) {
			t.Errorf("%s: span %s %v", tc.name, s.Name(), attrs)
		}
		if tc.tok != "" && attrs["provost.credential.fingerprint"] != w.App.Fingerprint(tc.tok) {
			t.Errorf("%s: fingerprint attribute %q", tc.name, attrs["provost.credential.fingerprint"])
		}
		if s.Status().Code == codes.Error {
			t.Errorf("%s: span status error", tc.name)
		}
	}
	text := scrape(t, m)
	for _, want := range []string{
		`provost_decisions_total{outcome="deny",transport="other"} 2`,
		`provost_decisions_total{outcome="allow",transport="other"} 1`,
		`provost_decision_reasons_total{outcome="deny",reason="shadow_automation"} 1`,
		`provost_decision_reasons_total{outcome="deny",reason="token_missing"} 1`,
		`provost_credential_verdicts_total{verdict="rejected"} 1`,
		`provost_credential_verdicts_total{verdict="accepted"} 2`,
		`provost_decision_duration_seconds_count 3`,
		`provost_revocations 0`,
		`provost_check_failures_total 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// failing is a Checker whose store failed: it denies and errs, as the
// Engine does when it fails closed.
type failing struct{}

func (failing) Check(context.Context, *provost.Request) (*provost.Decision, error) {
	d := &provost.Decision{}
	d.Outcome = verdict.Deny
	d.Credential.Verdict = verdict.Rejected
	return d, errors.New("store unreachable")
}

func TestInstrumentFailure(t *testing.T) {
	sr, tp := recorder()
	m := telemetry.NewMetrics(telemetry.Sources{})
	if _, err := telemetry.Instrument(failing{}, m, tp).Check(context.Background(), &provost.Request{Method: "GET"}); err == nil {
		t.Fatal("error lost")
	}
	s := sr.Ended()[0]
	if s.Status().Code != codes.Error || len(s.Events()) == 0 {
		t.Errorf("status %v events %v", s.Status(), s.Events())
	}
	text := scrape(t, m)
	if !strings.Contains(text, "provost_check_failures_total 1") || !strings.Contains(text, `provost_decisions_total{outcome="deny",transport="other"} 1`) {
		t.Errorf("metrics:\n%s", text)
	}
	// nil metrics and the global tracer provider work too.
	if _, err := telemetry.Instrument(failing{}, nil, nil).Check(context.Background(), &provost.Request{}); err == nil {
		t.Fatal("error lost")
	}
}

func TestSources(t *testing.T) {
	at := time.Unix(1900000000, 0)
	m := telemetry.NewMetrics(telemetry.Sources{
		ReplayEntries: func() int { return 7 },
		Revocations:   func(context.Context) (int, error) { return 0, errors.New("db down") },
		JWKS: func() []telemetry.JWKSStats {
			return []telemetry.JWKSStats{{Issuer: "https://i", Stats: issuer.Stats{Fetches: 5, Failures: 2, KeysDropped: 3, PrivateKeysDropped: 1, LastSuccess: at}}}
		},
	})
	text := scrape(t, m)
	for _, want := range []string{
		"provost_replay_cache_entries 7",
		`provost_jwks_fetches_total{issuer="https://i",result="success"} 3`,
		`provost_jwks_fetches_total{issuer="https://i",result="failure"} 2`,
		`provost_jwks_keys_dropped_total{issuer="https://i"} 3`,
		`provost_jwks_private_keys_dropped_total{issuer="https://i"} 1`,
		`provost_jwks_last_success_timestamp_seconds{issuer="https://i"} 1.9e+09`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "provost_revocations ") {
		t.Error("an unreadable store still gave a revocations gauge")
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	log := telemetry.NewLogger(&buf, slog.LevelInfo).With("component", "test")
	ctx := telemetry.WithRequestID(context.Background(), "req-1")
	log.InfoContext(ctx, "checked", "authorization", "Bearer abc.def.ghi", slog.Group("req", "Token", "xyz"), "fingerprint", "fp1:x")
	log.DebugContext(ctx, "hidden")
	log.Info("no id")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["request_id"] != "req-1" || rec["component"] != "test" || rec["authorization"] != "[redacted]" || rec["fingerprint"] != "fp1:x" {
		t.Errorf("record %v", rec)
	}
	if strings.Contains(buf.String(), "abc.def.ghi") || strings.Contains(buf.String(), "xyz") {
		t.Errorf("a secret was logged: %s", buf.String())
	}
	if strings.Contains(lines[1], "request_id") {
		t.Errorf("a request id without one in the context: %s", lines[1])
	}
}

func TestRequestIDMiddleware(t *testing.T) {
	cases := []struct {
		name, in string
		keep     bool
	}{
		{"kept", "abc-123_x.y:z", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"bad characters", "a b", false},
		{"injection", "x\"}{", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			h := telemetry.RequestIDMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = telemetry.RequestIDFrom(r.Context())
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tc.in != "" {
				req.Header.Set(telemetry.HeaderRequestID, tc.in)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(telemetry.HeaderRequestID)
			if got != seen || !telemetry.ValidRequestID(got) || (got == tc.in) != tc.keep {
				t.Errorf("header %q, context %q, in %q", got, seen, tc.in)
			}
		})
	}
}

func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", "a b", strings.Repeat("x", 64), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !telemetry.ValidRequestID(s) {
			return
		}
		if len(s) > 64 || strings.ContainsAny(s, " \"\\\n\r\t{}") {
			t.Fatalf("accepted %q", s)
		}
		b, _ := json.Marshal(s)
		if string(b) != `"`+s+`"` {
			t.Fatalf("%q needs escaping in JSON", s)
		}
	})
}
